"""One STFT and everything derived from it: mel, MFCC, onset flux, spectral statistics.

Why hand-written instead of librosa: ``librosa.filters``/``librosa.feature`` pull in
numba on first use (~2 s per worker process, measured), and librosa's features each
recompute the STFT from the signal. Here streaming frames (a strided view, no copies)
are transformed once per block (scipy's pocketfft, see :mod:`djml.analysis.fft`) and
every feature is a cheap matrix product or reduction of the power spectrum.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from djml.analysis.fft import rfft

POWER_FLOOR = 1e-10   # ~ -100 dB re full scale: silence floor for log spectra


@lru_cache(maxsize=8)
def hann(n: int) -> np.ndarray:
    """Periodic Hann window scaled so a full-scale sine has power ~0.25 at its peak bin."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    return (w / w.sum()).astype(np.float32)


@lru_cache(maxsize=8)
def fft_freqs(sr: int, n_fft: int) -> np.ndarray:
    return np.fft.rfftfreq(n_fft, 1.0 / sr).astype(np.float32)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, log above), as librosa's default."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * 200.0 / 3)


@lru_cache(maxsize=8)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 20.0,
                   fmax: float | None = None) -> np.ndarray:
    """(bins, n_mels) triangular, area-normalised filters: ``power @ fb`` gives mel power."""
    fmax = fmax or sr / 2
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    freqs = fft_freqs(sr, n_fft).astype(np.float64)[:, None]
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    rise = (freqs - lo) / (mid - lo)
    fall = (hi - freqs) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (hi - lo))
    return fb.astype(np.float32)


@lru_cache(maxsize=4)
def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_mfcc) orthonormal DCT-II: ``logmel @ D`` gives MFCCs."""
    n = np.arange(n_mels)[:, None]
    k = np.arange(n_mfcc)[None, :]
    d = np.cos(np.pi / n_mels * (n + 0.5) * k) * np.sqrt(2.0 / n_mels)
    d[:, 0] /= np.sqrt(2.0)
    return d.astype(np.float32)


class StreamingFrames:
    """Centred frames of a signal fed in blocks, as a strided (frames, n) view per block.

    For callers that transform frames themselves (see :func:`power`), possibly only a
    subset of them or at a smaller size centred in the frame."""

    def __init__(self, n: int, hop: int) -> None:
        self.n, self.hop = n, hop
        self._buf = np.zeros(n // 2, dtype=np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        self._buf = np.concatenate([self._buf, np.asarray(block, dtype=np.float32)])
        return self._frames()

    def flush(self) -> np.ndarray:
        self._buf = np.concatenate([self._buf, np.zeros(self.n // 2, np.float32)])
        return self._frames()

    def _frames(self) -> np.ndarray:
        if len(self._buf) < self.n:
            return np.zeros((0, self.n), dtype=np.float32)
        count = 1 + (len(self._buf) - self.n) // self.hop
        frames = np.lib.stride_tricks.sliding_window_view(self._buf, self.n)[:: self.hop][:count]
        self._buf = self._buf[count * self.hop:]     # frames keep the old buffer alive
        return frames


def power(frames: np.ndarray, n_fft: int) -> np.ndarray:
    """(frames, n_fft//2+1) power of the centred n_fft samples of each row, Hann-windowed.

    re² + im² (same arithmetic as ``spec.real**2 + spec.imag**2``) by squaring the
    spectrum's float view in place and adding its interleaved halves: two passes and
    no temporaries besides the output."""
    start = (frames.shape[1] - n_fft) // 2
    spec = rfft(frames[:, start:start + n_fft] * hann(n_fft))
    parts = spec.view(np.float32 if spec.dtype == np.complex64 else np.float64)
    np.square(parts, out=parts)
    return np.add(parts[..., 0::2], parts[..., 1::2])


def power_spectrogram(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Whole-signal (frames, bins) power spectrogram of centred frames, for short audio."""
    framer = StreamingFrames(n_fft, hop)
    return np.concatenate([power(framer.push(y), n_fft), power(framer.flush(), n_fft)])


def log_power(x: np.ndarray) -> np.ndarray:
    """dB with a fixed floor, so blocks of a stream are comparable."""
    return 10.0 * np.log10(np.maximum(x, POWER_FLOOR))


def onset_flux(logmel: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Half-wave rectified log-mel difference, mean over bands (frames,)."""
    return onset_flux_bands(logmel, previous, logmel.shape[1], 0)[0]


def onset_flux_bands(logmel: np.ndarray, previous: np.ndarray | None, high_from: int,
                     low_below: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flux over all bands, over bands >= high_from, over bands < low_below), from one
    rectified difference. The treble part carries hats and shakers, which mark the
    subdivisions of the beat (see tempo_model.candidate_features); the low part carries kick and bass
    (see rhythm.rhythm_pattern). An empty band range gives zeros."""
    prev = logmel[:1] if previous is None else previous[None, :]
    diff = np.diff(np.concatenate([prev, logmel]), axis=0)
    np.maximum(diff, 0.0, out=diff)

    def mean(part: np.ndarray) -> np.ndarray:
        return part.mean(axis=1) if part.shape[1] else np.zeros(len(diff), diff.dtype)

    return diff.mean(axis=1), mean(diff[:, high_from:]), mean(diff[:, :low_below])


@lru_cache(maxsize=8)
def mel_band_index(sr: int, n_mels: int, hz: float, fmin: float = 20.0) -> int:
    """First band of mel_filterbank(sr, ., n_mels, fmin) whose centre is at or above hz."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(sr / 2), n_mels + 2))
    return int(np.searchsorted(edges[1:-1], hz))


CONTRAST_EDGES = (200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 11025.0)
BAND_EDGES = (150.0, 2500.0)   # low | mid | high energy split


@lru_cache(maxsize=8)
def _band_masks(sr: int, n_fft: int, edges: tuple[float, ...]) -> list[np.ndarray]:
    f = fft_freqs(sr, n_fft)
    lows = (0.0,) + edges[:-1]
    return [(f >= lo) & (f < hi) for lo, hi in zip(lows, edges)]


def spectral_stats(power: np.ndarray, sr: int, n_fft: int) -> dict[str, np.ndarray]:
    """Per-frame centroid/rolloff/bandwidth (Hz), flatness (0..1), octave contrast (dB),
    band energy fractions; all from one power spectrogram (frames, bins)."""
    f = fft_freqs(sr, n_fft)
    total = power.sum(axis=1) + POWER_FLOOR
    centroid = power @ f / total
    bandwidth = np.sqrt(np.maximum(power @ (f * f) / total - centroid**2, 0.0))
    cum = np.cumsum(power, axis=1)
    rolloff = f[np.minimum((cum < 0.85 * cum[:, -1:]).sum(axis=1), len(f) - 1)]
    logp = np.log(np.maximum(power, POWER_FLOOR))
    flatness = np.exp(logp.mean(axis=1)) / (power.mean(axis=1) + POWER_FLOOR)
    contrast = []
    for mask in _band_masks(sr, n_fft, CONTRAST_EDGES)[1:]:   # 6 octave bands from 200 Hz
        band = np.sort(power[:, mask], axis=1)
        k = max(1, int(0.2 * band.shape[1]))
        peak = band[:, -k:].mean(axis=1)
        valley = band[:, :k].mean(axis=1)
        contrast.append(log_power(peak) - log_power(valley))
    bands = np.stack([power[:, m].sum(axis=1) for m in _band_masks(sr, n_fft, BAND_EDGES + (sr / 2 + 1,))],
                     axis=1)
    return {
        "centroid": centroid, "bandwidth": bandwidth, "rolloff": rolloff,
        "flatness": np.minimum(flatness, 1.0), "contrast": np.stack(contrast, axis=1),
        "bands": bands / total[:, None], "energy": total,
    }
