"""Signal building blocks for the training synthesiser (:mod:`djml.models.drumsynth`):
band-limited oscillators, envelopes, noise colours, time-varying biquad filters, drive,
a short synthetic room and a formant bank. numpy + scipy only, all deterministic.

Why separate from :mod:`djml.synth`: that module makes the demo and test audio the smoke
tests check the shipped model against; the training synthesiser must not share its
recipes, so it does not share its code either.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve, lfilter

TAU = 2 * np.pi


def seconds(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def exp_env(n: int, sr: int, t60: float) -> np.ndarray:
    """Exponential decay reaching -60 dB after ``t60`` seconds."""
    return np.exp(-6.9078 * seconds(n, sr) / max(t60, 1e-4))


def adsr(n: int, sr: int, attack: float, decay: float, sustain: float, release: float,
         hold: float) -> np.ndarray:
    """Linear attack, exponential decay to ``sustain``, held until ``hold`` s, then an
    exponential release (60 dB over ``release`` s)."""
    t = seconds(n, sr)
    env = np.where(t < attack, t / max(attack, 1e-5),
                   sustain + (1 - sustain) * np.exp(-6.9078 * (t - attack) / max(decay, 1e-4)))
    at_hold = np.interp(hold, t, env) if n else 0.0
    return np.where(t < hold, env, at_hold * np.exp(-6.9078 * (t - hold) / max(release, 1e-4)))


def phase_of(freq: np.ndarray | float, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """Phase in cycles (not radians) of a (possibly gliding) frequency."""
    f = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,))
    return phase0 + np.cumsum(f) / sr


def _polyblep(t: np.ndarray, dt: np.ndarray) -> np.ndarray:
    out = np.zeros_like(t)
    lo = t < dt
    x = t[lo] / dt[lo]
    out[lo] = 2 * x - x * x - 1
    hi = t > 1 - dt
    x = (t[hi] - 1) / dt[hi]
    out[hi] = x * x + 2 * x + 1
    return out


def saw(freq: np.ndarray | float, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """Band-limited (polyBLEP) sawtooth."""
    dt = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,)) / sr
    t = phase_of(freq, n, sr, phase0) % 1.0
    return 2 * t - 1 - _polyblep(t, np.maximum(dt, 1e-9))


def square(freq: np.ndarray | float, n: int, sr: int, width: float = 0.5, phase0: float = 0.0) -> np.ndarray:
    """Band-limited pulse wave of duty cycle ``width`` (two offset saws)."""
    return 0.5 * (saw(freq, n, sr, phase0) - saw(freq, n, sr, phase0 + width))


def sine(freq: np.ndarray | float, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    return np.sin(TAU * phase_of(freq, n, sr, phase0))


def glide(n: int, sr: int, start: float, end: float, time: float) -> np.ndarray:
    """Frequency falling (or rising) exponentially from ``start`` towards ``end``."""
    return end + (start - end) * np.exp(-seconds(n, sr) / max(time, 1e-4))


def noise(n: int, rng: np.random.Generator, colour: float = 0.0, sr: int = 44100) -> np.ndarray:
    """Gaussian noise with a power spectrum ~ f**-colour (0 white, 1 pink, 2 brown), unit peak."""
    if colour == 0.0:
        x = rng.standard_normal(n)
    else:
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.fft.rfftfreq(n, 1 / sr), 20.0)
        x = np.fft.irfft(spec * f ** (-colour / 2), n)
    return x / (np.abs(x).max() + 1e-12)


def _biquad(kind: str, f0: float, q: float, sr: int, gain_db: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """RBJ cookbook coefficients (normalised)."""
    f0 = float(np.clip(f0, 10.0, sr * 0.49))
    w = TAU * f0 / sr
    cw, sw = np.cos(w), np.sin(w)
    alpha = sw / (2 * max(q, 1e-3))
    a_lin = 10 ** (gain_db / 40)
    if kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "bandpass":            # constant 0 dB peak gain
        b = [alpha, 0.0, -alpha]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "peak":
        b = [1 + alpha * a_lin, -2 * cw, 1 - alpha * a_lin]
        a = [1 + alpha / a_lin, -2 * cw, 1 - alpha / a_lin]
    elif kind == "lowshelf" or kind == "highshelf":
        sq = 2 * np.sqrt(a_lin) * alpha
        s = 1 if kind == "lowshelf" else -1
        b = [a_lin * ((a_lin + 1) - s * (a_lin - 1) * cw + sq), s * 2 * a_lin * ((a_lin - 1) - s * (a_lin + 1) * cw),
             a_lin * ((a_lin + 1) - s * (a_lin - 1) * cw - sq)]
        a = [(a_lin + 1) + s * (a_lin - 1) * cw + sq, -s * 2 * ((a_lin - 1) + s * (a_lin + 1) * cw),
             (a_lin + 1) + s * (a_lin - 1) * cw - sq]
    else:
        raise ValueError(f"unknown filter {kind!r}")
    a = np.asarray(a)
    return np.asarray(b) / a[0], a / a[0]


def filt(x: np.ndarray, kind: str, freq: float | np.ndarray, q: float = 0.707, sr: int = 44100,
         gain_db: float = 0.0, block: int = 128) -> np.ndarray:
    """A biquad; ``freq`` may be an array (one cutoff per sample: a filter sweep, updated
    every ``block`` samples with the state carried over)."""
    if np.ndim(freq) == 0:
        b, a = _biquad(kind, float(freq), q, sr, gain_db)
        return lfilter(b, a, x)
    freq = np.asarray(freq, dtype=np.float64)
    out = np.empty(len(x))
    zi = np.zeros(2)
    for i in range(0, len(x), block):
        b, a = _biquad(kind, float(freq[min(i, len(freq) - 1)]), q, sr, gain_db)
        out[i:i + block], zi = lfilter(b, a, x[i:i + block], zi=zi)
    return out


def drive(x: np.ndarray, amount: float) -> np.ndarray:
    """tanh saturation; amount 0 = clean, 1 = warm, 5+ = heavy distortion (peak kept)."""
    if amount <= 0:
        return x
    peak = np.abs(x).max() + 1e-12
    return np.tanh(x / peak * (1 + amount)) / np.tanh(1 + amount) * peak


def room(x: np.ndarray, rng: np.random.Generator, sr: int, t60: float, mix: float,
         predelay: float = 0.01) -> np.ndarray:
    """A short synthetic room: convolution with decaying, darkening noise (tail appended)."""
    if mix <= 0 or t60 <= 0:
        return x
    n = int(t60 * sr)
    ir = noise(n, rng) * exp_env(n, sr, t60)
    ir = filt(ir, "lowpass", np.geomspace(12000, 2500, n), 0.7, sr)
    ir = np.concatenate([np.zeros(int(predelay * sr)), ir])
    wet = fftconvolve(x, ir)
    wet *= np.abs(x).max() / (np.abs(wet).max() + 1e-12)
    out = np.zeros(len(wet))
    out[:len(x)] = x
    return out * (1 - mix) + wet * mix


# (Frequency, bandwidth) in Hz of the first four formants of sung vowels, for an adult male
# voice (textbook averages, rounded); ``formants(scale=...)`` shifts them for a smaller voice.
VOWELS = {
    "a": ((800, 80), (1150, 90), (2900, 120), (3900, 130)),
    "e": ((400, 60), (1700, 80), (2600, 120), (3300, 150)),
    "i": ((280, 50), (2250, 90), (2900, 100), (3500, 120)),
    "o": ((450, 70), (800, 80), (2830, 100), (3500, 130)),
    "u": ((325, 50), (700, 60), (2530, 170), (3500, 180)),
}


def formants(source: np.ndarray, vowel: str, sr: int, scale: float = 1.0) -> np.ndarray:
    """A glottal source through a parallel bank of formant band-passes (F1 loudest)."""
    out = np.zeros(len(source))
    for k, (f, bw) in enumerate(VOWELS[vowel]):
        out += filt(source, "bandpass", f * scale, f * scale / bw, sr) * (0.5 ** k if k else 1.0)
    return out


def fit(x: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad or cut to length n."""
    out = np.zeros(n)
    out[:min(n, len(x))] = x[:n]
    return out


def trim_tail(x: np.ndarray, sr: int, floor_db: float = -60.0, fade: float = 0.01) -> np.ndarray:
    """Cut the tail below ``floor_db`` of the peak, with a short fade so nothing clicks."""
    thr = np.abs(x).max() * 10 ** (floor_db / 20)
    idx = np.flatnonzero(np.abs(x) > thr)
    if not idx.size:
        return x[:1]
    y = x[: idx[-1] + 1].copy()
    m = min(len(y), int(fade * sr))
    if m > 1:
        y[-m:] *= np.linspace(1, 0, m)
    return y
