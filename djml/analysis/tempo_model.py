"""The learned tempo decision: which candidate is the beat, from features of each candidate.

Why learned: the candidates of the onset envelope (its periodicity peaks and their ×2, ×½,
×3, ×⅓, ×3⁄2, ×⅔, ×4⁄3, ×¾ relatives) almost always contain the tempo a listener taps; what
fails is the *choice* — a Latin groove read at 4/3, a waltz at 2/3, fast two-beat read at
half tempo, a ballad at double. Hand-set rules (v2–v4: grid strength × a power-law tilt,
then "the fastest octave whose half-beats hold hats") were tuned on generated beats and did
not hold on music made by people. A conditional logit over candidate features learns how
these cues trade off from real compositions of several sources, scored with each source
held out (``python -m djml.models.tempo_train``; docs/analysis.md).

Every feature is a ratio or a logarithm of one, so it does not depend on loudness, frame
rate or file length:

* periodicity: autocorrelation of the onset envelope at the candidate's beat lag and at
  2, 3, 4, ½, ⅓ and 1.5 of it;
* grid strength (mean envelope on the best-phase beat grid, see ``tempo.grid_strength``)
  at the candidate, and its ratio to the grid strength at ×2, ×½, ×3, ×3⁄2, ×⅔, ×4⁄3;
* onset band energies on the grid: treble (hats), low (kick, bass), body (below treble);
* the beat profile: envelope and treble folded on the beat, at the half, each third and the
  quarters of the beat relative to the beat itself (duple, triple or swung subdivision);
* beat-phase consistency: how well the best grid phase of successive 8-s windows agrees;
* onsets per beat, the spectral peak of the envelope at the candidate, and the candidate's
  log tempo with its square (the prior), also multiplied by the file's spectral balance
  (treble and low share of the onsets) and onset rate, so the prior can depend on them;
* for a short loop (analysed repeated): how well its length fits whole beats and bars.

Inference is a dot product per candidate (numpy only, deterministic); the weights are
``tempo_model.json`` next to this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from djml.analysis.robust import median

FEATURE_SECONDS = 90.0       # candidate features look at the middle 90 s at most
FEATURE_VERSION = 1          # bump when a feature's definition changes (the weights go stale)
MODEL_FORMAT = 1
MODEL_PATH = Path(__file__).with_name("tempo_model.json")
_FOLD_BINS = 24
LOG_RATIO_LIMIT = 3.0        # feature log-ratios are clipped to ±3 (a factor of 20)
_WINDOW_SECONDS = 8.0
_AC_RATIOS = (1.0, 2.0, 3.0, 4.0, 0.5, 1.0 / 3.0, 1.5)
_GRID_RATIOS = (2.0, 0.5, 3.0, 1.5, 2.0 / 3.0, 4.0 / 3.0)

FEATURE_NAMES: list[str] = (
    ["log_bpm", "log_bpm_sq"]
    + [f"ac_{r:.3g}" for r in _AC_RATIOS]
    + ["grid"] + [f"grid_ratio_{r:.3g}" for r in _GRID_RATIOS]
    + ["grid_treble", "grid_low", "grid_body"]
    + [f"{band}_{at}" for band in ("fold", "treble") for at in ("half", "third", "two_thirds", "quarter")]
    + ["phase_consistency", "log_onsets_per_beat", "log_onsets_per_beat_sq", "spectral_peak"]
    + ["log_bpm_x_treble_share", "log_bpm_x_low_share", "log_bpm_x_onset_rate"]
    + ["loop_misfit", "loop_bars"]
)


class TempoModelError(RuntimeError):
    """The shipped tempo model is missing, corrupt or made for other features."""


@dataclass(frozen=True)
class Envelopes:
    """Prepared (detrended, rectified, smoothed) onset envelopes at ``fps`` frames/s:
    ``all`` bands, ``treble`` (hats), ``low`` (kick, bass), ``body`` (below the treble)."""

    all: np.ndarray
    treble: np.ndarray
    low: np.ndarray
    body: np.ndarray
    fps: float
    raw_treble_share: float   # treble flux / all-band flux, before preparation
    raw_low_share: float
    loop_seconds: float | None = None   # a loop repeated to make these envelopes: its length

    def middle(self, seconds: float) -> "Envelopes":
        """At most `seconds` from the middle: features of a long track cost no more than
        those of a 90-s excerpt, and its intro and outro (often beatless) weigh less."""
        n = int(seconds * self.fps)
        if len(self.all) <= n:
            return self
        start = (len(self.all) - n) // 2
        cut = slice(start, start + n)
        return Envelopes(self.all[cut], self.treble[cut], self.low[cut], self.body[cut], self.fps,
                         self.raw_treble_share, self.raw_low_share, self.loop_seconds)


def grid_strength(e: np.ndarray, period: float, fps: float) -> tuple[float, np.ndarray, int]:
    """Mean envelope on the best-phase beat grid of `period` frames.

    The envelope is sampled (linear interpolation) on grids shifted in half-frame steps,
    separately per window of ~8 s, so the result does not depend on how the period
    divides into frames and slight tempo drift does not blur it.
    Returns (strength averaged over windows, best phase per window, beats per window).
    """
    n_beats = int((len(e) - 1) / period)
    if n_beats < 2 or period < 1.0:
        return 0.0, np.zeros(1), 1
    phases = np.arange(0.0, period, 0.5)
    k = np.arange(n_beats)
    vals = np.interp(phases[:, None] + k[None, :] * period, np.arange(len(e)), e)
    per_win = max(4, int(round(_WINDOW_SECONDS * fps / period)))
    n_win = max(1, n_beats // per_win)
    starts = np.arange(n_win) * per_win
    counts = np.diff(np.append(starts, n_beats))
    sums = np.add.reduceat(vals, starts, axis=1) / counts
    best = sums.argmax(axis=0)
    return float(sums[best, np.arange(n_win)].mean()), phases[best], per_win


def autocorrelation(e: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of the mean-removed envelope, all lags."""
    x = e - e.mean()
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, n)) ** 2, n)[: len(x)]
    return ac / (ac[0] + 1e-12)


def candidate_features(env: Envelopes, bpms: list[float], ac: np.ndarray,
                       spec: np.ndarray, df: float) -> np.ndarray:
    """(len(bpms), len(FEATURE_NAMES)) float64 features; see the module docstring."""
    env = env.middle(FEATURE_SECONDS)
    fps = env.fps
    e, h, low, body = env.all, env.treble, env.low, env.body
    means = [max(float(x.mean()), 1e-12) for x in (e, h, low, body)]
    seconds = len(e) / fps
    onset_rate = _onset_count(e) / max(seconds, 1e-9)
    spec_max = _spectral_max(spec, df, bpms) + 1e-12
    rows = []
    for bpm in bpms:
        period = 60.0 * fps / bpm
        lb = float(np.log2(bpm / 120.0))
        acs = [_ac_at(ac, period * r) for r in _AC_RATIOS]
        g, phases, _ = grid_strength(e, period, fps)
        ratios = [_log_ratio(grid_strength(e, period / r, fps)[0], g) for r in _GRID_RATIOS]
        bands = [_log_ratio(grid_strength(x, period, fps)[0], m)
                 for x, m in ((h, means[1]), (low, means[2]), (body, means[3]))]
        phase = _beat_phase(body, period)
        fold = _fold_relatives(e, period, phase)
        treble_fold = _fold_relatives(h, period, phase)
        consistency = float(np.abs(np.mean(np.exp(2j * np.pi * phases / period)))) if len(phases) > 1 else 1.0
        opb = np.log2(max(onset_rate * 60.0 / bpm, 1e-3))
        peak = _spectral_at(spec, df, bpm) / spec_max
        rows.append([lb, lb * lb, *acs, _log_ratio(g, means[0]), *ratios, *bands, *fold, *treble_fold,
                     consistency, opb, opb * opb, peak,
                     lb * env.raw_treble_share, lb * env.raw_low_share, lb * np.log1p(onset_rate),
                     *_loop_fit(bpm, env.loop_seconds)])
    return np.asarray(rows, dtype=np.float64)


def _loop_fit(bpm: float, loop_seconds: float | None) -> tuple[float, float]:
    """For a repeated loop: how far its length is from whole beats at `bpm` (0 = exact,
    1 = half a beat off), and whether the beats make whole bars of 4 or 3 (power-of-two
    or 3 × power-of-two beats). Zero for anything else (the softmax then ignores them)."""
    if loop_seconds is None:
        return 0.0, 0.0
    beats = bpm * loop_seconds / 60.0
    whole = max(1, round(beats))
    misfit = min(1.0, 2.0 * abs(beats - whole))
    bars = float(misfit < 0.3 and any(whole == m * 2 ** k for m in (1, 3) for k in range(7)))
    return misfit, bars


def _ac_at(ac: np.ndarray, lag: float) -> float:
    if lag < 1.0 or lag >= len(ac) - 1:
        return 0.0
    return float(np.interp(lag, np.arange(len(ac)), ac))


def _beat_phase(e: np.ndarray, period: float) -> float:
    """Best single grid phase (frames) of `e` at `period` over the whole envelope."""
    n_beats = int((len(e) - 1) / period)
    if n_beats < 1:
        return 0.0
    phases = np.arange(0.0, period, 0.5)
    on = np.interp(phases[:, None] + np.arange(n_beats)[None, :] * period, np.arange(len(e)), e)
    return float(phases[int(np.argmax(on.mean(axis=1)))])


def _fold_relatives(x: np.ndarray, period: float, phase: float) -> list[float]:
    """`x` folded on the beat (24 bins from `phase`): log of its peak near the half, the
    first and second third and the quarters of the beat relative to the peak on the beat
    (±0.05 beat): a swung eighth sits near 2/3 only, a triple subdivision on both."""
    n_beats = int((len(x) - 1 - phase) / period)
    if n_beats < 1:
        return [0.0, 0.0, 0.0, 0.0]
    pos = np.arange(_FOLD_BINS) / _FOLD_BINS * period
    k = np.arange(n_beats) * period
    prof = np.interp(phase + k[:, None] + pos[None, :], np.arange(len(x)), x).mean(axis=0)
    frac = np.arange(_FOLD_BINS) / _FOLD_BINS

    def near(points: tuple[float, ...]) -> float:
        return float(np.mean([prof[np.abs(((frac - p + 0.5) % 1.0) - 0.5) <= 0.05].max() for p in points]))

    beat = near((0.0,)) + 1e-12
    return [_log_ratio(near(p), beat) for p in ((0.5,), (1 / 3,), (2 / 3,), (0.25, 0.75))]


def _log_ratio(a: float, b: float) -> float:
    """log(a / b) within ±LOG_RATIO_LIMIT: an empty position in clean material must not
    read as an outlier (log 1e-12) that outweighs every other feature."""
    return float(np.clip(np.log(max(a, 1e-12) / max(b, 1e-12)), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT))


def _onset_count(e: np.ndarray) -> int:
    if len(e) < 3 or e.max() <= 0:
        return 0
    thr = max(0.1 * float(e.max()), float(median(e) + np.std(e)))
    peaks = np.flatnonzero((e[1:-1] > e[:-2]) & (e[1:-1] >= e[2:]) & (e[1:-1] > thr))
    return len(peaks)


def _spectral_at(spec: np.ndarray, df: float, bpm: float, rel: float = 0.015) -> float:
    f = bpm / 60.0
    lo, hi = int(f * (1 - rel) / df), int(np.ceil(f * (1 + rel) / df)) + 1
    seg = spec[max(lo, 0):min(hi, len(spec))]
    return float(seg.max()) if len(seg) else 0.0


def _spectral_max(spec: np.ndarray, df: float, bpms: list[float]) -> float:
    return max((_spectral_at(spec, df, b) for b in bpms), default=0.0)


@dataclass(frozen=True)
class TempoModel:
    """Standardise, then a score per candidate — linear, plus a small tanh layer when
    ``hidden`` is not empty (cues that only count together, e.g. the tempo prior and
    the subdivision) — and a softmax over a file's candidates."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    hidden: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FEATURE_NAMES))))
    hidden_bias: np.ndarray = field(default_factory=lambda: np.zeros(0))
    output: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def scores(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.scale
        s = z @ self.weights
        if len(self.output):
            s = s + np.tanh(z @ self.hidden.T + self.hidden_bias) @ self.output
        return s

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        s = self.scores(features)
        s = np.exp(s - s.max())
        return s / s.sum()

    def to_json(self, **metadata: object) -> str:
        def r(a: np.ndarray) -> list:
            return np.round(np.asarray(a, dtype=np.float64), 10).tolist()
        return json.dumps({
            "format": MODEL_FORMAT, "feature_version": FEATURE_VERSION, "feature_names": FEATURE_NAMES,
            "mean": r(self.mean), "scale": r(self.scale), "weights": r(self.weights),
            "hidden": r(self.hidden), "hidden_bias": r(self.hidden_bias), "output": r(self.output),
            **metadata,
        }, indent=1, sort_keys=True) + "\n"


def parse_model(text: str, source: str = "tempo model") -> TempoModel:
    """A :class:`TempoModel` from its JSON; TempoModelError unless it was made for these
    features (format, feature version and names recorded at training are checked)."""
    d = len(FEATURE_NAMES)
    try:
        data = json.loads(text)
        recorded = (data["format"], data["feature_version"], data["feature_names"])
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
        layer = [np.asarray(data[k], dtype=np.float64).reshape(shape) for k, shape in
                 (("hidden", (-1, d)), ("hidden_bias", (-1,)), ("output", (-1,)))]
    except (ValueError, KeyError, TypeError) as exc:
        raise TempoModelError(f"{source} is corrupt: {exc}") from None
    if recorded != (MODEL_FORMAT, FEATURE_VERSION, FEATURE_NAMES):
        raise TempoModelError(f"{source} was trained for other features (format {recorded[0]}, feature "
                              f"version {recorded[1]}, {len(recorded[2])} names; this djml reads format "
                              f"{MODEL_FORMAT}, version {FEATURE_VERSION}, {len(FEATURE_NAMES)} names); "
                              "rebuild it: python -m djml.models.tempo_train")
    if (any(a.shape != (d,) for a in arrays) or not np.all(arrays[1] > 0)
            or not len(layer[0]) == len(layer[1]) == len(layer[2])):
        raise TempoModelError(f"{source} has the wrong shape")
    return TempoModel(*arrays, *layer)


@lru_cache(maxsize=1)
def default_model() -> TempoModel:
    """The shipped model (read once per process)."""
    try:
        text = MODEL_PATH.read_text(encoding="utf-8")
    except OSError as exc:
        raise TempoModelError(f"tempo model missing ({MODEL_PATH}): {exc}") from None
    return parse_model(text, str(MODEL_PATH))
