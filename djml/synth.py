"""Deterministic test/demo audio with known answers (pure numpy).

Why: every analysis function must be testable without shipping audio files, and
benchmarks need realistic-length material on any machine. Everything here is
seeded, so the same arguments always give the same samples, and the musical
ground truth (tempo, key, pitch, kind) is known by construction.

Keys use the convention of :mod:`djml.keys` (tonic pitch class + 12 * minor).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from djml import keys

SR = 22050
STYLES = ("four_on_floor", "breakbeat", "dnb", "halftime", "swing")
ONE_SHOT_KINDS = (
    "kick", "snare", "hihat", "clap", "tom", "cymbal", "perc", "bass", "synth", "vocal", "fx",
)

# Drum patterns on a 16-step (sixteenth-note) grid for one 4/4 bar: step -> velocity.
_PATTERNS: dict[str, dict[str, dict[int, float]]] = {
    "four_on_floor": {
        "kick": {0: 1.0, 4: 1.0, 8: 1.0, 12: 1.0},
        "clap": {4: 0.7, 12: 0.7},
        "hihat": {2: 0.5, 6: 0.5, 10: 0.5, 14: 0.5},
    },
    "breakbeat": {
        "kick": {0: 1.0, 2: 0.7, 10: 0.9},
        "snare": {4: 0.9, 12: 0.9, 15: 0.4},
        "hihat": {i: 0.35 for i in range(0, 16, 2)},
    },
    "dnb": {
        "kick": {0: 1.0, 10: 0.9},
        "snare": {4: 1.0, 12: 1.0},
        "hihat": {i: 0.35 for i in range(0, 16, 2)},
    },
    "halftime": {
        "kick": {0: 1.0, 3: 0.6},
        "snare": {8: 1.0},
        "hihat": {i: 0.3 for i in range(0, 16, 2)},
    },
    "swing": {
        "kick": {0: 1.0, 7: 0.6, 8: 0.8},
        "snare": {4: 0.9, 12: 0.9},
        "hihat": {i: 0.35 for i in range(0, 16, 2)},
    },
}
# Chord roots (semitones above the tonic) and qualities, one chord per bar.
_PROGRESSIONS = {
    False: [(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")],   # I  IV V  I
    True: [(0, "min"), (8, "maj"), (5, "min"), (7, "maj")],    # i  VI iv V (harmonic minor)
}
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _rng(seed: int, salt: str) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, salt))])


def _decay(n: int, sr: int, seconds: float) -> np.ndarray:
    """Exponential envelope falling by 60 dB over `seconds`."""
    t = np.arange(n) / sr
    return np.exp(-6.9078 * t / max(seconds, 1e-4)).astype(np.float32)


def _band_noise(n: int, sr: int, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    spec[(freqs < lo) | (freqs > hi)] = 0.0
    out = np.fft.irfft(spec, n)
    return (out / (np.abs(out).max() + 1e-12)).astype(np.float32)


def _shaped_noise(n: int, sr: int, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """White noise with smooth 4th-order roll-offs below `lo` and above `hi` Hz (no hard
    band edges: acoustic noise sources like snare wires have none)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 1.0)
    spec *= 1.0 / np.sqrt((1 + (lo / freqs) ** 4) * (1 + (freqs / hi) ** 4))
    out = np.fft.irfft(spec, n)
    return (out / (np.abs(out).max() + 1e-12)).astype(np.float32)


def _sweep(n: int, sr: int, f_start: float, f_end: float, glide: float) -> np.ndarray:
    """Sine whose frequency glides exponentially from f_start to f_end."""
    t = np.arange(n) / sr
    freq = f_end + (f_start - f_end) * np.exp(-t / glide)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr).astype(np.float32)


def _harmonic(freq: float, n: int, sr: int, partials: int, rolloff: float = 1.0,
              detune_cents: float = 0.0) -> np.ndarray:
    """Sum of harmonics with 1/k**rolloff amplitudes (below Nyquist only)."""
    t = np.arange(n) / sr
    out = np.zeros(n, dtype=np.float64)
    f0 = freq * 2.0 ** (detune_cents / 1200.0)
    for k in range(1, partials + 1):
        if k * f0 >= sr / 2:
            break
        out += np.sin(2 * np.pi * k * f0 * t) / k**rolloff
    return out.astype(np.float32)


def _adsr(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n, dtype=np.float32)
    a = min(n, max(1, int(attack * sr)))
    r = min(n - a, max(1, int(release * sr)))
    env[:a] = np.linspace(0.0, 1.0, a, dtype=np.float32)
    env[n - r:] *= np.linspace(1.0, 0.0, r, dtype=np.float32)
    return env


def _normalise(y: np.ndarray, peak_db: float = -1.0) -> np.ndarray:
    peak = float(np.abs(y).max())
    if peak == 0.0:
        return y.astype(np.float32)
    return (y * (10 ** (peak_db / 20) / peak)).astype(np.float32)


def tonal_note(midi: float, seconds: float, sr: int = SR, *, partials: int = 8,
               decay: float | None = None) -> np.ndarray:
    """A harmonic note (known pitch) with a short attack; `decay` = 60 dB decay time or sustain."""
    n = int(seconds * sr)
    y = _harmonic(midi_to_hz(midi), n, sr, partials, rolloff=1.2)
    env = _adsr(n, sr, 0.005, min(0.05, seconds / 4))
    if decay is not None:
        env *= _decay(n, sr, decay)
    return _normalise(y * env)


def one_shot(kind: str, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A single synthesised hit/note of the given kind, peak-normalised to -1 dBFS.

    Seed varies tuning, decay and noise so a classifier sees more than one example per kind.
    Tonal kinds (bass, synth, vocal) carry a known pitch: see :func:`one_shot_midi`.
    """
    if kind not in ONE_SHOT_KINDS:
        raise ValueError(f"unknown one-shot kind {kind!r}; expected one of {ONE_SHOT_KINDS}")
    rng = _rng(seed, kind)
    vary = float(rng.uniform(0.8, 1.25))
    if kind == "kick":
        n = int(0.5 * sr)
        y = _sweep(n, sr, 160 * vary, 48 * vary, 0.04) * _decay(n, sr, 0.45 * vary)
        y[: int(0.003 * sr)] += 0.5 * _band_noise(int(0.003 * sr), sr, 1000, 8000, rng)
    elif kind == "snare":
        y = _snare(sr, rng, vary)
    elif kind == "hihat":
        y = _hihat(sr, rng, vary)
    elif kind == "clap":
        n = int(0.35 * sr)
        burst_env = np.zeros(n, dtype=np.float32)
        for i, start in enumerate((0.0, 0.011, 0.022, 0.031)):
            s = int(start * vary * sr)
            burst_env[s:] += 0.6**i * _decay(n - s, sr, 0.03 if i < 3 else 0.25)
        y = _band_noise(n, sr, 900, 3500, rng) * burst_env
    elif kind == "tom":
        y = _tom(sr, rng, vary)
    elif kind == "cymbal":
        y = _cymbal(sr, rng, vary)
    elif kind == "perc":
        y = _perc(sr, rng, vary)
    elif kind in ("bass", "synth", "vocal"):
        y = _tonal_kind(kind, one_shot_midi(kind, seed), sr, rng)
    else:
        y = _fx(sr, rng, vary)
    return _normalise(np.asarray(y, dtype=np.float32))


def _snare(sr: int, rng: np.random.Generator, vary: float) -> np.ndarray:
    """Drum-head modes plus wire rattle, matched to measured real snares.

    Target: the 134 snares of the Hydrogen kits and General-MIDI renders (benchmarks/README.md) measured
    over the first 200 ms after the peak (medians, p25-p75): spectral centroid 1.25 kHz
    (0.7-1.7k); energy 150-300 Hz (head) 47 % (24-66), 300 Hz-1 kHz 18 % (9-29), 1-8 kHz
    (wires) 26 % (8-35), above 8 kHz 1.1 % (0.4-1.8), so head vs wires +2.9 dB (-0.9..+6.1);
    envelope -20 dB after 0.09 s, -40 dB after 0.32 s (0.20-0.44); spectral flatness
    (0.1-10 kHz) 0.12; 82 % have no detectable pitch. The head is a circular membrane
    (modes at 1, 1.59, 2.14 x f1, f1 150-240 Hz, a slight downward pitch bend from the
    strike); the wires are broadband noise rolling off below 500 Hz and above 4.5 kHz that
    rings longer than the head. (The previous snare, 1.5-9 kHz noise over a thin 240 Hz
    sine, had a 4.6 kHz centroid and 12 % above 8 kHz: outside every real snare measured.)"""
    n = int(0.6 * sr)
    t = np.arange(n) / sr
    f1 = 190.0 * vary
    head = np.zeros(n)
    for ratio, amp in ((1.0, 1.0), (1.59, 0.5), (2.14, 0.25)):
        freq = f1 * ratio * (1 + 0.08 * np.exp(-t / 0.015))
        head += amp * np.sin(2 * np.pi * np.cumsum(freq) / sr)
    wires = _shaped_noise(n, sr, 500, 4500, rng) * _decay(n, sr, 0.5 * vary)
    return head * _decay(n, sr, 0.25) + 0.85 * wires


# Closed-hat plate modes (kHz): a few low ones (the two plates' fundamental region) and
# inharmonic high ones over the noise-like sizzle, scaled together by a per-seed tuning.
_HAT_LOW_MODES = (0.42, 0.59, 0.81)
_HAT_HIGH_MODES = (4.47, 5.38, 6.19, 7.33, 8.61, 9.74)


def _hihat(sr: int, rng: np.random.Generator, vary: float) -> np.ndarray:
    """A closed hi-hat: dense plate sizzle, a few metallic modes, matched to measured real hats.

    Target: the 65 closed hats of the Hydrogen kits ("closed"/"Cl" instruments) and the
    General-MIDI renders (note 42), at 22.05 kHz over the first 100 ms after the peak
    (medians, p25-p75): spectral centroid 5.8 kHz (5.3-6.4k); energy below 1 kHz 11 %
    (4-19; low plate modes at 200-650 Hz, decaying with the rest), 1-3 kHz 4 % (2.5-5.9),
    3-6 kHz 28 % (15-39), 6-8 kHz 19 % (15-28), above 8 kHz 26 % (19-34); spectral
    flatness (1-10 kHz) 0.30 (0.20-0.34), i.e. noise with resonant peaks, not white;
    envelope -20 dB after 0.11 s (0.07-0.135), -40 dB after 0.23 s (0.18-0.26). (The
    previous hat, 6.5-11 kHz white noise gone 20 dB down in 0.03 s, had an 8.7 kHz centroid,
    65 % above 8 kHz, nothing below 6 kHz: like 2 electronic hats of the 65, outside the
    p25-p75 range on every measure.)"""
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    tune = 1000.0 * (0.9 + 0.2 * rng.random())
    y = _shaped_noise(n, sr, 3300, 10000, rng).astype(np.float64)
    for modes, amp in ((_HAT_LOW_MODES, 0.09), (_HAT_HIGH_MODES, 0.11)):
        for f in modes:
            y += amp * np.sin(2 * np.pi * f * tune * t + rng.uniform(0, 2 * np.pi))
    return y * _decay(n, sr, 0.3 * vary)


# Tom head modes: (frequency / f1, amplitude, seconds to fall 60 dB); the circular-membrane
# ratios, higher modes quieter and damped sooner.
_TOM_MODES = ((1.0, 1.0, 1.6), (1.59, 0.5, 0.8), (2.14, 0.35, 0.6), (2.65, 0.25, 0.5), (2.92, 0.15, 0.4),
              (3.5, 0.1, 0.3))


def _tom(sr: int, rng: np.random.Generator, vary: float) -> np.ndarray:
    """A tom: a low membrane with a pitch drop from the strike, a stick click and some
    head noise, ringing for about a second, matched to measured real toms.

    Target: the 199 toms of the Hydrogen kits and the General-MIDI renders (notes 41-50), at
    22.05 kHz over the first 200 ms from 5 ms before the peak (medians, p25-p75): spectral
    peak 110 Hz (85-125), centroid 131 Hz (113-181); energy below 150 Hz 93 % (64-97),
    150 Hz-1 kHz 6 % (3-33), 1-3 kHz 0.15 % (0.04-1.2); spectral flatness (1-10 kHz) 0.077
    (0.037-0.12); 4 ms (2-9) from onset to peak; envelope -20 dB after 0.48 s (0.29-0.60),
    -40 dB after 0.94 s (0.65-1.36); 1.2 s long (0.8-2.0). (The previous tom, a pure sine
    gliding from 220 to 120 Hz over 0.6 s, sat at 150-190 Hz with 75 % of its energy above
    150 Hz, nothing above 1 kHz, and was 20 dB down after 0.17 s.)"""
    n = int(1.3 * sr)
    t = np.arange(n) / sr
    f1 = 110.0 * vary
    y = np.zeros(n)
    for ratio, amp, t60 in _TOM_MODES:
        freq = f1 * ratio * (1 + 0.15 * np.exp(-t / 0.03))
        y += amp * np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-6.9078 * t / t60)
    y += 0.6 * _shaped_noise(n, sr, 400, 1500, rng) * _decay(n, sr, 0.35)
    m = int(0.01 * sr)
    y[:m] += 2.0 * _shaped_noise(m, sr, 1000, 6000, rng) * np.hanning(m)
    return y * _adsr(n, sr, 0.001, 0.05)


def _perc(sr: int, rng: np.random.Generator, vary: float) -> np.ndarray:
    """A cowbell (the TR-808 recipe: two square-ish tones at 540 and 815 Hz) with a metal
    rattle, matched to measured real percussion.

    Target: the 580 perc one-shots of the Hydrogen kits and the General-MIDI renders (notes
    37, 54-81: bongos, congas, cowbell, woodblocks, shakers ...; a mixed class, so the
    ranges are wide), at 22.05 kHz over the first 200 ms from 5 ms before the peak (medians,
    p25-p75): spectral centroid 1.3 kHz (0.66-4.0k); energy 150 Hz-1 kHz 10 % (0-88), 1-3 kHz
    15 % (0.9-34); spectral flatness (1-10 kHz) 0.026 (0.004-0.086); envelope -20 dB after
    0.11 s (0.05-0.23), -40 dB after 0.25 s (0.16-0.46); 0.38 s long (0.23-0.80). The GM
    cowbells (note 56): centroid 625 Hz, 95 % in 150 Hz-1 kHz, flatness 0.10, -20 dB after
    0.11 s. (The previous perc, two pure sines over 0.18 s, had all its energy below 1 kHz,
    flatness 1e-6 and was 40 dB down after 0.08 s.)"""
    n = int(0.4 * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for f0 in (540.0 * vary, 815.0 * vary):
        for k in (1, 3, 5, 7):
            f = k * f0
            y += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / k / np.sqrt(1 + (f / 5000.0) ** 4)
    noise = _shaped_noise(n, sr, 500, 5000, rng)
    return (y + 0.25 * noise) * _decay(n, sr, 0.33)


def _cymbal(sr: int, rng: np.random.Generator, vary: float) -> np.ndarray:
    """A crash/ride: a dense cloud of inharmonic plate modes over a noise wash, matched to
    measured real cymbals.

    Target: the 272 cymbals (crash, ride, china, splash, bell) of the Hydrogen kits and the
    General-MIDI renders (benchmarks/README.md), at 22.05 kHz over the first 200 ms after the peak
    (medians, p25-p75): spectral centroid 4.7 kHz (3.6-5.7k); energy 150 Hz-1 kHz 6 %
    (2-20; the bell/cup modes), 1-3 kHz 10 % (5-15), 3-6 kHz 34 % (22-54), 6-8 kHz 16 %
    (7-22), above 8 kHz 12 % (3-25); spectral flatness (1-10 kHz) 0.07 (0.04-0.21), i.e.
    dominated by resonant modes rather than noise; envelope -20 dB after 0.77 s (0.56-1.25),
    -40 dB after 1.9 s (1.4-2.8); 2.4 s long (1.9-3.2); none has a detectable pitch. A plate
    has many inharmonic modes, the high ones damped faster (T60 ~ f**-0.35 here), so the
    sound darkens as it rings. (The previous cymbal, 3 kHz-Nyquist white noise plus four
    sines, had nothing below 1 kHz, flatness 0.001 over 1-10 kHz because of the hard band
    edge, -20 dB after 0.4-0.6 s, and the shipped model called it hihat or perc.)"""
    n = int(2.4 * vary * sr)
    t = np.arange(n) / sr
    modes = np.exp(rng.uniform(np.log(300.0), np.log(9000.0), 80))
    y = np.zeros(n)
    for f in modes:
        amp = 1.0 / (1.0 + (3500.0 / f) ** 2) / (1.0 + (f / 9000.0) ** 4) * rng.uniform(0.3, 1.0)
        t60 = 3.5 * vary * (1000.0 / f) ** 0.35
        y += amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-6.9078 * t / t60)
    bell = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
               for f in np.exp(rng.uniform(np.log(300.0), np.log(1000.0), 4))) * _decay(n, sr, 2.5 * vary)
    wash = _shaped_noise(n, sr, 3000, 10000, rng) * _decay(n, sr, 1.5 * vary)
    return y / np.abs(y).max() + 0.05 * bell + 0.5 * wash


def _fx(sr: int, rng: np.random.Generator, vary: float) -> np.ndarray:
    """A sci-fi swell: a gliding harmonic tone with some breath noise that swells in and
    rings out, matched to measured real fx one-shots.

    Target: the 102 fx of the sample sets (benchmarks/README.md: freedesktop theme sounds, GM effect programs 96-103 and
    120-127 rendered at C3/C4, 3 Hydrogen fx), at 22.05 kHz over the first 500 ms from
    5 ms before the peak (medians, p25-p75; fx are varied, so the ranges are wide):
    spectral centroid 554 Hz (325-1667); energy 150 Hz-1 kHz 57 % (11-92), 1-3 kHz 7 %
    (1-27), 3-6 kHz 0.4 % (0-5); spectral flatness (1-10 kHz) 0.013 (0-0.04); 0.2 s
    (0.05-0.65) from onset to peak; envelope -20 dB after 0.76 s (0.21-1.40), -40 dB after
    1.25 s (0.38-2.04); 1.5 s long (0.9-2.75); 46 % have a clear pitch. (The previous fx, a
    noise-and-chirp riser that ended at its peak, had a 2 kHz centroid with 93-98 % of the
    energy between 1 and 3 kHz, and the shipped model called the demo's seed-59 one synth.)"""
    n = int(1.6 * vary * sr)
    t = np.arange(n) / sr
    freq = 250.0 * vary * 2.4 ** np.minimum(t, 1.0)   # glides up 1.5 octaves in 1 s
    phase = 2 * np.pi * np.cumsum(freq) / sr
    tone = sum(np.sin(k * phase) / k * (k * freq < sr / 2) for k in range(1, 9))
    breath = _shaped_noise(n, sr, 400, 3000, rng)
    swell = np.minimum(t / 0.2, 1.0) * np.exp(-6.9078 * np.maximum(t - 0.2, 0) / 2.3)
    return (tone + 0.2 * breath) * swell


def one_shot_midi(kind: str, seed: int = 0) -> int:
    """The MIDI note a tonal one-shot of this kind and seed is rendered at."""
    lo, hi = {"bass": (31, 48), "synth": (55, 79), "vocal": (50, 67)}[kind]
    return int(_rng(seed, kind + "pitch").integers(lo, hi + 1))


def _tonal_kind(kind: str, midi: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    f0 = midi_to_hz(midi)
    if kind == "bass":
        y = _bass(f0, sr, rng)
    elif kind == "synth":
        n = int(1.0 * sr)
        y = (_harmonic(f0, n, sr, 12, 1.0, -7) + _harmonic(f0, n, sr, 12, 1.0, 7)) \
            * _adsr(n, sr, 0.01, 0.2)
    else:  # vocal: harmonic source shaped by "ah" formants, slight vibrato
        n = int(1.2 * sr)
        t = np.arange(n) / sr
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))) / sr
        y = np.zeros(n)
        for k in range(1, int(5000 / f0)):
            gain = sum(np.exp(-0.5 * ((k * f0 - fc) / bw) ** 2) for fc, bw in ((730, 90), (1090, 110), (2440, 170)))
            y += (0.15 + gain) / k**0.6 * np.sin(k * phase)
        y = y * _adsr(n, sr, 0.06, 0.25)
    return y + 0.002 * rng.standard_normal(len(y))


def _bass(f0: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A plucked bass note held for about a second, then released, matched to measured real
    bass one-shots.

    Target: the 32 General-MIDI bass renders (programs 32-39: acoustic, finger, pick,
    fretless, slap and synth basses at E1 and E2; benchmarks/README.md), at 22.05 kHz over the first
    200 ms after the peak (medians, p25-p75): spectral centroid 151 Hz (98-274); energy
    below 150 Hz 68 % (40-80), 150 Hz-1 kHz 24 % (16-58), 1-3 kHz 0.4 % (0-1.3); envelope
    -20 dB after 1.18 s (1.15-1.20), -40 dB after 1.23 s (1.21-1.25), i.e. a held note
    with a short release, not a decaying hit; 1.3 s long; 34 ms (14-59) from onset to
    peak. A string's harmonics fall off with order and through the pickup's low-pass
    (~600 Hz here), and the high ones die sooner. (The previous bass, 6 harmonics with
    1/k**1.5 amplitudes decaying 60 dB in 1.2 s over 0.8 s, was 20 dB down after 0.41 s,
    had 4-16 % of its energy above 150 Hz, and the shipped model called it tom.)"""
    n = int(1.3 * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for k in range(1, int(4000 / f0) + 1):
        f = k * f0
        amp = k ** -0.8 / np.sqrt(1 + (f / 600.0) ** 4)
        t60 = 6.0 / (1 + f / 500.0)
        y += amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-6.9078 * t / t60)
    return y * _adsr(n, sr, 0.02, 0.15)


def _bar_pattern(style: str) -> dict[str, dict[int, float]]:
    if style not in _PATTERNS:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    return _PATTERNS[style]


def _step_time(step: int, step_seconds: float, style: str) -> float:
    """Swing delays every second sixteenth pair: the off-beat eighth lands at 2/3 of the beat."""
    if style == "swing" and step % 4 == 2:
        return (step - 2 + 4 * 2 / 3) * step_seconds
    return step * step_seconds


def _add(out: np.ndarray, y: np.ndarray, start: int, gain: float) -> None:
    end = min(len(out), start + len(y))
    if end > start >= 0:
        out[start:end] += gain * y[: end - start]


def _drums(bpm: float, n: int, sr: int, style: str, seed: int,
           kinds: tuple[str, ...] | None = None) -> np.ndarray:
    pattern = {k: v for k, v in _bar_pattern(style).items() if kinds is None or k in kinds}
    hits = {kind: one_shot(kind, sr, seed) for kind in pattern}
    step = 60.0 / bpm / 4
    bar = 16 * step
    jitter = _rng(seed, "velocity")
    out = np.zeros(n, dtype=np.float32)
    for b in range(int(n / sr / bar) + 1):
        for kind, steps in pattern.items():
            for s, vel in steps.items():
                start = int(round((b * bar + _step_time(s, step, style)) * sr))
                _add(out, hits[kind], start, vel * float(jitter.uniform(0.9, 1.0)))
    return out


def _harmony(bpm: float, key: int, n: int, sr: int, parts: tuple[str, ...] = ("bass", "chords")) -> np.ndarray:
    """Bass line on chord roots plus sustained triad pads, one chord per bar (4-bar phrase);
    ``parts`` picks either or both."""
    tonic_pc, minor = keys.tonic(key), keys.is_minor(key)
    bar = 4 * 60.0 / bpm
    bar_n = int(round(bar * sr))
    phrase = np.zeros(4 * bar_n + 1, dtype=np.float32)
    for i, (root, quality) in enumerate(_PROGRESSIONS[minor]):
        chord = np.zeros(bar_n, dtype=np.float32)
        bass_midi = 36 + (tonic_pc + root) % 12
        beat_n = bar_n // 4
        for beat in range(4 if "bass" in parts else 0):
            note = _harmonic(midi_to_hz(bass_midi), beat_n, sr, 4, 1.5) * _decay(beat_n, sr, 0.9)
            chord[beat * beat_n:(beat + 1) * beat_n] += 0.5 * note * _adsr(beat_n, sr, 0.005, 0.02)
        for interval in _TRIADS[quality] if "chords" in parts else ():
            midi = 60 + (tonic_pc + root + interval - 60) % 12 + 48  # voice in C4..B4
            midi = midi if midi < 72 else midi - 12
            chord += 0.18 * _harmonic(midi_to_hz(midi), bar_n, sr, 5, 1.3) * _adsr(bar_n, sr, 0.02, 0.05)
        phrase[i * bar_n:(i + 1) * bar_n] += chord
    out = np.zeros(n, dtype=np.float32)
    for p in range(int(n / sr / (4 * bar)) + 1):
        _add(out, phrase, int(round(p * 4 * bar * sr)), 1.0)
    return out


def drum_track(bpm: float, key: int | None, seconds: float, style: str = "four_on_floor",
               sr: int = SR, seed: int = 0) -> np.ndarray:
    """A mono track at exactly `bpm` (first beat at t=0) in `key` (None = drums only).

    Styles: four_on_floor (house), breakbeat, dnb (two-step: kick 1 & 3-and, snare 2 & 4),
    halftime (dubstep: snare on 3), swing (hip-hop, swung eighths).
    """
    n = int(seconds * sr)
    y = _drums(bpm, n, sr, style, seed)
    if key is not None:
        y = 0.6 * y + _harmony(bpm, key, n, sr)
    return _normalise(y)


ARRANGEMENT_LAYERS = ("kick", "snare", "clap", "hihat", "bass", "chords")


def arrangement(bpm: float, key: int, sections: list[tuple[int, set[str] | frozenset[str]]],
                style: str = "four_on_floor", sr: int = SR, seed: int = 0) -> np.ndarray:
    """A track whose structure is known by construction: ``sections`` are (bars, layers
    playing) in order, layers from ARRANGEMENT_LAYERS (drum layers the style lacks are
    silent). Bar 1 starts at t=0; a layer enters and leaves exactly on a bar line (5-ms
    ramps), e.g. ``[(16, {"chords"}), (32, {"kick", "hihat", "bass", "chords"})]`` has
    drums entering at bar 17."""
    unknown = {layer for _, layers in sections for layer in layers} - set(ARRANGEMENT_LAYERS)
    if unknown:
        raise ValueError(f"unknown layers {sorted(unknown)}; expected some of {ARRANGEMENT_LAYERS}")
    bar_n = 4 * 60.0 / bpm * sr
    total_bars = sum(bars for bars, _ in sections)
    n = int(round(total_bars * bar_n))
    out = np.zeros(n, dtype=np.float32)
    ramp = max(1, int(0.005 * sr))
    for layer in ARRANGEMENT_LAYERS:
        gate = np.zeros(n, dtype=np.float32)
        bar = 0
        for bars, layers in sections:
            if layer in layers:
                gate[int(round(bar * bar_n)):int(round((bar + bars) * bar_n))] = 1.0
            bar += bars
        if not gate.any():
            continue
        gate = np.convolve(gate, np.ones(ramp) / ramp, mode="same").astype(np.float32)
        if layer in ("bass", "chords"):
            y = _harmony(bpm, key, n, sr, (layer,))
        else:
            y = 0.6 * _drums(bpm, n, sr, style, seed, (layer,))
        out += y * gate
    return _normalise(out)


def loop(bpm: float, bars: int = 1, sr: int = SR, seed: int = 0, style: str = "four_on_floor",
         key: int | None = None) -> np.ndarray:
    """A seamless loop exactly `bars` 4/4 bars long (length encodes the tempo)."""
    n = int(round(bars * 4 * 60.0 / bpm * sr))
    return drum_track(bpm, key, n / sr + 1.0, style, sr, seed)[:n]


def chord_clip(key: int, seconds: float = 8.0, sr: int = SR, bpm: float = 120.0) -> np.ndarray:
    """Harmony only (bass + pads) in `key`, for fast key tests."""
    n = int(seconds * sr)
    return _normalise(_harmony(bpm, key, n, sr))


_SUBTYPES = {".wav": "PCM_16", ".flac": "PCM_16", ".ogg": "VORBIS", ".mp3": "MPEG_LAYER_III"}


def write_wav(path: str | Path, y: np.ndarray, sr: int = SR) -> Path:
    """Write audio with soundfile; the container follows the suffix (.wav, .flac, .ogg, .mp3).

    `y` is (n,) mono or (n, channels). 16-bit PCM for WAV/FLAC so hashes are reproducible.
    """
    path = Path(path)
    import soundfile as sf  # imported here: synth itself needs only numpy

    subtype = _SUBTYPES.get(path.suffix.lower())
    data = np.asarray(y, dtype=np.float32)
    if subtype == "PCM_16":   # quantise here: libsndfile's WAV and FLAC writers round differently
        data = np.clip(np.rint(data * 32767.0), -32768, 32767).astype(np.int16)
    sf.write(str(path), data, sr, subtype=subtype)
    return path
