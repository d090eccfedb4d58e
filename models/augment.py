"""Audio augmentation that mimics what sample packs do to a sound (numpy only, seeded).

Why: a classifier trained on a few recorded kits and sound fonts meets packs whose sounds
were re-pitched in a sampler, EQ'd, saturated, squashed, put in a room, layered with vinyl
noise, trimmed at the front, or bounced at a low sample rate or bit depth. Each function
here does one of those to a mono float signal and returns a new signal at the same sample
rate; :func:`pack_chain` draws a random, plausible chain of them from a
``numpy.random.Generator`` so a training copy is reproducible from its seed.

Filters work in the frequency domain of the zero-padded signal (one-shots are short: one
FFT is cheaper than a recursive filter in Python, and needs no scipy); the compressor's
gain is computed on 2.9 ms blocks and interpolated back to samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = 1e-12


def _spectrum(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, int]:
    n = len(y)
    size = 1 << int(np.ceil(np.log2(max(2 * n, 16))))   # padding: no circular wrap-around
    return np.fft.rfft(y, size), np.fft.rfftfreq(size, 1.0 / sr), n


def _apply_response(y: np.ndarray, sr: int, response: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Zero-phase filter with magnitude ``response(freqs)`` (linear gain per bin)."""
    spec, freqs, n = _spectrum(np.asarray(y, np.float64), sr)
    return np.fft.irfft(spec * response(freqs), len(freqs) * 2 - 2)[:n].astype(np.float32)


def gain(y: np.ndarray, db: float) -> np.ndarray:
    return (np.asarray(y, np.float32) * np.float32(10 ** (db / 20))).astype(np.float32)


def normalise_peak(y: np.ndarray, peak_db: float) -> np.ndarray:
    """Scale so the peak sits at ``peak_db`` dBFS (packs are mastered to different levels)."""
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return gain(y, peak_db - 20 * np.log10(peak)) if peak > EPS else np.asarray(y, np.float32)


def tilt_eq(y: np.ndarray, sr: int, db_per_octave: float, pivot_hz: float = 1000.0) -> np.ndarray:
    """Tilt the spectrum around ``pivot_hz`` (positive = brighter), limited to +-18 dB."""
    def response(f):
        octaves = np.log2(np.maximum(f, 20.0) / pivot_hz)
        return 10 ** (np.clip(db_per_octave * octaves, -18, 18) / 20)

    return _apply_response(y, sr, response)


def band_filter(y: np.ndarray, sr: int, kind: str, freq_hz: float, *, order: int = 2,
                gain_db: float = 0.0, octaves: float = 1.0) -> np.ndarray:
    """Butterworth-magnitude ``highpass`` / ``lowpass`` of ``order``, or a ``bell`` of
    ``gain_db`` and width ``octaves`` (a Gaussian in log frequency) at ``freq_hz``."""
    if kind == "highpass":
        def response(f):
            return 1 / np.sqrt(1 + (freq_hz / np.maximum(f, 1e-3)) ** (2 * order))
    elif kind == "lowpass":
        def response(f):
            return 1 / np.sqrt(1 + (f / freq_hz) ** (2 * order))
    elif kind == "bell":
        def response(f):
            distance = np.log2(np.maximum(f, 1.0) / freq_hz) / max(octaves, 0.05)
            return 10 ** (gain_db * np.exp(-0.5 * distance ** 2) / 20)
    else:
        raise ValueError(f"unknown filter kind {kind!r} (highpass, lowpass, bell)")
    return _apply_response(y, sr, response)


def repitch(y: np.ndarray, semitones: float) -> np.ndarray:
    """Sampler-style re-pitch: play back faster or slower, so duration changes with pitch
    (+12 semitones = half as long), by linear interpolation."""
    ratio = 2 ** (semitones / 12)
    n_out = max(1, int(round(len(y) / ratio)))
    positions = np.arange(n_out) * ratio
    return np.interp(positions, np.arange(len(y)), np.asarray(y, np.float32)).astype(np.float32)


def time_stretch(y: np.ndarray, rate: float, frame: int = 1024, tolerance: int = 256) -> np.ndarray:
    """Change duration by ``1 / rate`` at the same pitch (WSOLA: each Hann frame is taken
    near its nominal input position where it best continues the previous one, so
    waveforms stay in phase; fine for a few percent)."""
    y = np.asarray(y, np.float32)
    if abs(rate - 1.0) < 1e-6 or len(y) < 2 * frame:
        return y.copy()
    hop = frame // 2
    padded = np.pad(y, (tolerance, frame + tolerance))
    n_frames = int((len(y) / rate) // hop) + 1
    window = np.hanning(frame + 1)[:-1].astype(np.float32)    # periodic: sums to 1 at 50 %
    out = np.zeros(n_frames * hop + frame, np.float32)
    previous = tolerance                                      # where frame k-1 was read
    for k in range(n_frames):
        nominal = tolerance + int(round(k * hop * rate))
        if k:
            target = padded[previous + hop: previous + hop + hop]        # its natural continuation
            region = padded[nominal - tolerance: nominal + tolerance + hop]
            if len(region) >= len(target) + 1 and np.abs(target).max() > EPS:
                nominal += int(np.argmax(np.correlate(region, target, "valid"))) - tolerance
        seg = padded[nominal: nominal + frame]
        out[k * hop: k * hop + len(seg)] += seg * window[: len(seg)]
        previous = nominal
    return out[: int(round(len(y) / rate))]


def saturate(y: np.ndarray, drive_db: float) -> np.ndarray:
    """Soft (tanh) saturation; output peak as input peak."""
    y = np.asarray(y, np.float32)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak < EPS:
        return y.copy()
    g = 10 ** (drive_db / 20) / peak
    return (np.tanh(y * g) / np.tanh(g * peak) * peak).astype(np.float32)


def hard_clip(y: np.ndarray, ceiling: float) -> np.ndarray:
    """Clip at ``ceiling`` times the peak (0 < ceiling <= 1), as a limiter pushed too far."""
    y = np.asarray(y, np.float32)
    limit = float(np.abs(y).max()) * ceiling if len(y) else 0.0
    return np.clip(y, -limit, limit).astype(np.float32)


def compress(y: np.ndarray, sr: int, threshold_db: float, ratio: float, *,
             attack_ms: float = 5.0, release_ms: float = 80.0, makeup: bool = True) -> np.ndarray:
    """Feed-forward peak compressor (threshold relative to the peak): brings the tail up
    relative to the hit, as punchy pack processing does."""
    y = np.asarray(y, np.float32)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak < EPS:
        return y.copy()
    block = max(1, int(sr * 0.0029))
    n_blocks = -(-len(y) // block)
    padded = np.pad(np.abs(y), (0, n_blocks * block - len(y)))
    level = 20 * np.log10(padded.reshape(n_blocks, block).max(1) / peak + EPS)
    over = np.maximum(level - threshold_db, 0.0)
    target = -over * (1 - 1 / ratio)
    a_att = np.exp(-block / (sr * attack_ms / 1000))
    a_rel = np.exp(-block / (sr * release_ms / 1000))
    smoothed = np.empty(n_blocks)
    g = 0.0
    for i, t in enumerate(target):        # one step per 2.9 ms block: cheap
        a = a_att if t < g else a_rel
        g = a * g + (1 - a) * t
        smoothed[i] = g
    per_sample = np.interp(np.arange(len(y)), np.arange(n_blocks) * block + block / 2, smoothed)
    out = y * 10 ** (per_sample / 20)
    return normalise_peak(out, 20 * np.log10(peak)) if makeup else out.astype(np.float32)


def reverb(y: np.ndarray, sr: int, seconds: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Short room: convolution with exponentially decaying noise (``seconds`` = RT60),
    mixed ``wet`` (0..1); the tail is kept, so the sound gets longer."""
    y = np.asarray(y, np.float32)
    n_ir = max(8, int(sr * seconds))
    t = np.arange(n_ir) / sr
    ir = rng.standard_normal(n_ir) * 10 ** (-3 * t / seconds)
    ramp = max(1, int(sr * 0.002))          # 2 ms onset of the reflections
    ir[:ramp] *= np.linspace(0, 1, ramp)
    ir /= np.sqrt((ir ** 2).sum()) + EPS
    size = 1 << int(np.ceil(np.log2(len(y) + n_ir)))
    tail = np.fft.irfft(np.fft.rfft(y, size) * np.fft.rfft(ir, size), size)[: len(y) + n_ir]
    dry = np.pad(y, (0, n_ir))
    rms_dry, rms_tail = np.sqrt((dry ** 2).mean()) + EPS, np.sqrt((tail ** 2).mean()) + EPS
    return ((1 - wet) * dry + wet * tail * rms_dry / rms_tail).astype(np.float32)


def add_noise(y: np.ndarray, sr: int, snr_db: float, rng: np.random.Generator,
              colour: str = "white") -> np.ndarray:
    """Layer noise (``white``, ``pink`` or ``hum``) ``snr_db`` below the signal's RMS."""
    y = np.asarray(y, np.float32)
    n = len(y)
    if colour == "white":
        noise = rng.standard_normal(n)
    elif colour == "pink":
        spec = np.fft.rfft(rng.standard_normal(n))
        spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
        noise = np.fft.irfft(spec, n)
    elif colour == "hum":
        t = np.arange(n) / sr
        base = float(rng.choice([50.0, 60.0]))
        noise = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
    else:
        raise ValueError(f"unknown noise colour {colour!r}")
    rms = np.sqrt((y.astype(np.float64) ** 2).mean()) + EPS
    noise = noise / (np.sqrt((noise ** 2).mean()) + EPS) * rms * 10 ** (-snr_db / 20)
    return (y + noise).astype(np.float32)


def onset_index(y: np.ndarray, threshold_db: float = -30.0) -> int:
    """First sample within ``threshold_db`` of the peak."""
    a = np.abs(y)
    peak = a.max() if len(a) else 0.0
    if peak < EPS:
        return 0
    return int(np.argmax(a >= peak * 10 ** (threshold_db / 20)))


def trim_attack(y: np.ndarray, sr: int, ms: float, fade_ms: float = 1.0) -> np.ndarray:
    """Cut the first ``ms`` after the onset (a sample chopped late, attack lost)."""
    start = onset_index(y) + int(sr * ms / 1000)
    out = np.asarray(y[min(start, len(y) - 1):], np.float32).copy()
    fade = min(len(out), max(1, int(sr * fade_ms / 1000)))
    out[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
    return out


def delay_attack(y: np.ndarray, sr: int, ms: float) -> np.ndarray:
    """Silence before the sound (a sample cut early, or a pre-delay)."""
    return np.concatenate([np.zeros(int(sr * ms / 1000), np.float32), np.asarray(y, np.float32)])


def lower_sample_rate(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """The sound as if bounced at ``target_sr`` and played back at ``sr``: nothing above
    the lower Nyquist frequency (a brick-wall cut of the spectrum)."""
    if target_sr >= sr:
        return np.asarray(y, np.float32).copy()
    return _apply_response(y, sr, lambda f: (f < target_sr / 2).astype(np.float64))


def bit_depth(y: np.ndarray, bits: int) -> np.ndarray:
    """Quantise to ``bits`` (relative to full scale 1.0), no dither: crunchy 8/12-bit packs."""
    step = 2.0 ** (1 - bits)
    return (np.round(np.asarray(y, np.float64) / step) * step).astype(np.float32)


# -- random chains ----------------------------------------------------------------------------

MAX_SECONDS = 8.0


def pack_chain(y: np.ndarray, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A random chain of pack processing, each step with its own probability; returns the
    new signal and the steps applied (for manifests). Loudness ends at a random peak level
    of -12..-0.3 dBFS. Ranges: a few semitones / percent, gentle to heavy colouring."""
    steps: list[str] = []
    y = np.asarray(y, np.float32)

    def u(lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi))

    def lu(lo: float, hi: float) -> float:
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))

    if rng.random() < 0.5:
        st = u(-3, 3)
        y = repitch(y, st)
        steps.append(f"repitch {st:+.1f} st")
    if rng.random() < 0.25:
        rate = u(0.94, 1.06)
        y = time_stretch(y, rate)
        steps.append(f"stretch x{rate:.2f}")
    if rng.random() < 0.5:
        tilt = u(-3, 3)
        y = tilt_eq(y, sr, tilt)
        steps.append(f"tilt {tilt:+.1f} dB/oct")
    if rng.random() < 0.3:
        hp = lu(30, 400)
        y = band_filter(y, sr, "highpass", hp)
        steps.append(f"highpass {hp:.0f} Hz")
    if rng.random() < 0.3:
        lp = lu(3000, 16000)
        y = band_filter(y, sr, "lowpass", lp)
        steps.append(f"lowpass {lp:.0f} Hz")
    if rng.random() < 0.3:
        f0, g, width = lu(80, 8000), u(-9, 9), u(0.3, 1.5)
        y = band_filter(y, sr, "bell", f0, gain_db=g, octaves=width)
        steps.append(f"bell {f0:.0f} Hz {g:+.0f} dB")
    if rng.random() < 0.3:
        drive = u(0, 18)
        y = saturate(y, drive)
        steps.append(f"saturate {drive:.0f} dB")
    if rng.random() < 0.3:
        thr, ratio = u(-30, -6), u(2, 10)
        y = compress(y, sr, thr, ratio)
        steps.append(f"compress {thr:.0f} dB {ratio:.0f}:1")
    if rng.random() < 0.1:
        ceiling = u(0.4, 0.9)
        y = hard_clip(y, ceiling)
        steps.append(f"clip {ceiling:.2f}")
    if rng.random() < 0.2:
        rt, wet = u(0.1, 0.8), u(0.05, 0.35)
        y = reverb(y, sr, rt, wet, rng)
        steps.append(f"reverb {rt:.2f} s {wet:.2f}")
    if rng.random() < 0.2:
        snr, colour = u(15, 45), str(rng.choice(["white", "pink", "hum"]))
        y = add_noise(y, sr, snr, rng, colour)
        steps.append(f"{colour} noise {snr:.0f} dB")
    if rng.random() < 0.15:
        ms = u(0.5, 6)
        y = trim_attack(y, sr, ms)
        steps.append(f"trim {ms:.1f} ms")
    elif rng.random() < 0.2:
        ms = u(1, 40)
        y = delay_attack(y, sr, ms)
        steps.append(f"delay {ms:.0f} ms")
    if rng.random() < 0.15:
        target = int(rng.choice([11025, 16000, 22050, 32000]))
        y = lower_sample_rate(y, sr, target)
        steps.append(f"rate {target} Hz")
    y = normalise_peak(y[: int(MAX_SECONDS * sr)], u(-12, -0.3))
    if rng.random() < 0.1:
        bits = int(rng.choice([8, 10, 12]))
        y = bit_depth(y, bits)
        steps.append(f"{bits} bit")
    return np.clip(y, -1.0, 1.0).astype(np.float32), steps
