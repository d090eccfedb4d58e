"""The shipped sample-type model: loads offline from package data, small, and tags
generated one-shots (djml.synth) through the real scan → predict path."""

from __future__ import annotations

import json
import socket

import pytest

from djml import synth
from djml.config import Config
from djml.models import registry, service
from djml.models.estimators import Estimator
from models_support import open_library

def test_shipped_files_are_small_and_documented():
    shipped = registry.shipped_path().parent
    total = sum(p.stat().st_size for p in shipped.iterdir() if p.is_file())
    assert total <= 5 * 1024 * 1024
    card = (shipped / "MODEL_CARD.md").read_text()
    assert "leave-one-kit-out" in card.lower() and "licen" in card.lower()
    meta = json.loads((shipped / "sample_type.json").read_text())
    assert meta["version"].startswith("sample_type-shipped-") and meta["metrics"]["loko_drum_accuracy"] > 0.7


def test_loads_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the shipped model must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    est = Estimator.load(registry.shipped_path())
    assert {"kick", "snare", "hihat"} <= set(est.classes_)


def _predict_generated(tmp_path, kind: str) -> list[dict]:
    from djml.analysis import analyze
    from djml.pipeline import FileResult, FileStat

    library = open_library(tmp_path)
    config = Config(config_path=tmp_path / "c.toml", data_dir=tmp_path / "data")
    ids = []
    for seed in (0, 1):
        path = synth.write_wav(tmp_path / f"{kind}{seed}.wav", synth.one_shot(kind, seed=seed))
        ids.append(library.record_result(FileResult(str(path), FileStat.of(path), analysis=analyze(path, "sample")))[1])
    predictions = service.predict_items(library, config, ids)
    assert all(p["model_version"].startswith("sample_type-shipped-") for p in predictions)
    assert registry.active(library.conn, "sample_type")["path"].startswith(registry.PACKAGE_PREFIX)
    return predictions


@pytest.mark.parametrize("kind", ["kick", "hihat"])
def test_tags_generated_one_shots(tmp_path, kind):
    predictions = _predict_generated(tmp_path, kind)
    assert [p["label"] for p in predictions] == [kind, kind], predictions


@pytest.mark.xfail(strict=True, reason="the shipped model (trained only on DATA.md sources, not on"
                   " djml.synth) calls the synthetic noise+tone snare 'perc' (snare 2nd or 3rd)")
def test_tags_generated_snare(tmp_path):
    predictions = _predict_generated(tmp_path, "snare")
    assert [p["label"] for p in predictions] == ["snare", "snare"], predictions
