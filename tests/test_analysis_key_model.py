"""The learned key decision: features, the shipped model, training determinism, clip keys."""

import json

import numpy as np
import pytest

from djml import keys, synth
from djml.analysis import analyze, chroma, key_model
from djml.analysis import key as keymod
from djml.analysis.clip_key import clip_features, clip_key
from djml.models import key_train

SR = synth.SR
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


def cadence_piece(key: int, seconds: float = 16.0, transpose: int = 0) -> np.ndarray:
    """A small piece unlike djml.synth's harmony: I-IV-V7-I (major) or i-iv-V7-i with the
    harmonic minor's leading tone (minor), one chord per 2-s bar, bass on the roots, a
    melody stepping through the scale. ``transpose`` shifts every note (for equivariance)."""
    tonic, minor = keys.tonic(key) + transpose, keys.is_minor(key)
    scale = HARMONIC_MINOR if minor else MAJOR_SCALE
    third = 3 if minor else 4
    chords = ((0, third, 7), (5, 8 if minor else 9, 12), (7, 11, 14, 17), (0, third, 7))
    bar = 2.0
    out = np.zeros(int(seconds * SR) + SR, np.float32)

    def put(midi: float, start: float, dur: float, gain: float, partials: int) -> None:
        y = synth.tonal_note(midi, dur, partials=partials, decay=dur * 1.5)
        i = int(start * SR)
        out[i:i + len(y)] += gain * y

    for b in range(int(seconds / bar)):
        chord = chords[b % 4]
        put(36 + tonic + chord[0], b * bar, bar * 0.95, 0.5, 6)
        for iv in chord:
            put(60 + tonic + iv, b * bar, bar * 0.95, 0.15, 5)
        for j in range(4):
            degree = (b * 2 + j) % 7
            put(72 + tonic + scale[degree], b * bar + j * bar / 4, bar / 4 * 0.9, 0.25, 4)
    out = out[: int(seconds * SR)]
    return out / np.abs(out).max() * 0.8


def test_design_rotates_with_the_features():
    """Rotating every pooled chroma by n semitones moves each key's inputs to the key n
    semitones up: the model cannot prefer one tonic over another (exact equivariance)."""
    rng = np.random.default_rng(3)
    pooled = rng.random((len(chroma.VECTORS), 12))
    phi = key_model.design(pooled)
    for n in (1, 5, 7):
        shifted = key_model.design(np.roll(pooled, n, axis=1))
        for k in range(24):
            mode, tonic = divmod(k, 12)
            assert np.allclose(shifted[12 * mode + (tonic + n) % 12], phi[k])


@pytest.mark.parametrize("shift", [-1, -2, -3])
def test_features_transpose_with_the_audio(shift):
    """Audio moved by `shift` semitones gives the same pooled chroma rotated by `shift`: the
    spectral-peak front end has no pitch-dependent bias. (The bands are fixed in register,
    so a note or partial crossing a band edge changes what a band hears; these shifts of
    the C piece keep every partial on its side of 98 and 200 Hz.)"""
    base = clip_features(cadence_piece(0), SR)[1]
    moved = clip_features(cadence_piece(0, transpose=shift), SR)[1]
    assert np.abs(moved - np.roll(base, shift, axis=1)).max() < 0.03


def test_shipped_model_loads_and_is_deterministic():
    model = key_model.load()
    assert model.weights.shape == (2, key_model.N_FEATURES)
    body = json.loads(key_model.MODEL_PATH.read_text())
    assert body["feature_version"] == chroma.FEATURE_VERSION
    pooled = clip_features(cadence_piece(21), SR)[1]
    assert model.predict(pooled) == model.predict(pooled.copy())


def test_model_file_from_another_layout_is_refused():
    body = json.loads(key_model.MODEL_PATH.read_text())
    body["feature_version"] += 1
    with pytest.raises(key_model.KeyModelError, match="key_train"):
        key_model.from_json(json.dumps(body))
    body = json.loads(key_model.MODEL_PATH.read_text())
    body["weights"] = body["weights"][:1]
    with pytest.raises(key_model.KeyModelError, match="shape"):
        key_model.from_json(json.dumps(body))


def test_decision_follows_the_recorded_method():
    """The file records which decision won leave-one-source-out; the analyzer follows it."""
    hist, pooled = clip_features(cadence_piece(21), SR)
    profile_chroma = keymod.fold_chroma(hist)[0]
    body = json.loads(key_model.MODEL_PATH.read_text())
    body["weights"] = np.zeros((2, key_model.N_FEATURES)).tolist()
    body["bias"] = [5.0, 0.0]                      # a model that always says "some major key"
    for method, expected in (("model", 0), ("profile", 21), ("mode", 9)):
        # mode: the profile method's A minor, its parallel A major or its relative C major,
        # and the model (only majors, all alike) takes the first major of the three
        model = key_model.from_json(json.dumps({**body, "method": method}))
        assert key_model.decide(pooled, profile_chroma, model)[0] == expected
    with pytest.raises(key_model.KeyModelError, match="method"):
        key_model.from_json(json.dumps({**body, "method": "coin"}))


def test_mode_candidates_are_the_key_its_parallel_and_its_relative():
    assert key_model.mode_candidates(keys.parse("C major")) == (0, keys.parse("C minor"), keys.parse("A minor"))
    assert key_model.mode_candidates(keys.parse("A minor")) == (keys.parse("A minor"), keys.parse("A major"), 0)
    assert key_model.mode_candidates(keys.parse("F# minor")) == (18, 6, keys.parse("A major"))


def test_training_is_deterministic_and_learns_mode():
    """Two fits on the same examples give identical weights, and a fit on a few generated
    pieces gets their keys back."""
    pooled = np.stack([clip_features(cadence_piece(k, seconds=8.0), SR)[1] for k in (0, 2, 9, 14, 19, 21)])
    y = np.array([0, 2, 9, 14, 19, 21])
    phi = key_train.designs(pooled)
    w1, b1 = key_train.fit(phi, y, 1e-3)
    w2, b2 = key_train.fit(phi, y, 1e-3)
    assert np.array_equal(w1, w2) and np.array_equal(b1, b2)
    assert list(key_train.predict(phi, w1, b1)) == list(y)


@pytest.mark.parametrize("key", [0, 7, 3, 21, 16, 13])
def test_major_and_minor_pieces_get_key_and_mode(tmp_path, key):
    path = synth.write_wav(tmp_path / "p.wav", cadence_piece(key))
    a = analyze(path, kind="track")
    assert a.key == key, (keys.standard(key), a.key is not None and keys.standard(a.key))


def test_mirex_conventions():
    assert key_train.mirex(7, 0, lenient=False) == 0.5       # G major for C major: fifth above
    assert key_train.mirex(5, 0, lenient=False) == 0.0       # F major: fifth below, standard 0
    assert key_train.mirex(5, 0, lenient=True) == 0.5
    assert key_train.mirex(21, 0, lenient=False) == 0.3      # A minor for C major: relative
    assert key_train.mirex(12, 0, lenient=False) == 0.2      # C minor: parallel
    assert key_train.mirex(-1, 0, lenient=True) == 0.0


@pytest.mark.parametrize("row, expected", [
    ({"key": 21}, 21), ({"key": "A minor"}, 21), ({"key": "F#", "mode": "minor"}, 18),
    ({"key": "Bb", "mode": "major"}, 10), ({"key": ""}, None), ({"key": "H"}, None),
])
def test_labels_parse(row, expected):
    assert key_train.parse_key(row) == expected


def test_tonal_clip_gets_a_key_and_a_drum_loop_does_not(tmp_path):
    tonal = synth.write_wav(tmp_path / "tonal.wav", cadence_piece(9, seconds=8.0))
    drums = synth.write_wav(tmp_path / "drums.wav", synth.loop(120, bars=4, seed=2))
    a = analyze(tonal)
    assert a.kind == "sample" and a.key == 9 and a.to_dict()["key"] == "A major"
    b = analyze(drums)
    assert b.kind == "sample" and b.key is None
    assert clip_key(np.zeros(SR, np.float32), SR) == (None, 0.0)   # shorter than 2 s
