"""Estimators: train / predict / save / load round trip with metadata; corrupt files."""

from __future__ import annotations

import numpy as np
import pytest

from djml.models.estimators import Estimator, ModelFileError
from djml.models.features import FeatureError, load_rows
from djml.models.service import make_estimator
from models_support import track_library


@pytest.fixture
def tracks(tmp_path):
    library, truth = track_library(tmp_path, per_bucket=10)
    rows = load_rows(library.conn, sorted(truth), spaces=("audio", "rhythm"))
    return rows, [truth[r.id] for r in rows]


@pytest.mark.parametrize("backend", ["rf", "hybrid"])
def test_round_trip_keeps_predictions_and_metadata(tmp_path, tracks, backend):
    rows, labels = tracks
    est = make_estimator("genre" if backend == "hybrid" else "bucket", backend)
    est.fit(rows[:24], labels[:24])
    proba = est.predict_proba(rows[24:])
    assert proba.shape == (len(rows) - 24, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(np.array(est.predict(rows[24:])) == np.array(labels[24:])) >= 0.8

    digest = est.save(tmp_path / "m.pkl")
    loaded = Estimator.load(tmp_path / "m.pkl")
    np.testing.assert_allclose(loaded.predict_proba(rows[24:]), proba, atol=1e-6)
    meta = loaded.metadata
    assert meta["classes"] == sorted(set(labels)) and meta["n_train"] == 24
    assert len(meta["training_hash"]) == 64 and len(digest) == 64
    assert meta["features"]["names"] == est.features.names
    assert {"numpy", "scikit-learn", "torch", "python"} <= set(meta["versions"])


def test_training_hash_depends_on_labels(tracks):
    rows, labels = tracks
    a = make_estimator("bucket", "rf").fit(rows, labels)
    flipped = labels[:-1] + [next(l for l in set(labels) if l != labels[-1])]
    b = make_estimator("bucket", "rf").fit(rows, flipped)
    assert a.metadata["training_hash"] != b.metadata["training_hash"]


def test_key_is_encoded_on_the_camelot_circle(tracks):
    from djml.models.features import key_circle
    from djml import keys

    eight_a, nine_a, two_a = (key_circle(keys.parse(k)) for k in ("8A", "9A", "2A"))
    near = np.hypot(eight_a[0] - nine_a[0], eight_a[1] - nine_a[1])
    far = np.hypot(eight_a[0] - two_a[0], eight_a[1] - two_a[1])
    assert near < far
    assert key_circle(None)[3] == 1.0


def test_mismatched_vectors_are_refused(tracks):
    rows, labels = tracks
    est = make_estimator("genre", "rf").fit(rows, labels)
    rows[0].vectors["audio"] = np.zeros(5, np.float32)
    with pytest.raises(FeatureError, match="expects"):
        est.predict_proba(rows[:1])


def test_corrupt_or_foreign_file_gives_clear_error(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="cannot read model"):
        Estimator.load(bad)
    with pytest.raises(ModelFileError, match="cannot read model"):
        Estimator.load(tmp_path / "missing.pkl")


def test_single_class_is_refused(tracks):
    rows, _ = tracks
    with pytest.raises(ValueError, match="two classes"):
        make_estimator("bucket", "rf").fit(rows[:5], ["warm-up"] * 5)


def test_patch_descriptors_separate_fast_and_slow_decay():
    """A hit that dies in a few frames and one that rings on differ where the names say."""
    from djml.models.features import patch_descriptor_names, patch_descriptors

    t = np.arange(64)[:, None]
    short = np.clip(1.0 - t / 6.0, 0, 1) * np.ones((1, 64), np.float32)   # closed-hat-like
    long = np.clip(1.0 - t / 120.0, 0, 1) * np.ones((1, 64), np.float32)  # cymbal-like
    names = patch_descriptor_names()
    a, b = patch_descriptors(short.astype(np.float32)), patch_descriptors(long.astype(np.float32))
    assert len(a) == len(names) == len(set(names)) and np.isfinite(a).all()
    drop = names.index("env_drop20")
    assert a[drop] < 0.2 < b[drop]
    assert names.index("env_slope") >= 0 and a[names.index("env_slope")] < b[names.index("env_slope")]


def test_patch_descriptors_batch_matches_rows_and_least_squares():
    """The vectorised descriptors give each row what it gives that row alone, and their
    decay slopes are np.polyfit's least-squares lines."""
    from djml.models.features import _slopes, patch_descriptors, patch_descriptors_batch

    rng = np.random.default_rng(3)
    decay = np.exp(-np.arange(64) / rng.uniform(2, 30, (5, 1)))[:, :, None]
    patches = np.clip(decay * rng.uniform(0.5, 1.0, (5, 64, 64)), 0, 1).astype(np.float32)
    batch = patch_descriptors_batch(patches)
    for i in range(5):
        np.testing.assert_allclose(batch[i], patch_descriptors(patches[i]), atol=1e-6)
    e = rng.normal(size=(4, 64)).cumsum(1)
    start = np.array([0, 10, 50, 62])
    got = _slopes(e, start, 24)
    for i, s in enumerate(start):
        seg = e[i, s:s + 24]
        want = np.polyfit(np.arange(len(seg)), seg, 1)[0] / 10 if len(seg) >= 3 else 0.0
        assert got[i] == pytest.approx(want, abs=1e-9)
