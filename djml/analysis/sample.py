"""Sample analysis (one-shots and loops under SAMPLE_MAX_SECONDS): whole file in memory.

Samples are short, so they are decoded in one piece and analysed with a finer STFT
(n_fft 1024, hop 256 = 11.6 ms) than tracks: attack times and the CNN log-mel patch
need the time resolution, and ≥100 files/s needs the small transform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from djml import keys
from djml.analysis import spectral
from djml.analysis.bands import LOW_HZ, TREBLE_HZ
from djml.analysis.clip_key import clip_key
from djml.analysis.decode import ANALYSIS_SR, decode_mono
from djml.analysis.features import TimbreAccumulator, level_db
from djml.analysis.layout import LOGMEL_FRAMES, N_MELS
from djml.analysis.robust import median

if TYPE_CHECKING:
    from djml.analysis.tempo_model import TempoModel

N_FFT = 1024
HOP = 256
FPS = ANALYSIS_SR / HOP
LOGMEL_FLOOR_DB = 80.0
YIN_WINDOW = 2048
FMIN_HZ, FMAX_HZ = 30.0, 2000.0
PITCH_MIN_CONFIDENCE = 0.6
ONSET_MIN_DB = 4.0          # mean log-mel rise of a real hit; beating/sweeps stay below
ONSET_REL = 0.25            # and at least a quarter of the strongest onset
DECAY_DB = 20.0             # decay = time from peak until the envelope stays 20 dB down
LOOP_ONSETS = 3             # strong onsets a loop has at least (a one-shot has one)
CLIP_SECONDS = 4.0          # from here on a clip's tempo does not need strong onsets
TILE_SECONDS = 12.0         # shorter candidates are repeated up to this length
LOOP_CLARITY = 0.3          # pulse clarity of a loop (tempo.TempoEstimate.pulse_clarity)


@dataclass
class SampleFeatures:
    duration: float
    sample_rate: int
    channels: int
    audio_hash: str
    loudness: float
    peak_db: float
    lufs: float | None            # None under 400 ms (no gating block) or silent
    lra: float | None             # None under 3 s
    true_peak_db: float | None
    sample_type: str
    attack: float
    decay: float
    brightness: float
    noisiness: float
    pitch_hz: float | None
    note: str | None
    pitch_confidence: float
    loop_bpm: float | None
    onset_rate: float
    rhythm_strength: float
    timbre: dict[str, float]
    logmel: np.ndarray
    key: int | None               # clips of 2 s and more that are tonal (clip_key)
    key_confidence: float


def analyze_sample(path: str, bpm_range: tuple[float, float]) -> SampleFeatures:
    y, decoder = decode_mono(path, ANALYSIS_SR, measure_loudness=True)
    duration = decoder.duration
    power = spectral.power_spectrogram(y, N_FFT, HOP)
    mel = power @ spectral.mel_filterbank(ANALYSIS_SR, N_FFT, N_MELS)
    logmel = spectral.log_power(mel)
    timbre = TimbreAccumulator(ANALYSIS_SR, N_FFT)
    timbre.add(power, logmel)
    stats = spectral.spectral_stats(power, ANALYSIS_SR, N_FFT)
    weights = stats["energy"] / (stats["energy"].sum() + 1e-20)
    bands = onset_bands(logmel)
    flux = bands[0]
    onsets = sample_onsets(flux)
    attack, decay, peak_index = envelope_times(y)
    loop_bpm, clarity = loop_tempo(bands, duration, onsets, bpm_range)
    is_loop = loop_bpm is not None
    pitch, conf = (None, 0.0) if is_loop else estimate_pitch(y, peak_index)
    key, key_confidence = clip_key(y, ANALYSIS_SR)
    channels = decoder.info.channels
    rms = np.sqrt(decoder.sum_squares / max(1, decoder.frames * channels))
    gain = decoder.loudness()
    return SampleFeatures(
        duration=round(duration, 4), sample_rate=decoder.info.sample_rate, channels=channels,
        audio_hash=decoder.audio_hash, loudness=level_db(float(rms)), peak_db=level_db(decoder.peak),
        lufs=gain.integrated, lra=gain.range, true_peak_db=gain.true_peak_db, sample_type="loop" if is_loop else "one-shot",
        attack=round(attack, 4), decay=round(decay, 4),
        brightness=round(float(weights @ stats["centroid"]), 1),
        noisiness=round(float(weights @ stats["flatness"]), 4),
        pitch_hz=round(pitch, 2) if pitch and conf >= PITCH_MIN_CONFIDENCE else None,
        note=note_name(pitch) if pitch and conf >= PITCH_MIN_CONFIDENCE else None,
        pitch_confidence=round(conf, 3), loop_bpm=loop_bpm,
        onset_rate=round(len(onsets) / max(duration, 1e-3), 3), rhythm_strength=round(clarity, 3),
        timbre=timbre.result(), logmel=logmel_patch(logmel), key=key, key_confidence=key_confidence,
    )


def sample_onsets(flux: np.ndarray) -> np.ndarray:
    """Frames where the raw flux peaks above max(ONSET_MIN_DB, ONSET_REL * max), ≥50 ms apart.

    Raw (not detrended) flux: in a short sample the first hit must count and a slowly
    evolving sustain (detuned beating, risers) must not.
    """
    if len(flux) == 0:
        return np.zeros(0, dtype=np.int64)
    f = np.concatenate([[-np.inf], flux, [-np.inf]])
    thr = max(ONSET_MIN_DB, ONSET_REL * float(flux.max()))
    peaks = np.flatnonzero((f[1:-1] > f[:-2]) & (f[1:-1] >= f[2:]) & (f[1:-1] >= thr))
    gap = max(1, int(0.05 * FPS))
    return peaks[np.concatenate([[True], np.diff(peaks) >= gap])] if len(peaks) else peaks


def onset_bands(logmel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(all-band, treble, low) onset flux of a sample's log-mel frames; the file's first
    sound is an onset too (the frame before the file is silence)."""
    silence = np.full(N_MELS, spectral.log_power(np.float32(0.0)), dtype=np.float32)
    return spectral.onset_flux_bands(logmel, silence, spectral.mel_band_index(ANALYSIS_SR, N_MELS, TREBLE_HZ),
                                     spectral.mel_band_index(ANALYSIS_SR, N_MELS, LOW_HZ))


def has_tempo_candidate(duration: float, onsets: np.ndarray) -> bool:
    """Worth a tempo: from tempo.MIN_SECONDS on with ≥3 strong onsets reaching into the
    second half, or any file from CLIP_SECONDS on (a clip of music whose onsets are soft).
    A one-shot has one dominant onset."""
    regular = len(onsets) >= LOOP_ONSETS and onsets[-1] / FPS >= 0.5 * duration
    if not (regular or duration >= CLIP_SECONDS):
        return False   # a one-shot: decided without importing the tempo modules
    from djml.analysis.tempo import MIN_SECONDS

    return duration >= MIN_SECONDS


def tempo_envelopes(bands: tuple[np.ndarray, ...], duration: float) -> tuple[np.ndarray, ...]:
    """The bands at the track pipeline's frame rate (pairs of hops summed), so a clip and
    the track it was cut from are judged alike; a short file as it would be played,
    repeated up to TILE_SECONDS: a 2-s loop holds too few beats for periodicity alone."""
    reps = math.ceil(TILE_SECONDS / duration) if duration < TILE_SECONDS else 1
    return tuple(np.tile(_pairs(b), reps) for b in bands)


def loop_seconds(duration: float) -> float | None:
    """The loop length the tempo decision may assume: a file short enough to be repeated."""
    return duration if duration < TILE_SECONDS else None


TREBLE_SHARE = 1.0 - spectral.mel_band_index(ANALYSIS_SR, N_MELS, TREBLE_HZ) / N_MELS
TEMPO_FPS = FPS / 2


def loop_tempo(bands: tuple[np.ndarray, np.ndarray, np.ndarray], duration: float, onsets: np.ndarray,
               bpm_range: tuple[float, float],
               model: "TempoModel | None" = None) -> tuple[float | None, float]:
    """(loop BPM or None, pulse clarity). A file with a tempo candidate
    (:func:`has_tempo_candidate`) gets the tempo the track analysis would give it
    (``model``: the shipped one by default), snapped to its length when that holds whole
    beats (``tempo.loop_bpm``); it is a loop when its pulse clarity reaches LOOP_CLARITY."""
    if not has_tempo_candidate(duration, onsets):
        return None, 0.0
    from djml.analysis import tempo

    flux, high, low = tempo_envelopes(bands, duration)
    est = tempo.estimate_tempo(flux, TEMPO_FPS, bpm_range, high_env=high, treble_share=TREBLE_SHARE,
                               low_env=low, model=model, loop_seconds=loop_seconds(duration))
    if est is None:
        return None, 0.0
    if est.pulse_clarity < LOOP_CLARITY:
        return None, est.pulse_clarity
    return tempo.loop_bpm(est.bpm, duration), est.pulse_clarity


def _pairs(x: np.ndarray) -> np.ndarray:
    """Sum of consecutive pairs of frames: the onset flux of the track pipeline's hop."""
    n = len(x) // 2 * 2
    return x[:n].reshape(-1, 2).sum(axis=1)


def envelope_times(y: np.ndarray, hop: int = 32) -> tuple[float, float, int]:
    """(attack s, decay s, peak sample) from a 1.5-ms peak envelope.

    attack = from the first point above -40 dB re peak to the first point within 3 dB
    of the peak (beating or vibrato after the attack does not count);
    decay = from the peak to the last point above -DECAY_DB dB.
    """
    n = len(y) // hop
    if n == 0:
        return 0.0, 0.0, 0
    env = np.abs(y[: n * hop]).reshape(n, hop).max(axis=1)
    peak = int(np.argmax(env))
    top = env[peak]
    if top <= 0:
        return 0.0, 0.0, 0
    start = int(np.argmax(env > top * 10 ** (-40 / 20)))
    reached = int(np.argmax(env >= top * 10 ** (-3 / 20)))
    above = np.flatnonzero(env[peak:] > top * 10 ** (-DECAY_DB / 20))
    sr = ANALYSIS_SR
    return (reached - start) * hop / sr, (int(above[-1]) + 1) * hop / sr, peak * hop


def estimate_pitch(y: np.ndarray, start: int) -> tuple[float | None, float]:
    """YIN over up to 6 windows after the peak: (median f0 Hz, confidence 0..1).

    Confidence = median(1 - cumulative-mean-normalised difference) times the share of
    windows agreeing within 50 cents, so a kick's falling sweep or noise reads low.
    """
    tau_max = int(ANALYSIS_SR / FMIN_HZ)
    need = YIN_WINDOW + tau_max
    starts = [start + int(0.01 * ANALYSIS_SR) + i * int(0.04 * ANALYSIS_SR) for i in range(6)]
    starts = [s for s in starts if s + need <= len(y)] or ([max(0, len(y) - need)] if len(y) >= need else [])
    estimates = [e for e in (_yin(y[s:s + need], tau_max) for s in starts) if e is not None]
    if not estimates:
        return None, 0.0
    f0s = np.array([f for f, _ in estimates])
    confs = np.array([c for _, c in estimates])
    f0 = float(median(f0s))
    agree = np.abs(12 * np.log2(f0s / f0)) < 0.5
    return f0, float(median(confs) * agree.mean())


def _yin(x: np.ndarray, tau_max: int, threshold: float = 0.15) -> tuple[float, float] | None:
    w = YIN_WINDOW
    if np.abs(x).max() < 1e-4:
        return None
    n = 1 << int(np.ceil(np.log2(len(x) + w)))
    corr = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(x[:w], n)), n)[: tau_max + 1]
    sq = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    energy = sq[w:w + tau_max + 1] - sq[: tau_max + 1]          # sum of x[tau:tau+w]^2
    d = energy[0] + energy - 2.0 * corr
    d[0] = 0.0
    cmnd = np.ones_like(d)
    cum = np.cumsum(d[1:])
    cmnd[1:] = d[1:] * np.arange(1, len(d)) / np.maximum(cum, 1e-12)
    tau_min = int(ANALYSIS_SR / FMAX_HZ)
    below = np.flatnonzero(cmnd[tau_min:] < threshold)
    if len(below):
        tau = tau_min + int(below[0])
        while tau + 1 < len(cmnd) and cmnd[tau + 1] < cmnd[tau]:
            tau += 1
    else:
        tau = tau_min + int(np.argmin(cmnd[tau_min:]))
    if tau <= 0 or tau >= len(cmnd) - 1:
        return None
    a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom > 0 else 0.0
    return ANALYSIS_SR / (tau + shift), float(np.clip(1.0 - b, 0.0, 1.0))


def note_name(hz: float) -> str:
    """'A4' for 440 Hz (scientific pitch notation, flats as in djml.keys)."""
    midi = int(round(69 + 12 * np.log2(hz / 440.0)))
    return f"{keys.PITCH_NAMES[midi % 12]}{midi // 12 - 1}"


def logmel_patch(logmel: np.ndarray) -> np.ndarray:
    """(64 mel, 64 frames) float32 in [0, 1]: dB re the patch maximum, floored at -80 dB,
    mapped to 0..1; first 0.74 s of the file, zero-padded (= silence) when shorter."""
    patch = np.zeros((LOGMEL_FRAMES, N_MELS), dtype=np.float32)
    head = logmel[:LOGMEL_FRAMES]
    if len(head):
        rel = np.maximum(head - head.max(), -LOGMEL_FLOOR_DB)
        patch[: len(head)] = (rel + LOGMEL_FLOOR_DB) / LOGMEL_FLOOR_DB
    return np.ascontiguousarray(patch.T)
