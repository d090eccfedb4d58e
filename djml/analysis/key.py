"""Musical key from spectral peaks: a tuned pitch-class profile matched to key profiles.

Why spectral peaks instead of a chroma filterbank: at n_fft=2048 / 22050 Hz a bin is
10.8 Hz wide, wider than a semitone below ~180 Hz, so bin-centre chroma smears bass
notes across pitch classes. Interpolating each spectral peak's frequency recovers the
pitch of isolated partials at any height (the HPCP idea), and a 10-cent histogram lets
us remove a global tuning offset before folding to 12 classes.

Profiles (major, minor; index 0 = tonic) were compared on the tune halves (even rows)
of both benchmark sets (benchmarks/accuracy_analysis.py: synthetic drums+harmony clips
and rendered music21 chorales/folk tunes): Temperley, Krumhansl-Kessler, Sha'ath,
Aarden-Essen, Bellman-Budge and Sapp's simple weights, alone and averaged. The mean
correlation over Aarden-Essen and the simple weights (``DEFAULT_PROFILE``) was best on
both tune halves (MIREX 0.94 / 0.84 vs Temperley's 0.90 / 0.76); Temperley alone
confuses relative keys, the simple weights alone are weak on melodic folk tunes.

Peaks below FMIN (G2, 98 Hz) are ignored: kick drums and sub-bass fill that region, and
pitch there is the least reliable (a 10.8 Hz bin is two semitones at 50 Hz). Ignoring
it fixed most subdominant guesses on clips whose only harmony is a bass line.
"""

from __future__ import annotations

import numpy as np

from djml.analysis.spectral import fft_freqs

PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # Krumhansl & Kessler (1982) probe-tone ratings.
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    # Temperley (2007), Kostka-Payne corpus frequencies.
    "temperley": (
        (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
        (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330),
    ),
    # Sha'ath (KeyFinder): Krumhansl-like with a stronger minor seventh, tuned on pop/EDM.
    "shaath": (
        (6.6, 2.0, 3.5, 2.3, 4.6, 4.0, 2.5, 5.2, 2.4, 3.7, 2.3, 3.4),
        (6.5, 2.7, 3.5, 5.4, 2.6, 3.5, 2.5, 5.2, 4.0, 2.7, 4.3, 3.2),
    ),
    # Aarden (2003), Essen folk-song corpus pitch-class frequencies (as in music21).
    "aarden": (
        (17.766, 0.146, 14.927, 0.160, 19.805, 11.359, 0.291, 22.062, 0.146, 8.155, 0.233, 4.951),
        (18.265, 0.738, 14.050, 16.860, 0.702, 14.436, 0.702, 18.616, 4.566, 1.932, 7.376, 1.756),
    ),
    # Bellman (2005) / Budge (1943) chord-frequency profiles (as in music21).
    "bellman": (
        (16.80, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.80, 8.04, 0.62, 10.57),
        (18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21),
    ),
    # Sapp's simple weights: tonic and fifth 2, other scale degrees 1 (as in music21).
    "simple": (
        (2, 0, 1, 0, 1, 1, 0, 2, 0, 1, 0, 1),
        (2, 0, 1, 1, 0, 1, 0, 2, 1, 0, 0.5, 0.5),
    ),
}
DEFAULT_PROFILE = ("aarden", "simple")
FMIN, FMAX = 98.0, 5000.0
_SUB = 10   # histogram sub-bins per semitone (10 cents)


def spectral_peaks(power: np.ndarray, sr: int, n_fft: int, fmin: float = FMIN,
                   fmax: float = FMAX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolated spectral peaks between fmin and fmax, at most 60 dB below each frame's
    strongest one: (frame index, 10-cent pitch-class bin 0..119, amplitude weight)."""
    f = fft_freqs(sr, n_fft)
    lo, hi = int(np.searchsorted(f, fmin)), int(np.searchsorted(f, fmax))
    p = power[:, lo - 1:hi + 1]
    db = 10.0 * np.log10(p + 1e-12)
    mid = db[:, 1:-1]
    is_peak = (mid > db[:, :-2]) & (mid >= db[:, 2:]) & (mid > mid.max(axis=1, keepdims=True) - 60.0)
    fr, k = np.nonzero(is_peak)
    a, b, c = db[fr, k], db[fr, k + 1], db[fr, k + 2]
    denom = a - 2 * b + c
    shift = np.where(denom < 0, 0.5 * (a - c) / np.where(denom < 0, denom, -1.0), 0.0)
    freq = (lo + k + shift) * (sr / n_fft)
    midi = 69.0 + 12.0 * np.log2(np.maximum(freq, 1.0) / 440.0)
    bins = np.round(midi * _SUB).astype(np.int64) % (12 * _SUB)
    return fr, bins, np.sqrt(p[fr, k + 1])


def frame_normalised(fr: np.ndarray, weight: np.ndarray, n_frames: int) -> np.ndarray:
    """Peak weights divided by their frame's total, so every frame counts once."""
    frame_total = np.bincount(fr, weights=weight, minlength=n_frames)
    return weight / np.maximum(frame_total[fr], 1e-12)


def pitch_histogram(power: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """(120,) energy of spectral peaks per 10-cent pitch-class bin, each frame normalised."""
    fr, bins, weight = spectral_peaks(power, sr, n_fft)
    return np.bincount(bins, weights=frame_normalised(fr, weight, len(power)), minlength=12 * _SUB)


def fold_chroma(hist: np.ndarray) -> tuple[np.ndarray, float]:
    """Estimate tuning (semitones, -0.5..0.5) and fold the fine histogram to 12 classes."""
    per_sub = hist.reshape(12, _SUB).sum(axis=0)          # energy by cents offset
    angles = 2 * np.pi * np.arange(_SUB) / _SUB
    tuning = float(np.angle(np.sum(per_sub * np.exp(1j * angles))) / (2 * np.pi))
    centred = np.roll(hist, -int(round(tuning * _SUB)))   # tuning offset -> 0
    # class c takes offsets -50..+40 cents around its centre, cosine-squared tapered
    rows = np.roll(centred, _SUB // 2).reshape(12, _SUB)
    taper = np.cos(np.pi * (np.arange(_SUB) - _SUB // 2) / _SUB) ** 2
    chroma = rows @ taper
    return chroma / (chroma.max() + 1e-12), tuning


def key_scores(chroma: np.ndarray, profile: str | tuple[str, ...] = DEFAULT_PROFILE) -> np.ndarray:
    """(24,) Pearson correlation of the chroma with each key's rotated profile
    (averaged over the profiles when given several names)."""
    if not isinstance(profile, str):
        return np.mean([key_scores(chroma, name) for name in profile], axis=0)
    major, minor = (np.asarray(p, dtype=np.float64) for p in PROFILES[profile])
    c = (chroma - chroma.mean()) / (chroma.std() + 1e-12)
    scores = np.empty(24)
    for mode, prof in ((0, major), (1, minor)):
        z = (prof - prof.mean()) / prof.std()
        for tonic in range(12):
            scores[12 * mode + tonic] = np.dot(c, np.roll(z, tonic)) / 12.0
    return scores


def detect_key(chroma: np.ndarray, profile: str | tuple[str, ...] = DEFAULT_PROFILE) -> tuple[int | None, float]:
    """(key 0..23 per djml.keys, confidence 0..1); None for chroma without tonal content.

    Confidence is the best correlation scaled by its lead over the runner-up:
    r1 * (1 - exp(-(r1 - r2) / 0.05)), so near-ties (relative/fifth keys) read low.
    """
    if not np.isfinite(chroma).all() or chroma.max() <= 0 or chroma.std() < 1e-6:
        return None, 0.0
    scores = key_scores(chroma, profile)
    order = np.argsort(scores)[::-1]
    r1, r2 = scores[order[0]], scores[order[1]]
    conf = max(0.0, r1) * (1.0 - np.exp(-(r1 - r2) / 0.05))
    return int(order[0]), round(float(conf), 3)
