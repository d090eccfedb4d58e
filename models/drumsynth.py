"""The training synthesiser: families of drum-machine, bass, synth, vocal, fx and loop
sounds with random parameters, deterministic from a seed (numpy + scipy).

Why: the sample packs a producer owns are full of synthesised and processed sounds (drum
machines, FM, risers, vocal chops) that the recorded kits and General-MIDI fonts hardly
cover. A family here is one recipe (an 808-style kick, a metallic square-bank hi-hat, a
formant-sung vowel ...) whose parameters are drawn per sound, so a model trained on
it sees the *range* a recipe covers, and leave-one-family-out shows whether it generalises
past one recipe. Every family is tuned so its sounds fall inside what the recorded sources
measure for that class (spectral centroid, band shares, decay times; see
``benchmarks/synth_realism.py``).

Kept apart from :mod:`djml.synth` on purpose: that module makes the demo library and the
smoke-test one-shots the tests check the shipped model on. The model must never be trained
on that generator, so this one shares no code or recipe with it (own oscillators and
filters in :mod:`djml.models.synth_dsp`; 808-style square-bank metal instead of modal
plates, burst claps, FM and subtractive voices, a 44.1 kHz output); a test checks it does
not import :mod:`djml.synth`.

    from djml.models import drumsynth
    y, meta = drumsynth.generate("kick_808", seed=3)       # float32 mono at 44.1 kHz
    drumsynth.FAMILIES["kick_808"].label                    # 'kick'
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from djml.models import synth_dsp as d

SR = 44100
VERSION = 5      # bump when a recipe changes: cached sets are rebuilt


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _n(seconds: float, sr: int) -> int:
    return max(1, int(seconds * sr))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _lu(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Log-uniform draw (for frequencies and times)."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _click(n: int, rng: np.random.Generator, sr: int, centre: float, length: float) -> np.ndarray:
    """A short filtered noise transient at the start (a beater, a stick, a pluck)."""
    m = _n(length, sr)
    burst = d.filt(d.noise(m, rng), "bandpass", centre, 0.8, sr) * d.exp_env(m, sr, length)
    return d.fit(burst / (np.abs(burst).max() + 1e-12), n)


# --------------------------------------------------------------------------- kicks

def _beater(n, rng, sr, lo=0.1, hi=0.5):
    """The broadband knock every real kick has above 1 kHz (real kicks: flatness 0.06-0.3
    over 1-10 kHz, i.e. noise rather than harmonics up there)."""
    return _u(rng, lo, hi) * _click(n, rng, sr, _lu(rng, 1500, 6000), _lu(rng, 0.005, 0.025))


def kick_808(rng, sr):
    """Sine with a pitch drop and a boom; sometimes driven."""
    n = _n(_u(rng, 0.4, 1.2), sr)
    f_end = _u(rng, 38, 62)
    body = d.sine(d.glide(n, sr, f_end * _u(rng, 2.5, 5), f_end, _lu(rng, 0.015, 0.06)), n, sr)
    y = body * d.exp_env(n, sr, _lu(rng, 0.2, 1.0)) + _beater(n, rng, sr)
    return d.drive(y, _u(rng, 0, 3) if rng.random() < 0.5 else 0)


def kick_909(rng, sr):
    """Punchy analog kick: fast sweep from 200-400 Hz, short body, noisy attack."""
    n = _n(_u(rng, 0.3, 0.7), sr)
    f_end = _u(rng, 45, 75)
    y = d.sine(d.glide(n, sr, _u(rng, 180, 420), f_end, _lu(rng, 0.008, 0.03)), n, sr)
    y = d.drive(y, _u(rng, 0.5, 2.5)) * d.exp_env(n, sr, _u(rng, 0.2, 0.5))
    return y + _beater(n, rng, sr, 0.15, 0.5)


def kick_fm(rng, sr):
    """FM kick: a swept sine carrier phase-modulated by a decaying operator (knock, thud)."""
    n = _n(_u(rng, 0.3, 0.9), sr)
    f = d.glide(n, sr, _u(rng, 150, 350), _u(rng, 40, 70), _lu(rng, 0.01, 0.05))
    index = _u(rng, 0.5, 6) * d.exp_env(n, sr, _lu(rng, 0.02, 0.12))
    mod = d.sine(f * _u(rng, 0.5, 2.1), n, sr)
    y = np.sin(d.TAU * d.phase_of(f, n, sr) + index * mod)
    return y * d.exp_env(n, sr, _u(rng, 0.2, 0.6)) + _beater(n, rng, sr)


def kick_acoustic(rng, sr):
    """Subtractive 'acoustic' kick: a resonant low thump, a beater click, a small room."""
    n = _n(_u(rng, 0.3, 0.6), sr)
    f0 = _u(rng, 50, 90)
    thump = d.filt(d.noise(n, rng), "bandpass", f0, _u(rng, 6, 18), sr)
    tone = d.sine(d.glide(n, sr, f0 * 1.6, f0, 0.02), n, sr)
    y = (thump / (np.abs(thump).max() + 1e-12) + tone) * d.exp_env(n, sr, _u(rng, 0.15, 0.45))
    y += _u(rng, 0.2, 0.6) * _click(n, rng, sr, _lu(rng, 1500, 4500), 0.006)
    return d.room(y, rng, sr, _u(rng, 0.15, 0.5), _u(rng, 0.0, 0.25))


def kick_distorted(rng, sr):
    """Techno / hardstyle kick: a heavily driven sweep, then low-passed."""
    n = _n(_u(rng, 0.35, 0.9), sr)
    f_end = _u(rng, 42, 65)
    y = d.sine(d.glide(n, sr, _u(rng, 200, 600), f_end, _lu(rng, 0.01, 0.05)), n, sr)
    y = d.drive(y * d.exp_env(n, sr, _u(rng, 0.12, 0.45)), _u(rng, 3, 12))
    return d.filt(y, "lowpass", _lu(rng, 1500, 6000), 0.9, sr) + _beater(n, rng, sr)


# --------------------------------------------------------------------------- snares

def _wires(n, rng, sr, lo, hi, t60):
    w = d.filt(d.filt(d.noise(n, rng), "highpass", lo, 0.7, sr), "lowpass", hi, 0.7, sr)
    return w / (np.abs(w).max() + 1e-12) * d.exp_env(n, sr, t60)


def snare_808(rng, sr):
    """Two damped sines (the 808's bridged-T pair) under high-passed noise."""
    n = _n(_u(rng, 0.3, 0.6), sr)
    f = _u(rng, 160, 240)
    tone = (d.sine(f, n, sr) + _u(rng, 0.4, 0.9) * d.sine(f * _u(rng, 1.6, 2.0), n, sr)) \
        * d.exp_env(n, sr, _u(rng, 0.08, 0.2))
    return tone + _u(rng, 0.2, 0.6) * _wires(n, rng, sr, _lu(rng, 300, 1000), _lu(rng, 2000, 5000),
                                            _u(rng, 0.2, 0.45))


def snare_909(rng, sr):
    """Tone with a pitch drop plus a bright, longer noise."""
    n = _n(_u(rng, 0.3, 0.7), sr)
    tone = d.sine(d.glide(n, sr, _u(rng, 250, 400), _u(rng, 170, 240), 0.02), n, sr) \
        * d.exp_env(n, sr, _u(rng, 0.06, 0.18))
    return d.drive(tone + _u(rng, 0.3, 0.9) * _wires(n, rng, sr, _lu(rng, 250, 800), _lu(rng, 2000, 5000),
                                                      _u(rng, 0.25, 0.5)), _u(rng, 0, 2))


def snare_fm(rng, sr):
    """An FM membrane (inharmonic modulator ratio) plus noise."""
    n = _n(_u(rng, 0.25, 0.6), sr)
    f = _u(rng, 170, 280)
    index = _u(rng, 1, 5) * d.exp_env(n, sr, 0.05)
    tone = np.sin(d.TAU * d.phase_of(f, n, sr) + index * d.sine(f * _u(rng, 1.4, 2.4), n, sr))
    tone *= d.exp_env(n, sr, _u(rng, 0.08, 0.25))
    return tone + _u(rng, 0.3, 1.0) * _wires(n, rng, sr, _lu(rng, 400, 1500), _lu(rng, 2500, 6000),
                                            _u(rng, 0.15, 0.4))


def snare_noise(rng, sr):
    """Electro / lo-fi snare: band-passed noise burst, sometimes crushed."""
    n = _n(_u(rng, 0.2, 0.5), sr)
    y = d.filt(d.noise(n, rng), "bandpass", _lu(rng, 400, 1800), _u(rng, 0.6, 2.0), sr)
    y = y / (np.abs(y).max() + 1e-12) * d.exp_env(n, sr, _u(rng, 0.15, 0.4))
    y += _u(rng, 0.5, 1.0) * d.sine(_u(rng, 150, 250), n, sr) * d.exp_env(n, sr, _u(rng, 0.06, 0.15))
    if rng.random() < 0.4:
        step = 2.0 ** -rng.integers(3, 7)
        y = np.round(y / (np.abs(y).max() + 1e-12) / step) * step
    return y


def snare_acoustic(rng, sr):
    """A struck head (a few inharmonic modes, slight pitch drop) with snare wires and a room."""
    n = _n(_u(rng, 0.4, 0.8), sr)
    f1 = _u(rng, 150, 260)
    head = sum(a * d.sine(d.glide(n, sr, f1 * r * 1.06, f1 * r, 0.02), n, sr)
               for r, a in ((1.0, 1.0), (_u(rng, 1.45, 1.7), 0.6), (_u(rng, 2.0, 2.4), 0.35),
                            (_u(rng, 2.6, 3.1), 0.2)))
    head *= d.exp_env(n, sr, _u(rng, 0.12, 0.3))
    y = head + _u(rng, 0.6, 1.4) * _wires(n, rng, sr, _lu(rng, 300, 700), _lu(rng, 4000, 8000),
                                          _u(rng, 0.25, 0.55))
    y += _u(rng, 0.2, 0.6) * _click(n, rng, sr, _lu(rng, 2000, 5000), 0.004)
    return d.room(y, rng, sr, _u(rng, 0.2, 0.8), _u(rng, 0.0, 0.3))


# --------------------------------------------------------------------------- hats, cymbals

# The TR-808's six square oscillators of its metal voices (Hz).
METAL_808 = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)


def _metal(n, rng, sr, tune: float) -> np.ndarray:
    """Six detuned band-limited squares (the 808 cymbal/hat recipe), spread by ``tune``."""
    return sum(d.square(f * tune * _u(rng, 0.97, 1.03), n, sr, phase0=_u(rng, 0, 1)) for f in METAL_808) / 6


def _hat_time(rng, kind: str) -> float:
    return {"closed": _lu(rng, 0.12, 0.45), "pedal": _lu(rng, 0.15, 0.45), "open": _lu(rng, 0.6, 2.0)}[kind]


def _hat_body(n, rng, sr, metal: np.ndarray) -> np.ndarray:
    """Metal partials mixed into the noise sizzle, plus the plates' low modes (real hats keep
    10-20 % of their energy in 150 Hz-1 kHz and are noise-like: flatness ~0.2)."""
    sizzle = d.filt(d.noise(n, rng), "highpass", _lu(rng, 3000, 6000), 0.7, sr)
    y = _u(rng, 0.2, 0.7) * metal / (np.abs(metal).max() + 1e-12) + sizzle / (np.abs(sizzle).max() + 1e-12)
    t = d.seconds(n, sr)
    y += sum(_u(rng, 0.03, 0.12) * np.sin(d.TAU * f * t + _u(rng, 0, 6.3)) for f in np.exp(rng.uniform(np.log(250), np.log(900), 3)))
    return y


def hat_metal(rng, sr, kind: str | None = None):
    kind = kind or str(rng.choice(["closed", "closed", "pedal", "open"]))
    t60 = _hat_time(rng, kind)
    n = _n(t60 * 1.3 + 0.02, sr)
    y = _metal(n, rng, sr, _u(rng, 0.8, 2.2))
    y = d.filt(d.filt(y, "bandpass", _lu(rng, 4000, 9000), _u(rng, 0.6, 1.5), sr), "highpass",
               _lu(rng, 2500, 6000), 0.7, sr)
    y = _hat_body(n, rng, sr, y)
    env = d.exp_env(n, sr, t60)
    if kind == "pedal":
        env *= np.minimum(1, d.seconds(n, sr) / 0.006)
    return y * env, {"subtype": kind}


def hat_noise(rng, sr, kind: str | None = None):
    kind = kind or str(rng.choice(["closed", "closed", "pedal", "open"]))
    t60 = _hat_time(rng, kind)
    n = _n(t60 * 1.3 + 0.02, sr)
    y = d.filt(d.noise(n, rng), "highpass", _lu(rng, 3000, 7000), _u(rng, 0.7, 2.0), sr)
    y = d.filt(y, "peak", _lu(rng, 4000, 9000), 2.0, sr, gain_db=_u(rng, 0, 9))
    y = d.filt(y, "lowpass", _lu(rng, 9000, 16000), 0.7, sr)
    y = _hat_body(n, rng, sr, y)
    return y * d.exp_env(n, sr, t60), {"subtype": kind}


def hat_ring(rng, sr, kind: str | None = None):
    """Ring-modulated squares: a clangier, more digital hat."""
    kind = kind or str(rng.choice(["closed", "open"]))
    t60 = _hat_time(rng, kind)
    n = _n(t60 * 1.3 + 0.02, sr)
    y = d.square(_lu(rng, 300, 900), n, sr) * d.square(_lu(rng, 2000, 5500), n, sr)
    y = _hat_body(n, rng, sr, d.filt(y, "highpass", _lu(rng, 2500, 6000), 0.8, sr))
    return y * d.exp_env(n, sr, t60), {"subtype": kind}


def cymbal_metal(rng, sr):
    """808-style cymbal: the metal bank band-passed lower and ringing for seconds."""
    t60 = _u(rng, 1.2, 4.0)
    n = _n(t60 * 0.9, sr)
    y = _metal(n, rng, sr, _u(rng, 0.8, 1.6))
    lo = d.filt(y, "bandpass", _lu(rng, 3000, 6000), 1.2, sr) * d.exp_env(n, sr, t60)
    hi = d.filt(y, "highpass", _lu(rng, 7000, 10000), 0.7, sr) * d.exp_env(n, sr, t60 * 0.5)
    wash = d.filt(d.noise(n, rng), "highpass", 3000, 0.7, sr) * d.exp_env(n, sr, t60 * 0.7)
    return lo + hi + _u(rng, 0.1, 0.5) * wash, {"subtype": "808 cymbal"}


def cymbal_crash(rng, sr):
    """A crash / splash / china: a noisy, bright swell that darkens as it rings."""
    kind = str(rng.choice(["crash", "crash", "splash", "china"]))
    t60 = {"crash": _u(rng, 2.0, 5.0), "splash": _u(rng, 0.8, 1.8), "china": _u(rng, 1.5, 3.5)}[kind]
    n = _n(t60 * 0.8, sr)
    y = d.noise(n, rng)
    cutoff = np.geomspace(_lu(rng, 9000, 15000), _lu(rng, 2500, 5000), n)
    y = d.filt(d.filt(y, "lowpass", cutoff, 0.7, sr), "highpass", _lu(rng, 1500, 3500), 0.7, sr)
    partials = np.exp(rng.uniform(np.log(400), np.log(9000), 60))
    t = d.seconds(n, sr)
    y = _u(rng, 0.5, 1.0) * y / (np.abs(y).max() + 1e-12) + sum(
        _u(rng, 0.03, 0.15) * np.sin(d.TAU * f * t + _u(rng, 0, 6.3)) for f in partials)
    if kind == "china":
        y = d.drive(y, 2.0)
    env = np.minimum(1, t / _u(rng, 0.002, 0.02)) * d.exp_env(n, sr, t60)
    return y * env, {"subtype": kind}


def cymbal_ride(rng, sr):
    """A ride: a stick ping on a dense partial cloud, less wash than a crash; or its bell."""
    bell = rng.random() < 0.3
    t60 = _u(rng, 2.5, 6.0)
    n = _n(t60 * 0.7, sr)
    t = d.seconds(n, sr)
    partials = np.exp(rng.uniform(np.log(2000 if not bell else 600), np.log(12000), 40))
    y = sum(_u(rng, 0.3, 1.0) * np.sin(d.TAU * f * t + _u(rng, 0, 6.3)) * d.exp_env(n, sr, t60 * (2000 / f) ** 0.3)
            for f in partials) / 10
    if bell:
        fb = _u(rng, 500, 1100)
        y += sum(a * d.sine(fb * r, n, sr) for r, a in ((1, 0.8), (2.41, 0.5), (3.9, 0.3))) * d.exp_env(n, sr, t60 * 0.6)
    y = y / (np.abs(y).max() + 1e-12)
    y += _u(rng, 0.2, 0.6) * d.filt(d.noise(n, rng), "highpass", _lu(rng, 2500, 6000), 0.7, sr) * d.exp_env(n, sr, t60 * 0.4)
    y += _click(n, rng, sr, 6000, 0.003)
    return y, {"subtype": "ride bell" if bell else "ride"}


# --------------------------------------------------------------------------- claps, toms

def clap_burst(rng, sr):
    """Analog clap: 3-5 band-passed noise bursts a few ms apart, then a diffuse tail."""
    n = _n(_u(rng, 0.3, 0.8), sr)
    t = d.seconds(n, sr)
    env = np.zeros(n)
    start = 0.0
    for _ in range(rng.integers(3, 6)):
        env += np.where(t >= start, np.exp(-np.maximum(t - start, 0) / _u(rng, 0.002, 0.006)), 0)
        start += _u(rng, 0.006, 0.016)
    env += _u(rng, 0.15, 0.5) * np.where(t >= start, np.exp(-6.9 * np.maximum(t - start, 0) / _lu(rng, 0.05, 0.3)), 0)
    y = d.filt(d.noise(n, rng), "bandpass", _lu(rng, 600, 1400), _u(rng, 0.8, 2.5), sr)
    return y * env


def clap_layered(rng, sr):
    """Several hands: 2-6 clap events of different colours with jitter, in a room."""
    n = _n(_u(rng, 0.3, 0.7), sr)
    y = np.zeros(n)
    for _ in range(rng.integers(2, 7)):
        off = int(_u(rng, 0, 0.025) * sr)
        m = n - off
        hand = d.filt(d.noise(m, rng), "bandpass", _lu(rng, 500, 1800), _u(rng, 0.7, 2.0), sr)
        hand *= d.exp_env(m, sr, _lu(rng, 0.02, 0.1))
        y[off:] += _u(rng, 0.4, 1.0) * hand
    return d.room(y, rng, sr, _u(rng, 0.2, 0.7), _u(rng, 0.05, 0.3))


def tom_808(rng, sr):
    n = _n(_u(rng, 0.7, 1.8), sr)
    f = _lu(rng, 70, 260)
    y = d.sine(d.glide(n, sr, f * _u(rng, 1.2, 2.0), f, _lu(rng, 0.02, 0.1)), n, sr)
    y = y * d.exp_env(n, sr, _u(rng, 0.7, 2.0))
    return y + _u(rng, 0.05, 0.3) * _click(n, rng, sr, _lu(rng, 1500, 5000), 0.006)


def tom_fm(rng, sr):
    n = _n(_u(rng, 0.7, 1.6), sr)
    f = _lu(rng, 80, 240)
    index = _u(rng, 0.5, 3) * d.exp_env(n, sr, 0.08)
    fsw = d.glide(n, sr, f * 1.3, f, 0.04)
    y = np.sin(d.TAU * d.phase_of(fsw, n, sr) + index * d.sine(fsw * _u(rng, 1.3, 1.8), n, sr))
    return y * d.exp_env(n, sr, _u(rng, 0.7, 1.8)) + _u(rng, 0.05, 0.3) * _click(n, rng, sr, _lu(rng, 1500, 5000), 0.006)


def tom_acoustic(rng, sr):
    n = _n(_u(rng, 0.9, 2.0), sr)
    f1 = _lu(rng, 75, 200)
    y = sum(a * d.sine(d.glide(n, sr, f1 * r * 1.12, f1 * r, 0.04), n, sr) * d.exp_env(n, sr, t60)
            for r, a, t60 in ((1.0, 1.0, _u(rng, 1.0, 2.2)), (_u(rng, 1.5, 1.65), 0.4, 0.5),
                              (_u(rng, 2.1, 2.3), 0.2, 0.25)))
    y += _u(rng, 0.3, 0.7) * _click(n, rng, sr, _lu(rng, 1500, 4000), 0.008)
    return d.room(y, rng, sr, _u(rng, 0.2, 0.8), _u(rng, 0.0, 0.25))


# --------------------------------------------------------------------------- percussion

def perc_cowbell(rng, sr):
    n = _n(_u(rng, 0.25, 0.6), sr)
    tune = _u(rng, 0.75, 1.35)
    y = d.square(540 * tune, n, sr) + d.square(800 * tune, n, sr)
    y = d.filt(y, "bandpass", _lu(rng, 700, 2500), _u(rng, 1, 4), sr)
    env = 0.6 * d.exp_env(n, sr, 0.05) + 0.4 * d.exp_env(n, sr, _u(rng, 0.15, 0.5))
    return y * env + _u(rng, 0.05, 0.3) * _click(n, rng, sr, _lu(rng, 2000, 6000), 0.004), {"subtype": "cowbell"}


def perc_block(rng, sr):
    """Woodblock / clave / rim click: a click ringing a sharp resonance."""
    n = _n(_u(rng, 0.12, 0.35), sr)
    exc = np.zeros(n)
    exc[: _n(0.0008, sr)] = 1.0
    fc = _lu(rng, 700, 3500)
    y = d.filt(exc + 0.2 * d.noise(n, rng) * d.exp_env(n, sr, 0.005), "bandpass", fc, _u(rng, 8, 40), sr)
    y = y / (np.abs(y).max() + 1e-12) + 0.3 * d.sine(fc, n, sr)
    return y * d.exp_env(n, sr, _lu(rng, 0.06, 0.3)), {"subtype": str(rng.choice(["woodblock", "clave", "rim"]))}


def perc_shaker(rng, sr):
    """Shaker / maraca / cabasa / tambourine: shaped high noise, sometimes with jingles."""
    length = _u(rng, 0.08, 0.35)
    n = _n(length * 1.4, sr)
    t = d.seconds(n, sr)
    env = np.minimum(1, t / _u(rng, 0.004, 0.04)) * d.exp_env(n, sr, length)
    y = d.filt(d.noise(n, rng), "highpass", _lu(rng, 2500, 7000), 0.9, sr)
    subtype = "shaker"
    if rng.random() < 0.35:
        subtype = "tambourine"
        y += sum(0.2 * np.sin(d.TAU * f * t + _u(rng, 0, 6)) for f in np.exp(rng.uniform(np.log(4000), np.log(11000), 10)))
    return y * env, {"subtype": subtype}


def perc_hand_drum(rng, sr):
    """Conga / bongo / djembe: a pitched skin with a slap transient."""
    n = _n(_u(rng, 0.2, 0.6), sr)
    f = _lu(rng, 150, 520)
    y = d.sine(d.glide(n, sr, f * 1.08, f, 0.02), n, sr) * d.exp_env(n, sr, _u(rng, 0.1, 0.45))
    y += 0.3 * d.sine(f * _u(rng, 1.5, 1.7), n, sr) * d.exp_env(n, sr, 0.08)
    y += _u(rng, 0.2, 0.9) * _click(n, rng, sr, _lu(rng, 1500, 5000), _u(rng, 0.004, 0.015))
    return d.room(y, rng, sr, _u(rng, 0.1, 0.4), _u(rng, 0, 0.2)), {"subtype": str(rng.choice(["conga", "bongo", "djembe"]))}


def perc_bell(rng, sr):
    """Triangle / agogo / small bell: a few inharmonic high partials."""
    n = _n(_u(rng, 0.3, 1.5), sr)
    f = _lu(rng, 700, 4500)
    y = sum(a * d.sine(f * r, n, sr) for r, a in ((1, 1), (_u(rng, 2.2, 2.9), 0.5), (_u(rng, 3.9, 5.4), 0.3)))
    y = y * d.exp_env(n, sr, _u(rng, 0.2, 1.4)) + 0.2 * _click(n, rng, sr, 5000, 0.002)
    return y, {"subtype": str(rng.choice(["triangle", "agogo", "bell"]))}


def perc_blip(rng, sr):
    """Electronic perc: a short pitched blip, zap or pop (drum-machine 'perc' voices)."""
    n = _n(_u(rng, 0.05, 0.3), sr)
    f_end = _lu(rng, 200, 2000)
    f = d.glide(n, sr, f_end * _u(rng, 1, 6), f_end, _lu(rng, 0.005, 0.05))
    y = d.sine(f, n, sr) if rng.random() < 0.6 else d.square(f, n, sr, _u(rng, 0.2, 0.5))
    return y * d.exp_env(n, sr, n / sr), {"subtype": "blip"}


# --------------------------------------------------------------------------- bass

def _note_env(n, sr, rng, hold, attack=None):
    return d.adsr(n, sr, attack if attack is not None else _u(rng, 0.002, 0.02), _u(rng, 0.1, 0.6),
                  _u(rng, 0.3, 1.0), _u(rng, 0.05, 0.4), hold)


def _bass_pitch(rng) -> int:
    """E1..D3, around the recorded bass one-shots (GM basses at E1-A2); a synth note starts
    at F3 so the two classes do not overlap in pitch."""
    return int(rng.integers(28, 51))


def _held_bass(rng, sr, longest: float) -> tuple[int, float, float, int]:
    """(MIDI note, Hz, seconds held, samples with a 0.5 s release) of a held bass note."""
    midi = _bass_pitch(rng)
    hold = _u(rng, 0.15, longest)
    return midi, hz(midi), hold, _n(hold + 0.5, sr)


def bass_808(rng, sr):
    """Long sine bass with a pitch drop at the start (the trap '808')."""
    midi = _bass_pitch(rng)
    f = hz(midi)
    n = _n(_u(rng, 0.8, 2.5), sr)
    y = d.sine(d.glide(n, sr, f * _u(rng, 1.0, 2.0), f, _lu(rng, 0.01, 0.06)), n, sr)
    y = d.drive(y * d.exp_env(n, sr, _u(rng, 1.0, 4.0)), _u(rng, 1, 6))
    return y, {"midi": midi}


def bass_saw(rng, sr):
    """Subtractive bass: one or two saws through an enveloped resonant low-pass."""
    midi, f, hold, n = _held_bass(rng, sr, 1.5)
    y = d.saw(f, n, sr) + (d.saw(f * 2 ** (_u(rng, -15, 15) / 1200), n, sr) if rng.random() < 0.5 else 0)
    cut = _lu(rng, 250, 900) + _lu(rng, 200, 3000) * d.exp_env(n, sr, _lu(rng, 0.05, 0.6))
    y = d.filt(y, "lowpass", cut, _u(rng, 0.7, 4.0), sr)
    return y * _note_env(n, sr, rng, hold), {"midi": midi}


def bass_square(rng, sr):
    midi, f, hold, n = _held_bass(rng, sr, 1.5)
    y = d.square(f, n, sr, _u(rng, 0.15, 0.5)) + 0.6 * d.sine(f / 2 if rng.random() < 0.4 else f, n, sr)
    y = d.filt(y, "lowpass", _lu(rng, 250, 1800), _u(rng, 0.7, 2.5), sr)
    return y * _note_env(n, sr, rng, hold), {"midi": midi}


def bass_fm(rng, sr):
    """DX-style bass: a sine carrier with a decaying 1:1 or 2:1 modulator (growl to pluck)."""
    midi, f, hold, n = _held_bass(rng, sr, 1.2)
    index = _u(rng, 1.0, 6) * (0.4 + 0.6 * d.exp_env(n, sr, _lu(rng, 0.05, 0.8)))
    y = np.sin(d.TAU * d.phase_of(f, n, sr) + index * d.sine(f * float(rng.choice([1, 1, 2, 3])), n, sr))
    return y * _note_env(n, sr, rng, hold), {"midi": midi}


def bass_pluck(rng, sr):
    """A plucked string by Karplus-Strong: a noise burst in a damped delay line."""
    midi = _bass_pitch(rng)
    period = max(2, int(round(sr / hz(midi))))
    n = _n(_u(rng, 0.8, 2.0), sr)
    damp = _u(rng, 0.990, 0.9995)
    y = np.zeros(n + period + 1)
    y[:period] = d.filt(rng.uniform(-1, 1, period), "lowpass", _lu(rng, 500, 4000), 0.7, sr)
    for start in range(period, n, period):      # one period at a time, vectorised inside
        end = min(start + period, n)
        prev = y[start - period: end - period + 1]
        y[start:end] = damp * 0.5 * (prev[:-1] + prev[1:])[: end - start]
    y = d.filt(y[:n], "lowpass", _lu(rng, 250, 1200), 0.7, sr)
    return y * d.adsr(n, sr, 0.002, 0.2, 1.0, 0.1, n / sr - 0.1), {"midi": midi}


def bass_reese(rng, sr):
    """Detuned saws through a low-pass that moves slowly (DnB reese)."""
    midi = _bass_pitch(rng)
    f = hz(midi)
    hold = _u(rng, 0.8, 2.5)
    n = _n(hold + 0.4, sr)
    y = sum(d.saw(f * 2 ** (c / 1200), n, sr, _u(rng, 0, 1)) for c in rng.uniform(-25, 25, rng.integers(2, 4)))
    lfo = 0.5 + 0.5 * np.sin(d.TAU * _u(rng, 0.2, 2) * d.seconds(n, sr))
    y = d.filt(y, "lowpass", _lu(rng, 200, 600) + _lu(rng, 200, 1500) * lfo, _u(rng, 0.7, 2), sr)
    return d.drive(y * _note_env(n, sr, rng, hold), _u(rng, 0, 3)), {"midi": midi}


# --------------------------------------------------------------------------- synths

def _synth_pitch(rng) -> int:
    return int(rng.integers(53, 85))    # F3..C#6 (pads and chords sit up to 7 below)


CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 3, 7, 10), (0, 5, 7), (0, 4, 7, 14), (0, 3, 7, 14), (0, 7))


def _voices(rng, f, n, sr, shape: str, count: int, spread_cents: float):
    out = 0.0
    for c in (rng.uniform(-spread_cents, spread_cents, count) if count > 1 else [0.0]):
        fc = f * 2 ** (c / 1200)
        out = out + (d.saw(fc, n, sr, _u(rng, 0, 1)) if shape == "saw" else
                     d.square(fc, n, sr, _u(rng, 0.25, 0.5), _u(rng, 0, 1)) if shape == "square" else
                     d.sine(fc, n, sr, _u(rng, 0, 1)))
    return out / np.sqrt(count)


def synth_pad(rng, sr):
    midi = _synth_pitch(rng) - 7
    hold = _u(rng, 1.2, 3.0)
    n = _n(hold + 1.2, sr)
    notes = [midi + i for i in CHORDS[rng.integers(len(CHORDS))]] if rng.random() < 0.6 else [midi]
    shape = str(rng.choice(["saw", "square", "sine"]))
    y = sum(_voices(rng, hz(m), n, sr, shape, int(rng.integers(3, 8)), _u(rng, 5, 30)) for m in notes)
    y = d.filt(y, "lowpass", _lu(rng, 800, 6000), 0.8, sr)
    y = y * d.adsr(n, sr, _u(rng, 0.15, 1.0), 0.5, _u(rng, 0.6, 1.0), _u(rng, 0.3, 1.2), hold)
    return d.room(y, rng, sr, _u(rng, 0.8, 2.5), _u(rng, 0.1, 0.4)), {"midi": midi, "subtype": "pad"}


def synth_lead(rng, sr):
    midi = _synth_pitch(rng)
    hold = _u(rng, 0.3, 1.6)
    n = _n(hold + 0.5, sr)
    t = d.seconds(n, sr)
    vib = 1 + _u(rng, 0.002, 0.012) * np.sin(d.TAU * _u(rng, 4.5, 6.5) * t) * np.minimum(1, t / 0.3)
    f = hz(midi) * vib
    y = _voices(rng, f, n, sr, str(rng.choice(["saw", "square"])), int(rng.integers(1, 4)), 10)
    cut = _lu(rng, 800, 3000) + _lu(rng, 500, 6000) * d.exp_env(n, sr, _lu(rng, 0.1, 1.0))
    y = d.filt(y, "lowpass", cut, _u(rng, 0.7, 3), sr)
    return d.drive(y * _note_env(n, sr, rng, hold), _u(rng, 0, 2)), {"midi": midi, "subtype": "lead"}


def synth_pluck(rng, sr):
    midi = _synth_pitch(rng)
    n = _n(_u(rng, 0.3, 1.2), sr)
    y = _voices(rng, hz(midi), n, sr, str(rng.choice(["saw", "square"])), int(rng.integers(1, 4)), 12)
    cut = _lu(rng, 300, 1200) + _lu(rng, 2000, 9000) * d.exp_env(n, sr, _lu(rng, 0.03, 0.3))
    y = d.filt(y, "lowpass", cut, _u(rng, 0.8, 4), sr) * d.exp_env(n, sr, _u(rng, 0.2, 1.0))
    return d.room(y, rng, sr, _u(rng, 0.3, 1.5), _u(rng, 0, 0.35)), {"midi": midi, "subtype": "pluck"}


def synth_chord(rng, sr):
    """A chord stab or held chord of saws / squares."""
    midi = _synth_pitch(rng) - 5
    stab = rng.random() < 0.6
    hold = _u(rng, 0.08, 0.4) if stab else _u(rng, 0.6, 1.8)
    n = _n(hold + 0.6, sr)
    shape = str(rng.choice(["saw", "square"]))
    y = sum(_voices(rng, hz(midi + i), n, sr, shape, int(rng.integers(1, 4)), 12)
            for i in CHORDS[rng.integers(len(CHORDS))])
    cut = _lu(rng, 500, 2500) + _lu(rng, 500, 6000) * d.exp_env(n, sr, _lu(rng, 0.05, 0.5))
    y = d.filt(y, "lowpass", cut, _u(rng, 0.7, 2.5), sr) * _note_env(n, sr, rng, hold, 0.003)
    return d.room(y, rng, sr, _u(rng, 0.3, 1.5), _u(rng, 0, 0.35)), {"midi": midi, "subtype": "stab" if stab else "chord"}


def synth_keys(rng, sr):
    """FM electric piano (1:1 with a 14:1 tine) or a drawbar organ."""
    midi = _synth_pitch(rng) - 5
    f = hz(midi)
    hold = _u(rng, 0.4, 1.8)
    n = _n(hold + 0.8, sr)
    if rng.random() < 0.6:
        index = _u(rng, 0.5, 3) * d.exp_env(n, sr, _u(rng, 0.3, 1.5))
        y = np.sin(d.TAU * d.phase_of(f, n, sr) + index * d.sine(f, n, sr))
        y += 0.3 * d.sine(f * 14, n, sr) * d.exp_env(n, sr, 0.05)
        y *= d.adsr(n, sr, 0.002, _u(rng, 0.5, 2.0), 0.0, 0.3, hold)
        sub = "electric piano"
    else:
        y = sum(_u(rng, 0, 1) * d.sine(f * h, n, sr) for h in (0.5, 1, 2, 3, 4, 6, 8))
        y *= d.adsr(n, sr, 0.005, 0.1, 1.0, 0.08, hold)
        sub = "organ"
    return y, {"midi": midi, "subtype": sub}


def synth_bell(rng, sr):
    """FM bell / mallet: an inharmonic modulator ratio, long decay."""
    midi = _synth_pitch(rng)
    f = hz(midi)
    n = _n(_u(rng, 0.8, 3.0), sr)
    index = _u(rng, 1, 6) * d.exp_env(n, sr, _u(rng, 0.3, 2.0))
    y = np.sin(d.TAU * d.phase_of(f, n, sr) + index * d.sine(f * float(rng.choice([1.4, 2.76, 3.5, 4.2])), n, sr))
    return y * d.exp_env(n, sr, n / sr), {"midi": midi, "subtype": "bell"}


# --------------------------------------------------------------------------- vocals

def _glottal(f: np.ndarray, n: int, sr: int, rng, breath: float) -> np.ndarray:
    """A voiced source as radiated from the lips: a saw (-6 dB/octave, the glottal pulse's
    -12 plus the mouth's +6) gently rolled off above 3-5 kHz, with pitch jitter and breath
    noise, so the formants above F1 carry energy (a steeper source sounds like a plain synth
    tone: the first version's vowels were taken for FM synth notes)."""
    jitter = 1 + 0.006 * d.filt(rng.standard_normal(n), "lowpass", 30, 0.7, sr)
    src = d.filt(d.saw(f * jitter, n, sr), "lowpass", _lu(rng, 3000, 5000), 0.5, sr)
    return src + breath * d.filt(d.noise(n, rng), "highpass", 1000, 0.7, sr)


def _sung(rng, sr, f0: float, seconds: float, vowel: str, scale: float, breath: float) -> np.ndarray:
    n = _n(seconds, sr)
    t = d.seconds(n, sr)
    vib = 1 + _u(rng, 0.008, 0.025) * np.sin(d.TAU * _u(rng, 4.5, 6.5) * t + _u(rng, 0, 6)) * np.minimum(1, t / 0.25)
    return d.formants(_glottal(f0 * vib, n, sr, rng, breath), vowel, sr, scale)


def _voice_range(rng) -> tuple[float, float]:
    """(f0, formant scale): a low / high voice."""
    if rng.random() < 0.5:
        return hz(rng.integers(43, 60)), _u(rng, 0.95, 1.05)     # G2..B3
    return hz(rng.integers(55, 74)), _u(rng, 1.1, 1.22)          # G3..C#5


def vocal_vowel(rng, sr):
    """A sung vowel (sometimes gliding to a second one), as in a vocal one-shot."""
    f0, scale = _voice_range(rng)
    hold = _u(rng, 0.4, 2.0)
    v1 = str(rng.choice(list(d.VOWELS)))
    y = _sung(rng, sr, f0, hold + 0.4, v1, scale, _u(rng, 0.02, 0.15))
    if rng.random() < 0.4:
        v2 = str(rng.choice(list(d.VOWELS)))
        y2 = _sung(rng, sr, f0, hold + 0.4, v2, scale, 0.05)
        mix = np.clip((d.seconds(len(y), sr) - hold * 0.4) / 0.2, 0, 1)
        y = y * (1 - mix) + y2 * mix
    y *= d.adsr(len(y), sr, _u(rng, 0.03, 0.2), 0.3, 0.9, _u(rng, 0.1, 0.4), hold)
    return d.room(y, rng, sr, _u(rng, 0.5, 2.0), _u(rng, 0, 0.3)), {"subtype": f"vowel {v1}"}


CONSONANTS = {"t": (4000, 0.015), "k": (2000, 0.02), "s": (7000, 0.08), "sh": (3000, 0.09),
              "h": (1500, 0.05), "p": (800, 0.01)}


def vocal_chop(rng, sr):
    """A vocal chop: 1-4 short syllables (consonant burst + vowel) on scale steps."""
    f0, scale = _voice_range(rng)
    parts = []
    for _ in range(rng.integers(1, 5)):
        cons = str(rng.choice(list(CONSONANTS) + ["", ""]))
        if cons:
            fc, length = CONSONANTS[cons]
            m = _n(length, sr)
            parts.append(0.4 * d.filt(d.noise(m, rng), "bandpass", fc, 1.5, sr) * np.hanning(m))
        syl = _u(rng, 0.08, 0.35)
        step = float(rng.choice([0, 0, 2, 3, 5, 7, -2, -5]))
        v = _sung(rng, sr, f0 * 2 ** (step / 12), syl, str(rng.choice(list(d.VOWELS))), scale, 0.05)
        parts.append(v * d.adsr(len(v), sr, 0.01, 0.1, 0.8, 0.04, syl * 0.8))
        parts.append(np.zeros(_n(_u(rng, 0, 0.08), sr)))
    y = np.concatenate(parts)
    return d.room(y, rng, sr, _u(rng, 0.3, 1.5), _u(rng, 0, 0.3)), {"subtype": "chop"}


def vocal_choir(rng, sr):
    """A choir 'ooh' / 'aah': several detuned voices with their own vibrato."""
    f0, scale = _voice_range(rng)
    hold = _u(rng, 1.0, 2.5)
    vowel = str(rng.choice(["a", "o", "u"]))
    chord = [0] if rng.random() < 0.5 else list(CHORDS[rng.integers(len(CHORDS))])
    y = sum(_sung(rng, sr, f0 * 2 ** ((i * 100 + _u(rng, -20, 20)) / 1200), hold + 0.6, vowel, scale, 0.08)
            for i in chord for _ in range(int(rng.integers(2, 5))))
    y = y * d.adsr(len(y), sr, _u(rng, 0.1, 0.5), 0.3, 0.9, _u(rng, 0.3, 0.6), hold)
    return d.room(y, rng, sr, _u(rng, 1.0, 2.5), _u(rng, 0.15, 0.4)), {"subtype": f"choir {vowel}"}


def vocal_shout(rng, sr):
    """A shout ('hey!', 'ho!'): breathy, loud vowel with a falling pitch."""
    f0, scale = _voice_range(rng)
    length = _u(rng, 0.15, 0.5)
    n = _n(length, sr)
    f = f0 * 1.3 * (1 - 0.2 * d.seconds(n, sr) / length)
    y = d.formants(_glottal(f, n, sr, rng, _u(rng, 0.2, 0.5)), str(rng.choice(["a", "e", "o"])), sr, scale)
    y = d.drive(y * d.adsr(n, sr, 0.01, 0.1, 0.8, 0.06, length * 0.8), _u(rng, 0.5, 3))
    return d.room(y, rng, sr, _u(rng, 0.4, 1.5), _u(rng, 0.1, 0.4)), {"subtype": "shout"}


# --------------------------------------------------------------------------- fx

def fx_riser(rng, sr):
    """A noise riser: band-pass sweeping up, crescendo, sometimes a rising saw."""
    length = _u(rng, 1.0, 5.0)
    n = _n(length, sr)
    sweep = np.geomspace(_lu(rng, 100, 500), _lu(rng, 1500, 9000), n)
    y = d.filt(d.noise(n, rng), "bandpass", sweep, _u(rng, 1, 4), sr)
    if rng.random() < 0.5:
        y = y / (np.abs(y).max() + 1e-12) + 0.5 * d.saw(np.geomspace(_lu(rng, 60, 200), _lu(rng, 600, 2500), n), n, sr)
    env = (d.seconds(n, sr) / length) ** _u(rng, 1, 3)
    return y * env, {"subtype": "riser"}


def fx_downlifter(rng, sr):
    length = _u(rng, 0.8, 3.5)
    n = _n(length, sr)
    sweep = np.geomspace(_lu(rng, 3000, 10000), _lu(rng, 100, 400), n)
    y = d.filt(d.noise(n, rng), "bandpass", sweep, _u(rng, 1, 3), sr)
    if rng.random() < 0.5:
        y = y / (np.abs(y).max() + 1e-12) + 0.5 * d.sine(np.geomspace(_lu(rng, 300, 1500), _lu(rng, 30, 80), n), n, sr)
    return y * d.exp_env(n, sr, length) * np.minimum(1, d.seconds(n, sr) / 0.01), {"subtype": "downlifter"}


def fx_impact(rng, sr):
    """Cinematic impact: a falling sub boom, a noise crack and a long room."""
    n = _n(_u(rng, 1.0, 3.0), sr)
    f = _u(rng, 30, 55)
    boom = d.sine(d.glide(n, sr, f * _u(rng, 3, 6), f, _lu(rng, 0.03, 0.15)), n, sr) * d.exp_env(n, sr, _u(rng, 0.8, 3))
    crack = d.filt(d.noise(n, rng), "bandpass", _lu(rng, 500, 3000), 0.7, sr) * d.exp_env(n, sr, _u(rng, 0.1, 0.6))
    y = d.drive(boom + _u(rng, 0.3, 1.0) * crack, _u(rng, 0, 3))
    return d.room(y, rng, sr, _u(rng, 1.5, 4.0), _u(rng, 0.2, 0.5)), {"subtype": "impact"}


def fx_sweep(rng, sr):
    """A whoosh: noise through a sweeping filter with a swell-and-fade envelope."""
    length = _u(rng, 0.4, 2.5)
    n = _n(length, sr)
    up = rng.random() < 0.5
    a, b = _lu(rng, 200, 1000), _lu(rng, 3000, 12000)
    sweep = np.geomspace(a, b, n) if up else np.geomspace(b, a, n)
    y = d.filt(d.noise(n, rng, _u(rng, 0, 1), sr), "bandpass", sweep, _u(rng, 0.8, 3), sr)
    return y * np.hanning(n) ** _u(rng, 0.5, 2), {"subtype": "sweep up" if up else "sweep down"}


def fx_zap(rng, sr):
    """Laser / zap: a pitch falling fast over several octaves, sometimes FM'd."""
    length = _u(rng, 0.1, 0.8)
    n = _n(length, sr)
    f = np.geomspace(_lu(rng, 2000, 9000), _lu(rng, 40, 400), n)
    index = _u(rng, 0, 4)
    y = np.sin(d.TAU * d.phase_of(f, n, sr) + index * d.sine(f * _u(rng, 0.5, 3), n, sr))
    return y * d.exp_env(n, sr, length), {"subtype": "zap"}


def fx_glitch(rng, sr):
    """Glitch: grains of a random tone / noise source repeated, gated, re-pitched, crushed."""
    src_n = _n(0.3, sr)
    src = [d.noise(src_n, rng), d.square(_lu(rng, 100, 2000), src_n, sr), d.saw(_lu(rng, 60, 800), src_n, sr)][rng.integers(3)]
    parts = []
    for _ in range(rng.integers(4, 16)):
        g = _n(_u(rng, 0.01, 0.08), sr)
        start = int(rng.integers(0, src_n - g))
        grain = src[start:start + g] * (1 if rng.random() < 0.7 else 0)
        parts += [grain] * int(rng.integers(1, 5))
    y = np.concatenate(parts)
    step = 2.0 ** -rng.integers(2, 6)
    y = np.round(y / (np.abs(y).max() + 1e-12) / step) * step
    return d.filt(y, "lowpass", _lu(rng, 2000, 12000), 0.7, sr), {"subtype": "glitch"}


def fx_noise(rng, sr):
    """A noise hit / burst with a colour and a filter (white noise fx, vinyl-like)."""
    length = _u(rng, 0.3, 2.0)
    n = _n(length, sr)
    y = d.filt(d.noise(n, rng, float(rng.choice([0, 1, 2])), sr), "lowpass", _lu(rng, 1500, 14000), 0.7, sr)
    env = np.minimum(1, d.seconds(n, sr) / _u(rng, 0.005, 0.4)) * d.exp_env(n, sr, length)
    return y * env, {"subtype": "noise"}


def fx_scifi(rng, sr):
    """Alarm / siren / sci-fi drone: a tone whose pitch an LFO sweeps, with FM."""
    length = _u(rng, 0.8, 3.0)
    n = _n(length, sr)
    t = d.seconds(n, sr)
    f = _lu(rng, 200, 1500) * 2 ** (_u(rng, 0.2, 1.5) * np.sin(d.TAU * _u(rng, 0.5, 8) * t))
    y = np.sin(d.TAU * d.phase_of(f, n, sr) + _u(rng, 0, 5) * d.sine(f * _u(rng, 0.5, 2), n, sr))
    return y * d.adsr(n, sr, _u(rng, 0.01, 0.3), 0.3, 0.8, 0.3, length - 0.3), {"subtype": "sci-fi"}


def fx_tape_stop(rng, sr):
    """A tape stop / spin-down: a chord whose pitch and level slide to nothing."""
    length = _u(rng, 0.5, 1.8)
    n = _n(length, sr)
    slow = np.maximum(1 - d.seconds(n, sr) / length, 0) ** _u(rng, 0.7, 2)
    f = hz(_synth_pitch(rng) - 12) * slow + 1
    y = sum(d.saw(f * 2 ** (i / 12), n, sr) for i in CHORDS[rng.integers(len(CHORDS))])
    return d.filt(y, "lowpass", 3000 * slow + 100, 0.7, sr) * slow, {"subtype": "tape stop"}


# --------------------------------------------------------------------------- loops

STYLES = {   # name: (bpm range, steps for kick, snare/clap, closed hat, open hat, perc)
    "house": ((118, 130), "x...x...x...x...", "....x.......x...", "..x...x...x...x.", "..............x.", "...x.......x...."),
    "techno": ((125, 140), "x...x...x...x...", "....x.......x...", "xxxxxxxxxxxxxxxx", "..x...x...x...x.", "......x.......x."),
    "hiphop": ((80, 100), "x......x..x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", "................", "..........x....."),
    "trap": ((130, 150), "x.........x.....", "........x.......", "x.xxx.x.x.xxx.xx", "................", "...............x"),
    "dnb": ((165, 178), "x.........x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", "................", ".......x........"),
    "breakbeat": ((120, 140), "x.x.......x.....", "....x..x.x..x...", "x.x.x.x.x.x.x.x.", "...............x", "................"),
    "dembow": ((90, 105), "x...x...x...x...", "...x..x....x..x.", "x.x.x.x.x.x.x.x.", "................", "..x.......x....."),
    "electro": ((105, 125), "x.....x...x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", "................", ".x.....x.....x.."),
    "garage": ((128, 136), "x.......x.x.....", "....x.......x...", "..x...x...x..xx.", "................", ".....x.........x"),
    "percussion": ((90, 125), "................", "................", "x..x..x.x..x..x.", "................", "x.xx.x.xx.x.x.xx"),
}


def _hit(rng, sr, family: str) -> np.ndarray:
    y, _ = FAMILIES[family].render(rng, sr)
    return y / (np.abs(y).max() + 1e-12)


def drum_loop(rng, sr):
    """1, 2 or 4 bars of one style with its own freshly drawn kit, swing and ghost notes;
    a third carry a bass line, some a chord stab; exactly bars x 4 beats long."""
    style = str(rng.choice(list(STYLES)))
    (lo, hi), *lanes = STYLES[style]
    bpm = float(rng.integers(lo, hi + 1))
    bars = int(rng.choice([1, 2, 2, 4]))
    step = 60.0 / bpm / 4
    n = int(round(bars * 16 * step * sr))
    kit = {"kick": _hit(rng, sr, str(rng.choice(KICKS))),
           "snare": _hit(rng, sr, str(rng.choice(SNARES + CLAPS))),
           "hat": FAMILIES[str(rng.choice(HATS))].render(rng, sr, kind="closed")[0],
           "open": FAMILIES[str(rng.choice(HATS))].render(rng, sr, kind="open")[0],
           "perc": _hit(rng, sr, str(rng.choice(PERCS)))}
    gains = {"kick": 1.0, "snare": 0.8, "hat": 0.35, "open": 0.3, "perc": 0.4}
    swing = _u(rng, 0, 0.12) if rng.random() < 0.4 else 0.0
    y = np.zeros(n + 2 * sr)
    for lane, pattern in zip(("kick", "snare", "hat", "open", "perc"), lanes):
        hit = kit[lane] / (np.abs(kit[lane]).max() + 1e-12)
        for b in range(bars):
            for s, ch in enumerate(pattern):
                if ch != "x" and not (lane in ("hat", "perc") and rng.random() < 0.08):
                    continue
                vel = _u(rng, 0.7, 1.0) if ch == "x" else _u(rng, 0.15, 0.35)
                i = int(round(((b * 16 + s) + (swing if s % 2 else 0)) * step * sr))
                seg = hit[: len(y) - i]
                y[i:i + len(seg)] += gains[lane] * vel * seg
    if rng.random() < 0.35:      # a one-note bass riff (the same note each time)
        voice, bass_seed = (bass_saw, bass_fm, bass_square)[rng.integers(3)], int(rng.integers(1 << 31))
        for b in range(bars):
            for s in sorted(rng.choice(16, size=int(rng.integers(2, 6)), replace=False)):
                note, _ = voice(np.random.default_rng(bass_seed), sr)
                note = d.fit(note, int(step * sr * _u(rng, 1, 4)))
                note *= np.hanning(len(note) * 2)[len(note):] ** 0.2
                i = int(round((b * 16 + s) * step * sr))
                y[i:i + len(note)] += 0.5 * note / (np.abs(note).max() + 1e-12)
    if rng.random() < 0.2:
        stab, _ = synth_chord(rng, sr)
        stab = stab / (np.abs(stab).max() + 1e-12)
        for b in range(bars):
            i = int(round((b * 16 + int(rng.choice([0, 2, 3, 6]))) * step * sr))
            seg = stab[: len(y) - i]
            y[i:i + len(seg)] += 0.35 * seg
    y = y[:n]
    fade = int(0.003 * sr)
    y[-fade:] *= np.linspace(1, 0, fade)
    return y, {"subtype": style, "bpm": bpm, "bars": bars, "loop": True}


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Family:
    name: str
    label: str
    voice: Callable

    def render(self, rng: np.random.Generator, sr: int = SR, **kw) -> tuple[np.ndarray, dict]:
        out = self.voice(rng, sr, **kw)
        y, meta = out if isinstance(out, tuple) else (out, {})
        return np.asarray(y, dtype=np.float64), meta


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("kick_808", "kick", kick_808), Family("kick_909", "kick", kick_909),
    Family("kick_fm", "kick", kick_fm), Family("kick_acoustic", "kick", kick_acoustic),
    Family("kick_distorted", "kick", kick_distorted),
    Family("snare_808", "snare", snare_808), Family("snare_909", "snare", snare_909),
    Family("snare_fm", "snare", snare_fm), Family("snare_noise", "snare", snare_noise),
    Family("snare_acoustic", "snare", snare_acoustic),
    Family("hat_metal", "hihat", hat_metal), Family("hat_noise", "hihat", hat_noise),
    Family("hat_ring", "hihat", hat_ring),
    Family("clap_burst", "clap", clap_burst), Family("clap_layered", "clap", clap_layered),
    Family("tom_808", "tom", tom_808), Family("tom_fm", "tom", tom_fm), Family("tom_acoustic", "tom", tom_acoustic),
    Family("cymbal_metal", "cymbal", cymbal_metal), Family("cymbal_crash", "cymbal", cymbal_crash),
    Family("cymbal_ride", "cymbal", cymbal_ride),
    Family("perc_cowbell", "perc", perc_cowbell), Family("perc_block", "perc", perc_block),
    Family("perc_shaker", "perc", perc_shaker), Family("perc_hand_drum", "perc", perc_hand_drum),
    Family("perc_bell", "perc", perc_bell), Family("perc_blip", "perc", perc_blip),
    Family("bass_808", "bass", bass_808), Family("bass_saw", "bass", bass_saw),
    Family("bass_square", "bass", bass_square), Family("bass_fm", "bass", bass_fm),
    Family("bass_pluck", "bass", bass_pluck), Family("bass_reese", "bass", bass_reese),
    Family("synth_pad", "synth", synth_pad), Family("synth_lead", "synth", synth_lead),
    Family("synth_pluck", "synth", synth_pluck), Family("synth_chord", "synth", synth_chord),
    Family("synth_keys", "synth", synth_keys), Family("synth_bell", "synth", synth_bell),
    Family("vocal_vowel", "vocal", vocal_vowel), Family("vocal_chop", "vocal", vocal_chop),
    Family("vocal_choir", "vocal", vocal_choir), Family("vocal_shout", "vocal", vocal_shout),
    Family("fx_riser", "fx", fx_riser), Family("fx_downlifter", "fx", fx_downlifter),
    Family("fx_impact", "fx", fx_impact), Family("fx_sweep", "fx", fx_sweep), Family("fx_zap", "fx", fx_zap),
    Family("fx_glitch", "fx", fx_glitch), Family("fx_noise", "fx", fx_noise), Family("fx_scifi", "fx", fx_scifi),
    Family("fx_tape_stop", "fx", fx_tape_stop),
    Family("loop_drums", "loop", drum_loop),
)}
KICKS = tuple(f for f in FAMILIES if f.startswith("kick_"))
SNARES = tuple(f for f in FAMILIES if f.startswith("snare_"))
CLAPS = tuple(f for f in FAMILIES if f.startswith("clap_"))
HATS = tuple(f for f in FAMILIES if f.startswith("hat_"))
PERCS = tuple(f for f in FAMILIES if f.startswith("perc_"))


def rng_for(family: str, seed: int) -> np.random.Generator:
    """The generator of one sound: depends only on the family name and the seed."""
    return np.random.default_rng([zlib.crc32(family.encode()), seed])


def generate(family: str, seed: int, sr: int = SR) -> tuple[np.ndarray, dict]:
    """One sound of ``family`` (float32 mono, peak -0.3 to -3 dBFS) and what was drawn.

    Loops keep their exact length (bars x beats); one-shots are cut 60 dB below their peak."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {sorted(FAMILIES)}")
    rng = rng_for(family, seed)
    y, meta = FAMILIES[family].render(rng, sr)
    if rng.random() < 0.3:     # some tone shaping, as a preset or a pack's mastering would
        y = d.filt(y, "lowshelf" if rng.random() < 0.5 else "highshelf", _lu(rng, 100, 6000), 0.7, sr,
                   gain_db=_u(rng, -6, 6))
    if not meta.get("loop"):
        y = d.trim_tail(y, sr)
    peak = np.abs(y).max()
    y = y / peak * 10 ** (-_u(rng, 0.3, 3.0) / 20) if peak > 0 else y
    return y.astype(np.float32), {"family": family, "label": FAMILIES[family].label, "seed": seed, **meta}
