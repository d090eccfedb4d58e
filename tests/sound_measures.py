"""How the plausibility tests measure a generated one-shot against real ones: the same
window, spectrum and decay measures that were used on the real Hydrogen / GM sounds whose
ranges the tests quote (a window from 5 ms before the peak, Hann, 5 ms level frames)."""

from __future__ import annotations

import numpy as np

from djml import synth


def spectrum(y: np.ndarray, seconds: float, lead: float = 0.005) -> tuple[np.ndarray, np.ndarray, int]:
    """Power spectrum of `seconds` from `lead` s before the peak, its frequencies, and that start."""
    start = max(0, int(np.abs(y).argmax()) - int(lead * synth.SR))
    w = y[start:start + int(seconds * synth.SR)]
    power = np.abs(np.fft.rfft(w * np.hanning(len(w)))) ** 2
    return power, np.fft.rfftfreq(len(w), 1 / synth.SR), start


def share(power: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> float:
    """Fraction of the power in [lo, hi) Hz."""
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())


def centroid(power: np.ndarray, freqs: np.ndarray) -> float:
    return float((freqs * power).sum() / power.sum())


def flatness(power: np.ndarray, freqs: np.ndarray) -> float:
    """Spectral flatness over 1-10 kHz (geometric / arithmetic mean)."""
    band = power[(freqs >= 1000) & (freqs < 10000)]
    return float(np.exp(np.log(band).mean()) / band.mean())


def seconds_until_down(y: np.ndarray, start: int, db: float) -> float:
    """Time from `start` until the 5 ms frame level stays more than `db` below its maximum."""
    hop = int(0.005 * synth.SR)
    seg = y[start:]
    frames = seg[: len(seg) // hop * hop].reshape(-1, hop)
    level = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-20)
    return (np.flatnonzero(level > level.max() - db)[-1] + 1) * hop / synth.SR


def attack(y: np.ndarray) -> float:
    """Seconds from the first sample above 1 % of the peak to the peak."""
    onset = np.flatnonzero(np.abs(y) > 0.01 * np.abs(y).max())[0]
    return float((np.abs(y).argmax() - onset) / synth.SR)


def descriptors(y: np.ndarray, seconds: float = 0.2) -> dict[str, float]:
    """Every measure at once, by the names the range tables use."""
    power, freqs, start = spectrum(y, seconds)
    return {"centroid": centroid(power, freqs), "share_below_150": share(power, freqs, 0, 150),
            "share_150_1k": share(power, freqs, 150, 1000), "share_1k_3k": share(power, freqs, 1000, 3000),
            "share_above_8k": share(power, freqs, 8000, synth.SR), "flatness": flatness(power, freqs),
            "attack": attack(y), "down20": seconds_until_down(y, start, 20),
            "down40": seconds_until_down(y, start, 40)}
