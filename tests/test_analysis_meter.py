"""Octave (metrical level) choice on constructed onset envelopes with known structure.

Pure numpy, no audio: each case is the envelope a drum pattern would give, so the rule in
tempo.choose_octave is tested directly, including the cases that used to fail
(downtempo 80 read as 160, half-time 140 read as 70).
"""

import numpy as np
import pytest

from djml.analysis import tempo

FPS = 22050 / 512


def _pulses(bpm: float, seconds: float, offset: float = 0.0, gain: float = 1.0,
            every: int = 1) -> np.ndarray:
    """Envelope with a 2-frame onset at offset + k*beat for every `every`-th beat."""
    n = int(seconds * FPS)
    e = np.zeros(n)
    period = 60.0 * FPS / bpm
    t = offset * period
    k = 0
    while t < n - 2:
        if k % every == 0:
            i = int(round(t))
            e[i] += gain
            e[i + 1] += 0.5 * gain
        t += period
        k += 1
    return e


def _choose(full: np.ndarray, treble: np.ndarray, best: float, lo=70.0, hi=180.0):
    e = tempo.prepare_envelope(full, FPS)
    h = tempo.prepare_envelope(treble, FPS)
    return tempo.choose_octave(e, h, FPS, best, lo, hi)


@pytest.mark.parametrize("bpm", [72.0, 80.0, 88.0])
@pytest.mark.parametrize("swing", [0.5, 0.58, 0.66])
def test_eighth_hats_keep_the_slow_beat(bpm, swing):
    """Kick/snare on every beat, hats on eighths (straight or swung): the faster octave's
    half-beats are empty, so the beat is the slow level whichever octave came in."""
    hats = _pulses(bpm, 30, 0.0, 0.4) + _pulses(bpm, 30, swing, 0.4)
    full = _pulses(bpm, 30, 0.0, 1.0) + hats
    for best in (bpm, 2 * bpm):
        chosen, _ = _choose(full, hats, best)
        assert chosen == pytest.approx(bpm)


@pytest.mark.parametrize("bpm", [140.0, 174.0])
def test_subdivided_fast_level_wins(bpm):
    """Half-time dubstep / DnB: strong hits every other beat at `bpm` (they look like a
    beat at bpm/2), but eighth-note hats at `bpm`: the fast level is subdivided."""
    hats = _pulses(2 * bpm, 30, 0.0, 0.35)
    full = _pulses(bpm, 30, 0.0, 1.0, every=2) + _pulses(bpm, 30, 0.0, 0.3) + hats
    for best in (bpm / 2, bpm):
        chosen, ambiguous = _choose(full, hats, best)
        assert chosen == pytest.approx(bpm) and not ambiguous


def test_no_treble_falls_back_to_prior_and_flags():
    full = _pulses(90.0, 30, 0.0, 1.0)
    chosen, ambiguous = _choose(full, np.zeros_like(full), 180.0)
    assert chosen == pytest.approx(90.0) and ambiguous


def test_range_limits_the_family():
    """With an upper bound of 130 the 160 level is not a choice, whatever the hats say."""
    hats = _pulses(320.0, 30, 0.0, 0.35)
    full = _pulses(80.0, 30, 0.0, 1.0) + _pulses(160.0, 30, 0.0, 0.5) + hats
    assert _choose(full, hats, 80.0, 60.0, 130.0)[0] == pytest.approx(80.0)
    assert _choose(full, hats, 80.0)[0] == pytest.approx(160.0)


def test_lognormal_prior_peaks_at_centre():
    assert tempo.lognormal_prior(tempo.PRIOR_CENTRE) == pytest.approx(1.0)
    assert tempo.lognormal_prior(60.0) == pytest.approx(tempo.lognormal_prior(240.0))
    assert tempo.lognormal_prior(90.0) > tempo.lognormal_prior(180.0)
