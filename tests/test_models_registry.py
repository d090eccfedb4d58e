"""Registry: versions newest first, one active per task, activate, rollback, delete."""

from __future__ import annotations

import pytest

from djml.config import Config
from djml.models import registry
from djml.models.features import load_rows
from djml.models.estimators import Estimator
from djml.models.features import TrackFeatures
from models_support import track_library


@pytest.fixture
def setup(tmp_path):
    library, truth = track_library(tmp_path, per_bucket=4)
    config = Config(config_path=tmp_path / "config.toml", data_dir=tmp_path / "data")
    rows = load_rows(library.conn, sorted(truth))
    labels = [truth[r.id] for r in rows]

    est = Estimator("bucket", "rf", TrackFeatures(), params={"n_estimators": 3}).fit(rows, labels)

    def new(activate=True, metrics=None):
        return registry.register(library, config, est, metrics or {}, activate=activate)

    return library, config, new


def active_version(library, task="bucket"):
    row = registry.active(library.conn, task)
    return row and row["version"]


def test_versions_are_listed_newest_first_with_one_active(setup):
    library, config, new = setup
    v1, v2, v3 = new(), new(), new()
    assert [m["version"] for m in registry.list_models(library.conn, "bucket")] == [v3, v2, v1]
    assert [m["active"] for m in registry.list_models(library.conn)] == [True, False, False]
    assert all(v.startswith("bucket-") for v in (v1, v2, v3)) and len({v1, v2, v3}) == 3
    assert (config.models_dir / f"{v1}.pkl").exists()


def test_activate_and_rollback(setup):
    library, _, new = setup
    v1, v2, v3 = new(), new(), new()
    registry.activate(library, v1)
    assert active_version(library) == v1
    registry.activate(library, v3)
    assert registry.rollback(library, "bucket")["version"] == v2
    assert registry.rollback(library, "bucket")["version"] == v1
    with pytest.raises(registry.RegistryError, match="oldest"):
        registry.rollback(library, "bucket")
    assert active_version(library) == v1


def test_rollback_skips_rejected_versions(setup):
    library, _, new = setup
    v1 = new()
    new(activate=False, metrics={"rejected": True})
    v3 = new()
    assert active_version(library) == v3
    assert registry.rollback(library, "bucket")["version"] == v1


def test_delete_refuses_active_and_removes_file(setup):
    library, config, new = setup
    v1, v2 = new(), new()
    with pytest.raises(registry.RegistryError, match="active"):
        registry.delete(library, v2)
    registry.delete(library, v1)
    assert not (config.models_dir / f"{v1}.pkl").exists()
    assert [m["version"] for m in registry.list_models(library.conn)] == [v2]
    with pytest.raises(registry.RegistryError, match="no model version"):
        registry.activate(library, v1)


def test_best_by_metric(setup):
    library, _, new = setup
    new(metrics={"holdout_accuracy": 0.7})
    best = new(metrics={"holdout_accuracy": 0.9})
    new(metrics={"holdout_accuracy": 0.8})
    assert registry.best_by_metric(library.conn, "bucket")["version"] == best


def test_shipped_model_is_registered_once_and_activated(setup):
    library, _, _ = setup
    row = registry.ensure_shipped(library)
    assert row["active"] and row["path"].startswith(registry.PACKAGE_PREFIX)
    registry.ensure_shipped(library)
    assert len(registry.list_models(library.conn, "sample_type")) == 1


def test_preload_loads_what_the_first_prediction_would_load(tmp_path, monkeypatch):
    """The daemon preloads while files settle (reader thread, read-only); the first
    prediction then finds the model that ensure_shipped activates already loaded."""
    from djml import db
    from djml.library import Library

    monkeypatch.setattr(registry, "_cache", {})
    conn = db.connect(tmp_path / "lib.db")
    try:
        assert registry.active(conn, "sample_type") is None          # a fresh library
        assert registry.preload(conn) == 1
        assert registry.active(conn, "sample_type") is None          # nothing written
        row = registry.ensure_shipped(Library(conn))
        assert row is not None and list(registry._cache) == [row["version"]]
        assert registry.preload(conn) == 0                           # loaded once
    finally:
        conn.close()
