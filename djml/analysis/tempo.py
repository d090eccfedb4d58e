"""Tempo from onset envelopes: periodicity candidates, a learned choice, precise refinement.

Why not ``librosa.beat``: importing it compiles numba code for ~5 s in every worker
process, and its tempo grid at hop 512 cannot say 126.000 (only 123.05 or 129.20).

Method (numpy only):
1. Autocorrelation of the detrended onset envelope gives periodicity salience over
   40–240 BPM; its strongest peaks are the raw estimates.
2. Candidates are the raw peaks and their metrical relatives (×2, ×½, ×3, ×⅓, ×3⁄2, ×⅔,
   ×4⁄3, ×¾) folded into ``bpm_range``; each is refined on a zero-padded Fourier spectrum
   of the envelope.
3. A trained conditional logit (:mod:`djml.analysis.tempo_model`) scores every candidate
   from its periodicity, grid strength and that of its relatives, onset band energies,
   beat profile (duple vs triple subdivision), phase consistency and a tempo prior; the
   most probable one is the beat. ``ambiguous`` is set when the runner-up is at least
   AMBIGUITY_RATIO as probable.
4. The chosen tempo is refined by the drift of the beat phase across the whole file
   (:func:`refine_period`, blind to sections shifted by half a beat, such as a kick-less
   breakdown of off-beat hats): 126.00, not 123.05 (the hop grid) or 125.11 (a spectrum
   peak split by the breakdown). A repeated loop keeps a least-squares fit of its beat
   peaks (it is snapped to its length anyway).

The beat *phase* (``first_beat``) comes from the onsets below the treble (kick, snare body,
bass) when the caller gives ``treble_share``. The onset envelope is a mean over mel bands
of dB rises, so an event counts by how many bands it rises in, not by how loud it is: a
closed hat rising in ~35 of 64 bands outweighs a kick rising in ~10, and house's off-beat
hats pulled the grid half a beat late (analyzer v2). Periodicity and candidate scores
still use all bands: hats carry the tempo, they just do not mark the beat.

Short files (loops and clips from MIN_SECONDS on) take the same path; :func:`loop_bpm`
then snaps the tempo to the file's length when it holds a whole number of beats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from djml.analysis import DEFAULT_BPM_RANGE, tempo_model
from djml.analysis.robust import median
from djml.analysis.tempo_model import Envelopes, grid_strength

AMBIGUITY_RATIO = 0.5       # runner-up probability / winner's at or above this: ambiguous
ONSET_LATENCY = -0.017      # seconds the flux peak precedes/follows the true onset
MIN_SECONDS = 1.5           # shorter envelopes hold too few beats for a tempo
RAW_PEAKS = 5
LOOP_BEATS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)   # whole bars of 4/4 or 3/4
RATIOS = (1.0, 0.5, 2.0, 1.0 / 3.0, 3.0, 2.0 / 3.0, 1.5, 0.75, 4.0 / 3.0)
LOOP_SNAP_BEATS = 0.15      # a file within 0.15 beat of whole beats is a loop of them
MAX_REFINE = 0.02           # a refinement further than 2 % from the choice locked onto another level
_REFINE_WINDOW_SECONDS = 8.0
_REFINE_COHERENCE = 0.5     # windows this far apart still agree on the beat phase (else: drift)


@dataclass
class TempoEstimate:
    bpm: float
    confidence: float
    candidates: list[float] = field(default_factory=list)
    ambiguous: bool = False
    first_beat: float = 0.0
    raw_bpm: float = 0.0
    pulse_clarity: float = 0.0


def prepare_envelope(env: np.ndarray, fps: float) -> np.ndarray:
    """Subtract a 1-s moving average (loudness changes are not rhythm), rectify, smooth."""
    env = np.asarray(env, dtype=np.float64)
    w = max(3, int(fps) | 1)
    kernel = np.ones(w) / w
    local = np.convolve(np.pad(env, w // 2, mode="edge"), kernel, mode="valid")
    e = np.maximum(env - local, 0.0)
    return np.convolve(e, [0.25, 0.5, 0.25], mode="same")


def prepare_envelopes(env: np.ndarray, fps: float, high_env: np.ndarray | None = None,
                      treble_share: float | None = None,
                      low_env: np.ndarray | None = None,
                      loop_seconds: float | None = None) -> Envelopes:
    """All prepared envelopes the decision needs; a missing band falls back to `env`.
    ``loop_seconds``: the envelopes are a loop of that length, repeated."""
    e = prepare_envelope(env, fps)
    total = max(float(np.mean(env)), 1e-12) if len(env) else 1e-12
    treble = e if high_env is None else prepare_envelope(high_env, fps)
    low = e if low_env is None else prepare_envelope(low_env, fps)
    body = e if high_env is None or treble_share is None else body_envelope(env, high_env, treble_share, fps)
    return Envelopes(
        all=e, treble=treble, low=low, body=body, fps=fps,
        raw_treble_share=0.0 if high_env is None else float(np.mean(high_env)) / total,
        raw_low_share=0.0 if low_env is None else float(np.mean(low_env)) / total,
        loop_seconds=loop_seconds)


def _fold(bpm: float, lo: float, hi: float) -> float:
    """Octave-fold into [lo, hi]; within 1 % of an edge counts as inside (then clipped)."""
    while bpm < lo * 0.99:
        bpm *= 2.0
    while bpm > hi * 1.01:
        bpm /= 2.0
    return min(max(bpm, lo), hi)


def _raw_peaks(ac: np.ndarray, fps: float, count: int = RAW_PEAKS) -> list[float]:
    """Strongest local maxima of autocorrelation salience between 40 and 240 BPM."""
    bpms = 40.0 * 2.0 ** (np.arange(0, 2.6, 0.002))
    lags = 60.0 * fps / bpms
    sal = np.interp(lags, np.arange(len(ac)), ac)
    peaks = np.flatnonzero((sal[1:-1] > sal[:-2]) & (sal[1:-1] >= sal[2:])) + 1
    peaks = peaks[np.argsort(sal[peaks])[::-1]][:count]
    return [float(bpms[p]) for p in peaks if sal[p] > 0]


def _refine_fourier(spec_mag: np.ndarray, df: float, bpm: float, rel: float = 0.015) -> float:
    """Nearest spectral peak of the envelope within ±rel of bpm, parabolically interpolated."""
    f = bpm / 60.0
    lo, hi = int(f * (1 - rel) / df), int(np.ceil(f * (1 + rel) / df)) + 1
    seg = spec_mag[lo:hi]
    if len(seg) < 3:
        return bpm
    k = int(np.argmax(seg[1:-1])) + 1
    a, b, c = np.log(seg[k - 1:k + 2] + 1e-12)
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float((lo + k + shift) * df * 60.0)


def refine_period(e: np.ndarray, period: float, fps: float) -> float:
    """`period` (frames) refined by the phase drift of the beat across the whole envelope.

    Per window (8 s, hop 4 s) the envelope's Fourier coefficients at the beat (C1) and half
    beat (C2) are combined as C1²/|C1| + C2: both turn with twice the beat phase, so a
    section whose onsets sit half a beat off (a kick-less breakdown where only off-beat hats
    and bass remain) looks the same as the rest instead of cancelling it. The phase advance
    of that coefficient between windows L hops apart measures the tempo error; L doubles
    (1, 2, 4, ...) while the windows stay coherent, each step resolving the next one's
    2π ambiguity, so the precision is set by the whole track's length. A whole-envelope
    spectrum peak splits around such a section (126 read as 125.1); this does not.
    """
    n = len(e)
    win = int(min(_REFINE_WINDOW_SECONDS * fps, n / 2))
    if win < 2 * period or n < 2 * win:
        return period
    hop = max(1, win // 2)
    starts = np.arange(0, n - win + 1, hop)
    taper = np.hanning(win)
    frames = e[starts[:, None] + np.arange(win)[None, :]]
    frames = (frames - frames.mean(axis=1, keepdims=True)) * taper
    turn = np.exp(-2j * np.pi * np.arange(n) / period)
    idx = starts[:, None] + np.arange(win)[None, :]
    c1 = (frames * turn[idx]).sum(axis=1)
    c2 = (frames * turn[idx] ** 2).sum(axis=1)
    y = c1 * c1 / np.maximum(np.abs(c1), 1e-12) + c2
    nu = 0.0                                   # frequency error, cycles per frame
    lag = 1
    while lag < len(y):
        z = np.sum(y[lag:] * np.conj(y[:-lag]))
        coherence = abs(z) / max(float(np.sum(np.abs(y[lag:]) * np.abs(y[:-lag]))), 1e-12)
        if coherence < _REFINE_COHERENCE:
            break
        turns = 4.0 * np.pi * lag * hop
        nu += float(np.angle(z * np.exp(-1j * turns * nu))) / turns
        lag *= 2
    return 1.0 / (1.0 / period + nu)


def _beat_peaks(e: np.ndarray, period: float, phases: np.ndarray, per_win: int) -> tuple[list[float], list[float]]:
    """The onset peak within a quarter beat of each grid beat (each ~8-s window on its own
    grid phase), refined to sub-frame position by a parabola; (positions, heights)."""
    positions, weights = [], []
    for k in range(int((len(e) - 1) / period)):
        guess = phases[min(k // per_win, len(phases) - 1)] + k * period
        lo, hi = int(round(guess - period / 4)), int(round(guess + period / 4)) + 1
        if lo < 1 or hi >= len(e) - 1:
            continue
        i = lo + int(np.argmax(e[lo:hi]))
        a, b, c = e[i - 1], e[i], e[i + 1]
        denom = a - 2 * b + c
        positions.append(i + (0.5 * (a - c) / denom if denom < 0 else 0.0))
        weights.append(b)
    return positions, weights


def _fit_beats(e: np.ndarray, period: float, phases: np.ndarray, per_win: int) -> tuple[float, float]:
    """Weighted least squares of refined beat-peak positions on beat index (loops only,
    see :func:`estimate_tempo`).

    Returns (period, phase) in frames; falls back to the inputs when too few beats.
    """
    positions, weights = _beat_peaks(e, period, phases, per_win)
    if len(positions) < 8:
        return period, float(phases[0])
    pos, wts = np.array(positions), np.array(weights)
    keep = wts > 0.3 * median(wts)
    pos, wts = pos[keep], wts[keep]
    for _ in range(2):
        idx = np.round((pos - pos[0]) / period)
        A = np.stack([np.ones_like(idx), idx], axis=1) * np.sqrt(wts)[:, None]
        coef, *_ = np.linalg.lstsq(A, pos * np.sqrt(wts), rcond=None)
        resid = np.abs(pos - (coef[0] + coef[1] * idx))
        good = resid < period / 8
        if good.sum() < 8:
            break
        period = float(coef[1])
        pos, wts = pos[good], wts[good]
    idx = np.round((pos - pos[0]) / period)
    phase = float(np.average(pos - idx * period, weights=wts))
    return period, phase


def beat_phase(e: np.ndarray, period: float, fps: float) -> float:
    """Beat phase (frames, in [0, period)) of `e` on a grid of the given exact `period`.

    Beat peaks are found near the best grid phase of each ~8-s window; their circular mean
    on the beat cycle (weighted by peak height) picks the phase the most onset strength
    agrees on, so a section on the off-beat does not drag it, and the peaks within an
    eighth of a beat of it are averaged to sub-frame precision.
    """
    _, phases, per_win = grid_strength(e, period, fps)
    positions, weights = _beat_peaks(e, period, phases, per_win)
    if not positions or max(weights) <= 0:
        return float(phases[0])
    pos, wts = np.array(positions), np.array(weights)
    keep = wts > 0.3 * median(wts)
    pos, wts = pos[keep], wts[keep]
    angle = np.angle(np.sum(wts * np.exp(2j * np.pi * pos / period)))
    centre = (angle / (2 * np.pi) * period) % period
    offset = (pos - centre + period / 2) % period - period / 2
    near = np.abs(offset) < period / 8
    if not near.any():   # the peaks split over phases far apart, none near their mean
        centre = _densest_phase(pos % period, wts, period)
        offset = (pos - centre + period / 2) % period - period / 2
        near = np.abs(offset) < period / 8
    return float((centre + np.average(offset[near], weights=wts[near])) % period)


def _densest_phase(phases: np.ndarray, weights: np.ndarray, period: float, bins: int = 32) -> float:
    """The beat phase with the most peak weight within ±3/32 of a beat: the side of a split
    (a section shifted off the beat as long as the rest) that holds more of the onsets.
    Always has a peak within an eighth of a beat, so the caller's average is defined."""
    hist = np.bincount((phases / period * bins).astype(int) % bins, weights=weights, minlength=bins)
    spread = sum(np.roll(hist, k) for k in range(-3, 4))
    return (int(np.argmax(spread)) + 0.5) * period / bins


@dataclass(frozen=True)
class Candidates:
    """The tempo candidates of one file and their features (what the model decides on)."""

    bpms: list[float]
    features: np.ndarray
    raw: list[float]


def tempo_candidates(env: Envelopes, bpm_range: tuple[float, float]) -> Candidates | None:
    """Candidates in `bpm_range` with :func:`tempo_model.candidate_features`; None when the
    envelope is too short or flat to hold a pulse."""
    lo, hi = bpm_range
    e, fps = env.all, env.fps
    if len(e) < MIN_SECONDS * fps or e.max() <= 0:
        return None
    ac = tempo_model.autocorrelation(e)
    raw = _raw_peaks(ac, fps)
    if not raw:
        return None
    n = 1 << int(np.ceil(np.log2(max(8 * len(e), 4 * fps * 60))))   # ≤ 0.004 BPM bins
    spec = np.abs(np.fft.rfft(e - e.mean(), n))
    df = fps / n
    bpms: list[float] = []
    for r in raw:
        for ratio in RATIOS:
            b = min(max(_refine_fourier(spec, df, _fold(r * ratio, lo, hi)), lo), hi)
            if all(abs(b / c - 1) > 0.015 for c in bpms):
                bpms.append(b)
    if env.loop_seconds:                     # a loop's tempo makes whole bars of its length
        for beats in LOOP_BEATS:
            b = 60.0 * beats / env.loop_seconds
            if lo <= b <= hi and all(abs(b / c - 1) > 0.015 for c in bpms):
                bpms.append(b)
    return Candidates(bpms, tempo_model.candidate_features(env, bpms, ac, spec, df), raw)


def estimate_tempo(env: np.ndarray, fps: float,
                   bpm_range: tuple[float, float] = DEFAULT_BPM_RANGE,
                   high_env: np.ndarray | None = None,
                   treble_share: float | None = None,
                   low_env: np.ndarray | None = None,
                   model: tempo_model.TempoModel | None = None,
                   loop_seconds: float | None = None) -> TempoEstimate | None:
    """Tempo of an onset envelope sampled at `fps`; None when there is no pulse.

    ``high_env`` / ``low_env``: onsets of the treble (hats, shakers) and low (kick, bass)
    bands only; ``treble_share`` is the fraction of the bands averaged in `env` that
    `high_env` averages (then the beat phase comes from the bands below the treble).
    ``model`` defaults to the shipped one; ``loop_seconds``: `env` is a loop of that length,
    repeated.
    """
    envs = prepare_envelopes(env, fps, high_env, treble_share, low_env, loop_seconds)
    cands = tempo_candidates(envs, bpm_range)
    if cands is None:
        return None
    probs = (model or tempo_model.default_model()).probabilities(cands.features)
    order = np.argsort(-probs, kind="stable")
    best_bpm = cands.bpms[order[0]]
    lo, hi = bpm_range
    e, body = envs.all, envs.body
    if loop_seconds is None:
        bpm = float(np.clip(60.0 * fps / refine_period(e, 60.0 * fps / best_bpm, fps), lo, hi))
        if abs(bpm / best_bpm - 1) > MAX_REFINE:     # locked onto another level: keep the choice
            bpm = best_bpm
        phase = beat_phase(body, 60.0 * fps / bpm, fps)
    else:
        # A repeated loop is exactly periodic and snapped to its length afterwards; its
        # pulse clarity and BPM are inputs of the shipped sample model, fitted on this fit.
        _, phases, per_win = grid_strength(body, 60.0 * fps / best_bpm, fps)
        period, phase = _fit_beats(body, 60.0 * fps / best_bpm, phases, per_win)
        bpm = float(np.clip(60.0 * fps / period, lo, hi))
        if abs(bpm / best_bpm - 1) > MAX_REFINE:
            bpm, phase = best_bpm, float(phases[0])
    best_g, _, _ = grid_strength(e, 60.0 * fps / bpm, fps)
    mean_e = float(e.mean())
    clarity = (best_g - mean_e) / (best_g + mean_e + 1e-12)
    p_best = float(probs[order[0]])
    p_next = float(probs[order[1]]) if len(order) > 1 else 0.0
    first = ((phase / fps - ONSET_LATENCY) % (60.0 / bpm))
    return TempoEstimate(
        bpm=round(bpm, 2),
        confidence=round(float(np.clip(clarity, 0, 1) * p_best), 3),
        candidates=[round(bpm, 2)] + [round(cands.bpms[i], 2) for i in order[1:]],
        ambiguous=bool(p_next >= AMBIGUITY_RATIO * p_best),
        first_beat=round(float(first), 4),
        raw_bpm=round(cands.raw[0], 2),
        pulse_clarity=round(float(np.clip(clarity, 0, 1)), 3),
    )


def body_envelope(env: np.ndarray, high_env: np.ndarray, treble_share: float,
                  fps: float) -> np.ndarray:
    """Prepared onset envelope of the bands below the treble (kick, snare body, bass).

    `env` is the mean flux over all bands and `high_env` the mean over the treble ones, a
    `treble_share` of them, so their difference is the sum over the other bands (scaled);
    it falls back to the full envelope when nothing happens below the treble."""
    low = np.asarray(env, np.float64) - treble_share * np.asarray(high_env, np.float64)
    body = prepare_envelope(np.maximum(low, 0.0), fps)
    return body if body.max() > 0 else prepare_envelope(env, fps)


def loop_bpm(bpm: float, duration: float) -> float:
    """`bpm` snapped to the file's length when that holds a whole number of beats (within
    LOOP_SNAP_BEATS): a loop's tempo is exactly beats × 60 / duration. A clip cut anywhere
    is snapped only as often as chance puts it that close, and then moves by at most
    0.15 beat over its length (< 0.5 % for 30 beats)."""
    beats = bpm * duration / 60.0
    whole = round(beats)
    if whole >= 1 and abs(beats - whole) <= LOOP_SNAP_BEATS:
        return round(60.0 * whole / duration, 2)
    return bpm
