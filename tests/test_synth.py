import numpy as np
import pytest
import soundfile as sf

from djml import synth


def test_deterministic_and_seeded():
    a = synth.drum_track(126, 9, 4.0, seed=1)
    b = synth.drum_track(126, 9, 4.0, seed=1)
    c = synth.drum_track(126, 9, 4.0, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and len(a) == 4 * synth.SR
    assert np.abs(a).max() <= 1.0


@pytest.mark.parametrize("style", synth.STYLES)
def test_styles_render(style):
    y = synth.drum_track(120, None, 2.0, style=style)
    assert np.isfinite(y).all() and np.abs(y).max() > 0.5


def test_unknown_names_raise():
    with pytest.raises(ValueError):
        synth.drum_track(120, 0, 1.0, style="polka")
    with pytest.raises(ValueError):
        synth.one_shot("theremin")


@pytest.mark.parametrize("kind", synth.ONE_SHOT_KINDS)
def test_one_shots(kind):
    y = synth.one_shot(kind, seed=3)
    assert y.ndim == 1 and 0.05 < len(y) / synth.SR < 3.0
    assert np.isclose(np.abs(y).max(), 10 ** (-1 / 20), atol=1e-3)


def test_loop_length_encodes_tempo():
    y = synth.loop(125, bars=2)
    assert len(y) == round(2 * 4 * 60 / 125 * synth.SR)


def test_tonal_note_pitch():
    y = synth.tonal_note(69, 0.5)
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert abs(np.argmax(spec) * synth.SR / len(y) - 440.0) < 3.0


def test_write_wav_roundtrip(tmp_path):
    y = synth.one_shot("snare")
    for suffix in (".wav", ".flac"):
        path = synth.write_wav(tmp_path / f"s{suffix}", y)
        back, sr = sf.read(path, dtype="float32")
        assert sr == synth.SR and np.abs(back - y).max() < 1e-4
