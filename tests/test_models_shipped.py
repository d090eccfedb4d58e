"""The shipped sample-type model: loads offline from package data, small, and tags
generated one-shots (djml.synth) through the real scan → predict path."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from djml import synth
from djml.config import Config
from djml.models import registry, service
from djml.models.estimators import Estimator
from djml.models.shipped_data import logmel_shape
import sound_measures as sound
from models_support import open_library

def test_shipped_files_are_small_and_documented():
    shipped = registry.shipped_path().parent
    total = sum(p.stat().st_size for p in shipped.iterdir() if p.is_file())
    assert total <= 20 * 1024 * 1024
    assert not list(shipped.glob("*.pkl"))           # no pickle: loads under any sklearn/torch
    card = (shipped / "MODEL_CARD.md").read_text()
    assert "leave-one-source-out" in card.lower() and "licen" in card.lower()
    meta = json.loads((shipped / "sample_type.json").read_text())
    assert meta["version"].startswith("sample_type-shipped-") and meta["metrics"]["loso_drum_accuracy"] > 0.7
    assert meta["metadata"]["versions"]["numpy"] and 0.2 <= meta["temperature"] <= 5


def test_loads_without_network_sklearn_or_torch(monkeypatch):
    """The shipped arrays are evaluated by numpy alone: no network, and neither sklearn nor
    torch is imported to load or run it (checked in a fresh interpreter)."""
    import subprocess
    import sys

    def no_network(*args, **kwargs):
        raise AssertionError("the shipped model must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    est = Estimator.load(registry.shipped_path())
    assert {"kick", "snare", "hihat"} <= set(est.classes_)
    code = ("import sys, numpy as np; from djml.models import registry; from djml.models.estimators import Estimator;"
            "e = Estimator.load(registry.shipped_path()); n = len(e.features.names);"
            "L = np.zeros((3, 1, 64, 64), np.float32) if e.needs_patches else None;"
            "p = e.predict_proba_arrays(np.zeros((3, n), np.float32), L); assert p.shape == (3, len(e.classes_));"
            "print(sorted(m for m in ('sklearn', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _random_inputs(est: Estimator, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Random feature rows and, for a model that blends in its CNN, random log-mel patches."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(est.features.names))).astype(np.float32)
    frames, mels = logmel_shape()
    return X, rng.random((n, 1, mels, frames)).astype(np.float32) if est.needs_patches else None


def test_shipped_predictions_are_deterministic():
    a, b = Estimator.load(registry.shipped_path()), Estimator.load(registry.shipped_path())
    X, L = _random_inputs(a, 50, 0)
    np.testing.assert_array_equal(a.predict_proba_arrays(X, L), b.predict_proba_arrays(X, L))
    assert np.allclose(a.predict_proba_arrays(X, L).sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("field,value,message", [
    ("format", 99, "model format 99"),
    ("analyzer_version", -1, "sample analyzer version -1"),
    ("names", ["x"], "another feature layout"),
])
def test_shipped_card_is_checked_at_load(tmp_path, field, value, message):
    """A card recording another format, analyzer version or feature layout is refused
    with a message that says how to rebuild, not mis-predicted."""
    import shutil

    from djml.models.estimators import ModelFileError

    src = registry.shipped_path()
    npz = tmp_path / src.name
    shutil.copy(src, npz)
    card = json.loads(src.with_suffix(".json").read_text())
    if field == "format":
        card["format"] = value
    elif field == "analyzer_version":
        card["metadata"]["analyzer_version"] = value
    else:
        card["metadata"]["features"]["names"] = value
    npz.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match=message) as err:
        Estimator.load(npz)
    assert "python -m djml.models.train_default" in str(err.value)


SEEDS = (0, 1, 2, 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_snare_is_a_plausible_snare(seed):
    """The snare the model is tested on sits inside the measured real-snare distribution
    (Hydrogen + GM snares, p25..p75; djml.synth._snare cites the numbers): spectral
    centroid 0.7-1.7 kHz and head (150-300 Hz) vs wires (1-8 kHz) energy -1..+6 dB over
    the first 200 ms. The old 1.5-9 kHz noise snare had 4.6 kHz and -7.5 dB."""
    y = synth.one_shot("snare", seed=seed)
    power, freqs, _ = sound.spectrum(y, 0.2, lead=0.0)
    assert 700 < sound.centroid(power, freqs) < 1700
    head, wires = sound.share(power, freqs, 150, 300), sound.share(power, freqs, 1000, 8000)
    assert -1.0 < 10 * np.log10(head / wires) < 6.0


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_hihat_is_a_plausible_closed_hat(seed):
    """The hat sits inside the measured real closed hats (65 Hydrogen + GM closed hats,
    p25..p75 over the first 100 ms; djml.synth._hihat cites the numbers): centroid
    5.3-6.4 kHz, energy above 8 kHz 19-34 % and below 1 kHz 4-19 %, spectral flatness
    (1-10 kHz) 0.20-0.34, 20 dB down after 0.07-0.135 s. The old hat (6.5-11 kHz white
    noise) had 8.7 kHz, 65 % above 8 kHz, nothing below 6 kHz and was 20 dB down after
    0.03 s; the shipped model called one seed perc."""
    y = synth.one_shot("hihat", seed=seed).astype(np.float64)
    power, freqs, start = sound.spectrum(y, 0.1)
    assert 5300 < sound.centroid(power, freqs) < 6400
    assert 0.19 < sound.share(power, freqs, 8000, synth.SR / 2) < 0.34
    assert 0.04 < sound.share(power, freqs, 0, 1000) < 0.19
    assert 0.20 < sound.flatness(power, freqs) < 0.34
    assert 0.07 < sound.seconds_until_down(y, start, 20) < 0.135


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_cymbal_is_a_plausible_cymbal(seed):
    """The cymbal sits inside the measured real cymbals (272 Hydrogen + GM crashes, rides,
    chinas, splashes; p25..p75 over the first 200 ms; djml.synth._cymbal cites the numbers):
    centroid 3.6-5.7 kHz, energy 150 Hz-1 kHz 2-20 %, spectral flatness (1-10 kHz)
    0.04-0.21, 20 dB down after 0.56-1.25 s. The old cymbal (3 kHz+ white noise and four
    sines) had nothing below 1 kHz, flatness 0.001, was 20 dB down after 0.4 s, and the
    shipped model called it hihat or perc."""
    y = synth.one_shot("cymbal", seed=seed).astype(np.float64)
    power, freqs, start = sound.spectrum(y, 0.2)
    assert 3600 < sound.centroid(power, freqs) < 5700
    assert 0.02 < sound.share(power, freqs, 150, 1000) < 0.20
    assert 0.037 < sound.flatness(power, freqs) < 0.21
    assert 0.56 < sound.seconds_until_down(y, start, 20) < 1.25


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_bass_is_a_plausible_bass(seed):
    """The bass sits inside the measured real bass one-shots (32 GM bass renders, p25..p75
    over the first 200 ms; djml.synth._bass cites the numbers): centroid 98-274 Hz, energy
    below 150 Hz 40-80 % and 150 Hz-1 kHz 16-58 %, a held note 20 dB down only after
    1.15-1.20 s. The old bass (a 0.8 s decaying note) was 20 dB down after 0.41 s, had
    4-16 % between 150 Hz and 1 kHz, and the shipped model called it tom."""
    y = synth.one_shot("bass", seed=seed).astype(np.float64)
    power, freqs, start = sound.spectrum(y, 0.2)
    assert 98 < sound.centroid(power, freqs) < 274
    assert 0.40 < sound.share(power, freqs, 0, 150) < 0.80 and 0.16 < sound.share(power, freqs, 150, 1000) < 0.58
    assert 1.15 < sound.seconds_until_down(y, start, 20) < 1.20


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_fx_is_a_plausible_fx(seed):
    """The fx sits inside the measured real fx (102 freedesktop, GM effect and Hydrogen fx,
    p25..p75 over 500 ms from the peak; djml.synth._fx cites the numbers): centroid
    325-1667 Hz, energy 150 Hz-1 kHz 11-92 % and 1-3 kHz 1-27 %, a 0.05-0.65 s swell to the
    peak, 20 dB down after 0.21-1.40 s. The old riser ended at its peak and had a 2 kHz
    centroid with 93-98 % of its energy between 1 and 3 kHz."""
    y = synth.one_shot("fx", seed=seed).astype(np.float64)
    power, freqs, start = sound.spectrum(y, 0.5)
    assert 325 < sound.centroid(power, freqs) < 1667
    assert 0.11 < sound.share(power, freqs, 150, 1000) < 0.92 and 0.01 < sound.share(power, freqs, 1000, 3000) < 0.27
    assert 0.05 < sound.attack(y) < 0.65
    assert 0.21 < sound.seconds_until_down(y, start, 20) < 1.40


def _predict_generated(tmp_path, kind: str, seeds: tuple[int, ...]) -> list[dict]:
    from djml.analysis import analyze
    from djml.pipeline import FileResult, FileStat

    library = open_library(tmp_path)
    config = Config(config_path=tmp_path / "c.toml", data_dir=tmp_path / "data")
    ids = []
    for seed in seeds:
        path = synth.write_wav(tmp_path / f"{kind}{seed}.wav", synth.one_shot(kind, seed=seed))
        ids.append(library.record_result(FileResult(str(path), FileStat.of(path), analysis=analyze(path, "sample")))[1])
    predictions = service.predict_items(library, config, ids)
    assert all(p["model_version"].startswith("sample_type-shipped-") for p in predictions)
    assert registry.active(library.conn, "sample_type")["path"].startswith(registry.PACKAGE_PREFIX)
    return predictions


# Known misses of the current shipped model, kept visible (strict: a fix makes them fail
# until this list is updated). djml.synth's vocal (a harmonic "ah": three formants, 0.6 %
# vibrato, no breath or consonant) is called synth at ~0.75. Its fx (a noise
# swell) is called vocal for 2 of the 4 seeds (not analysed yet; the earlier model, trained
# without any synthesised sounds, tagged all four fx).
KNOWN_MISSES = {"vocal", "fx"}


@pytest.mark.parametrize("kind,seeds", [
    pytest.param(kind, SEEDS, marks=[pytest.mark.xfail(strict=True, reason="known miss, see KNOWN_MISSES")]
                 if kind in KNOWN_MISSES else []) for kind in synth.ONE_SHOT_KINDS])
def test_tags_generated_one_shots(tmp_path, kind, seeds):
    """Smoke test, not the measure (that is benchmarks/sample_classifier.py): the model never
    saw djml.synth audio (its synthesised training sounds come from djml.models.drumsynth,
    which shares no recipe with it); every kind of generated one-shot is tagged right."""
    predictions = _predict_generated(tmp_path, kind, seeds)
    assert [p["label"] for p in predictions] == [kind] * len(seeds), predictions


def test_shipped_base_examples_match_the_current_sample_analyzer():
    """Retraining on a user's corrections builds on the shipped examples only if their
    feature layout and sample analyzer version still match; a version bump for samples
    must come with re-generated shipped files (python -m djml.models.train_default)."""
    from djml.models import shipped_data

    base = shipped_data.load_base(Estimator.load(registry.shipped_path()))
    assert base is not None
    X, y, weights = base
    assert len(X) == len(y) == len(weights) > 500 and {"kick", "snare", "hihat"} <= set(y)


def test_shipped_model_is_shown_with_its_leave_one_source_out_figure():
    from djml.models.figures import figure, figure_text

    card = json.loads(registry.shipped_path().with_suffix(".json").read_text())
    fig = figure(card["metrics"], card["metadata"])
    assert fig["what"] == "leave-one-source-out" and fig["n"] == card["metrics"]["n_loso"] > 1000
    assert figure_text(fig).startswith(f"leave-one-source-out {100 * card['metrics']['loso_accuracy']:.0f}%")


def test_shipped_confidence_is_the_documented_calibration_map():
    """The card's calibration map (fitted on held-out sources) is what predictions carry:
    monotone, the decision of the raw forest kept, the confidence read off the map."""
    from djml.models.calibration import apply_map

    est = Estimator.load(registry.shipped_path())
    card = json.loads(registry.shipped_path().with_suffix(".json").read_text())
    cal = card["calibration"]
    assert cal["method"] == card["metrics"]["calibration"] == "top" and np.all(np.diff(cal["y"]) >= 0)
    X, L = _random_inputs(est, 200, 1)
    raw, p = est.model.raw_proba(X, L), est.predict_proba_arrays(X, L)
    assert (p.argmax(1) == raw.argmax(1)).all()
    np.testing.assert_allclose(p, apply_map(raw, cal), atol=1e-6)


def test_status_names_every_member_of_the_shipped_blend(tmp_path):
    # the shipped model loads as "et" but is trees + linear model + CNN; status must not
    # say it is trees alone (the shares come from its card, so they add up to one)
    from djml import query
    from djml.render import model_members

    library = open_library(tmp_path)
    registry.ensure_shipped(library)
    (row,) = query.active_models(library.conn)
    card = json.loads(registry.shipped_path().with_suffix(".json").read_text())["metadata"]
    cnn, lr = card["cnn"]["share"], card["partner"]["share"]
    assert row["members"] == f"et {1 - cnn - lr:.2f} + lr {lr:.2f} + cnn {cnn:.2f}"
    assert "metadata" not in row                       # status carries no feature lists
    assert model_members("lr", {"n_train": 40}) == "lr"
    assert model_members("et", None) == "et"
    assert model_members("et", {"cnn": {"share": 0.5}, "partner": {"share": 0}}) == "et 0.50 + cnn 0.50"
