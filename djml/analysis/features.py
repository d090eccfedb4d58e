"""Timbre statistics accumulated over frames, and the fixed-length feature vector.

Why accumulate sums instead of keeping frames: a two-hour mix has ~300k frames; the
mean/std of each statistic needs only running sums, so memory stays constant.
"""

from __future__ import annotations

import math

import numpy as np

from djml.analysis import spectral
from djml.analysis.layout import FEATURE_DOC, FEATURE_NAMES, N_MELS, N_MFCC, TIMBRE_NAMES, _PER_FRAME  # noqa: F401 - re-exported

SILENT_DB = -60.0   # frames quieter than this (≈ RMS dBFS) are left out of timbre stats


class TimbreAccumulator:
    """Running sums of per-frame spectral statistics for mean/std."""

    def __init__(self, sr: int, n_fft: int) -> None:
        self.sr, self.n_fft = sr, n_fft
        self.count = 0
        self.sums = np.zeros(len(_PER_FRAME))
        self.squares = np.zeros(len(_PER_FRAME))

    def add(self, power: np.ndarray, logmel: np.ndarray) -> None:
        """Frames of a power spectrogram and their log-mel (dB) rows."""
        loud = spectral.log_power(power.sum(axis=1)) > SILENT_DB   # ~ frame RMS dBFS
        if not loud.any():
            return
        stats = spectral.spectral_stats(power[loud], self.sr, self.n_fft)
        mfcc = logmel[loud] @ spectral.dct_matrix(N_MFCC, logmel.shape[1])
        table = np.column_stack([
            stats["centroid"] / 1000.0, stats["rolloff"] / 1000.0, stats["bandwidth"] / 1000.0,
            stats["flatness"], stats["contrast"], stats["bands"], mfcc,
        ]).astype(np.float64)
        self.count += len(table)
        self.sums += table.sum(axis=0)
        self.squares += (table**2).sum(axis=0)

    def result(self) -> dict[str, float]:
        if self.count == 0:
            return {name: 0.0 for name in TIMBRE_NAMES}
        mean = self.sums / self.count
        std = np.sqrt(np.maximum(self.squares / self.count - mean**2, 0.0))
        values = np.concatenate([mean, std])
        return {name: round(float(v), 5) for name, v in zip(TIMBRE_NAMES, values)}


class FeatureNameError(ValueError):
    """The values given for a feature vector do not match FEATURE_NAMES: a programming
    error in an analysis pipeline, never bad input."""


def feature_vector(values: dict[str, float]) -> np.ndarray:
    """Order `values` by FEATURE_NAMES.

    Every name must be present with a number, and no other name may appear: a value that
    silently became 0 (a renamed statistic, a forgotten field) would corrupt every stored
    vector, the similarity index and the models trained on them without any error, so a
    pipeline states its zeros explicitly (tracks: attack_log = decay_log = 0)."""
    missing = [name for name in FEATURE_NAMES if name not in values]
    unknown = sorted(set(values) - set(FEATURE_NAMES))
    empty = [name for name in FEATURE_NAMES if name in values and values[name] is None]
    if missing or unknown or empty:
        problems = [f"{label}: {', '.join(names)}" for label, names in
                    (("missing", missing), ("not in FEATURE_NAMES", unknown), ("None", empty)) if names]
        raise FeatureNameError("feature vector values do not match FEATURE_NAMES (" + "; ".join(problems) + ")")
    return np.array([float(values[name]) for name in FEATURE_NAMES], dtype=np.float32)


def level_db(linear: float) -> float:
    return round(20.0 * math.log10(max(linear, 1e-10)), 2)
