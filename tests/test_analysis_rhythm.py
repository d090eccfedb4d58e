"""Rhythm pattern: beat profile and bar spectrum on envelopes and on generated beats."""

from __future__ import annotations

import numpy as np
import pytest

from djml import synth
from djml.analysis import RHYTHM_NAMES, analyze
from djml.analysis.rhythm import BANDS, HARMONICS, RHYTHM_DIM, STEPS_PER_BEAT, rhythm_pattern

FPS = 100.0
PER_BAND = STEPS_PER_BEAT + HARMONICS


def impulses(pattern: list[int], bpm: float, bars: int, shift_steps: int = 0) -> np.ndarray:
    """An onset envelope with a hit on each 16th step in ``pattern`` of every bar."""
    step = 60.0 / bpm * FPS / 4
    env = np.zeros(int((bars + 1) * 16 * step) + 10)
    for bar in range(bars):
        for s in pattern:
            env[int(round((bar * 16 + s + shift_steps) * step))] = 1.0
    return env


def band(vector: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    b = BANDS.index(name) * PER_BAND
    return vector[b:b + STEPS_PER_BEAT], vector[b + STEPS_PER_BEAT:b + PER_BAND]


def test_names_match_the_vector():
    assert len(RHYTHM_NAMES) == RHYTHM_DIM == len(BANDS) * PER_BAND
    assert RHYTHM_NAMES[0] == "low_beat_0" and RHYTHM_NAMES[-1] == f"high_bar_h{HARMONICS}"


def test_beat_profile_says_where_in_the_beat_hits_land():
    four = impulses([0, 4, 8, 12], 120.0, 32)
    offbeat = impulses([2, 6, 10, 14], 120.0, 32)
    v = rhythm_pattern({"low": four, "body": four, "high": offbeat}, FPS, 120.0, 0.0)
    low_beat, _ = band(v, "low")
    high_beat, _ = band(v, "high")
    assert np.argmax(low_beat) == 0 and low_beat[0] > 0.6
    assert np.argmax(high_beat) == 2 and high_beat[2] > 0.6
    np.testing.assert_allclose(low_beat.sum(), 1.0, atol=1e-6)


def test_bar_spectrum_ignores_where_the_bar_starts():
    broken = [0, 3, 6, 10, 12]
    a = rhythm_pattern({b: impulses(broken, 128.0, 40) for b in BANDS}, FPS, 128.0, 0.0)
    b = rhythm_pattern({b: impulses(broken, 128.0, 40, shift_steps=4) for b in BANDS}, FPS, 128.0, 0.0)
    np.testing.assert_allclose(band(a, "body")[1], band(b, "body")[1], atol=0.05)


def test_bar_spectrum_tells_four_on_the_floor_from_a_broken_beat():
    four = rhythm_pattern({b: impulses([0, 4, 8, 12], 128.0, 40) for b in BANDS}, FPS, 128.0, 0.0)
    broken = rhythm_pattern({b: impulses([0, 3, 6, 10, 12], 128.0, 40) for b in BANDS}, FPS, 128.0, 0.0)
    _, four_bar = band(four, "low")
    _, broken_bar = band(broken, "low")
    # a hit every beat has energy only at the 4th harmonic (and its multiples) of the bar
    assert four_bar[3] > 0.8 and max(four_bar[0], four_bar[1], four_bar[2]) < 0.1
    assert max(broken_bar[0], broken_bar[1], broken_bar[2]) > 0.2


@pytest.mark.parametrize("bpm, first_beat", [(None, None), (0.0, 0.0)])
def test_no_tempo_gives_no_pattern(bpm, first_beat):
    env = impulses([0, 4, 8, 12], 120.0, 8)
    v = rhythm_pattern({b: env for b in BANDS}, FPS, bpm, first_beat)
    assert v.shape == (RHYTHM_DIM,) and not v.any()


def test_less_than_a_bar_gives_no_pattern():
    env = np.ones(50)   # half a second at 100 fps, a bar at 120 BPM is 2 s
    assert not rhythm_pattern({b: env for b in BANDS}, FPS, 120.0, 0.0).any()


def test_generated_tracks_get_their_pattern(tmp_path):
    """End to end through analyze(): the kick of a four-on-the-floor lands on the beat,
    the house hats on the off-beat 8th; a breakbeat's kick is not a hit-per-beat pulse."""
    house = synth.write_wav(tmp_path / "house.wav", synth.drum_track(124.0, None, 40.0, "four_on_floor"))
    breaks = synth.write_wav(tmp_path / "breaks.wav", synth.drum_track(124.0, None, 40.0, "breakbeat"))
    h, b = analyze(house, "track"), analyze(breaks, "track")
    assert h.rhythm.shape == (RHYTHM_DIM,) and h.rhythm.dtype == np.float32
    h_low_beat, h_low_bar = band(h.rhythm, "low")
    h_high_beat, _ = band(h.rhythm, "high")
    _, b_low_bar = band(b.rhythm, "low")
    assert np.argmax(h_low_beat) == 0
    assert np.argmax(h_high_beat) == 2
    # harmonics 1-3 of the bar: near zero for one kick per beat, clear for the broken kick
    assert h_low_bar[:3].max() < 0.5 * b_low_bar[:3].max()
    assert "rhythm" not in h.to_dict()


def test_rhythm_vector_is_stored_for_tracks(tmp_path):
    from djml import db
    from djml.library import Library
    from djml.pipeline import FileResult, FileStat

    path = synth.write_wav(tmp_path / "t.wav", synth.drum_track(128.0, 9, 35.0))
    a = analyze(path, "track")
    library = Library(db.connect(tmp_path / "library.db"))
    item_id = library.record_result(FileResult(str(path), FileStat.of(str(path)), analysis=a))[1]
    dim, blob = library.conn.execute(
        "SELECT dim, vector FROM vectors WHERE item_id = ? AND space = 'rhythm'", (item_id,)).fetchone()
    assert dim == RHYTHM_DIM
    np.testing.assert_array_equal(np.frombuffer(blob, "<f4"), a.rhythm)
