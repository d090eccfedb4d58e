"""Samples: one-shot vs loop, pitch, envelope, fixed-size outputs."""

import json
import pickle

import numpy as np
import pytest

from djml import synth
from djml.analysis import FEATURE_NAMES, LOGMEL_SHAPE, analyze


def _sample(tmp_path, y, name="s.wav"):
    return analyze(synth.write_wav(tmp_path / name, y))


@pytest.mark.parametrize("kind", synth.ONE_SHOT_KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_one_shots_are_one_shots(tmp_path, kind, seed):
    a = _sample(tmp_path, synth.one_shot(kind, seed=seed))
    assert a.kind == "sample" and a.sample_type == "one-shot", a.loop_bpm
    assert a.bpm is None and a.key is None and a.loop_bpm is None
    assert a.feature_vector.shape == (len(FEATURE_NAMES),) and a.feature_vector.dtype == np.float32
    assert np.isfinite(a.feature_vector).all()
    assert a.logmel.shape == LOGMEL_SHAPE and a.logmel.dtype == np.float32


@pytest.mark.parametrize("style,bpm,bars", [
    ("four_on_floor", 120, 1), ("four_on_floor", 128, 2), ("breakbeat", 100, 1),
    ("breakbeat", 140, 2),
    # known miss of the v5 tempo model (docs/analysis.md): read at 87, 174 the runner-up
    pytest.param("dnb", 174, 4, marks=pytest.mark.xfail(strict=True, reason="v5 model: DnB loop at half")),
    ("swing", 90, 2),
])
def test_loops(tmp_path, style, bpm, bars):
    a = _sample(tmp_path, synth.loop(bpm, bars, style=style))
    assert a.sample_type == "loop" and a.loop_bpm == pytest.approx(bpm, abs=0.05)


@pytest.mark.parametrize("kind", ["bass", "synth", "vocal"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tonal_pitch(tmp_path, kind, seed):
    a = _sample(tmp_path, synth.one_shot(kind, seed=seed))
    midi = synth.one_shot_midi(kind, seed)
    assert a.pitch_hz == pytest.approx(synth.midi_to_hz(midi), rel=0.01)
    assert a.pitch_confidence > 0.8


@pytest.mark.parametrize("midi,name", [(57, "A3"), (69, "A4"), (40, "E2"), (61, "C#4"), (75, "Eb5")])
def test_note_names(tmp_path, midi, name):
    a = _sample(tmp_path, synth.tonal_note(midi, 0.6, decay=1.0))
    assert a.note == name


@pytest.mark.parametrize("kind", ["snare", "hihat", "clap"])
def test_noise_hits_have_no_pitch(tmp_path, kind):
    assert _sample(tmp_path, synth.one_shot(kind)).pitch_hz is None


def test_envelope_and_timbre_order(tmp_path):
    kick = _sample(tmp_path, synth.one_shot("kick"), "k.wav")
    hat = _sample(tmp_path, synth.one_shot("hihat"), "h.wav")
    cym = _sample(tmp_path, synth.one_shot("cymbal"), "c.wav")
    vocal = _sample(tmp_path, synth.one_shot("vocal"), "v.wav")
    assert kick.attack < 0.01 and vocal.attack > 0.02
    assert hat.decay < kick.decay < cym.decay
    assert kick.brightness < 500 < 5000 < hat.brightness
    assert hat.noisiness > kick.noisiness


def test_result_is_picklable_and_json_safe(tmp_path):
    a = _sample(tmp_path, synth.one_shot("bass"))
    b = pickle.loads(pickle.dumps(a))
    assert b.audio_hash == a.audio_hash and np.array_equal(b.logmel, a.logmel)
    d = json.loads(json.dumps(a.to_dict()))
    assert "feature_vector" not in d and "logmel" not in d and d["sample_type"] == "one-shot"
