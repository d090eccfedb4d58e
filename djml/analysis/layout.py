"""The layout of what the analysis stores: names and sizes of the feature vector, the
rhythm pattern and the log-mel patch.

Why a module of its own, with no imports: these names are part of the stored data, and
the processes that only read or store it (the daemon, a scan's parent, a model loading
its feature spec) need them without the decoders and DSP modules that compute the
values (see the package docstring). The modules that fill each layout import it from
here: features (timbre and feature vector), rhythm (pattern), sample (log-mel patch).
"""

from __future__ import annotations

N_MELS = 64
N_MFCC = 13

_PER_FRAME = (
    ["centroid_khz", "rolloff_khz", "bandwidth_khz", "flatness"]
    + [f"contrast_{i}" for i in range(1, 7)]
    + ["band_low", "band_mid", "band_high"]
    + [f"mfcc_{i}" for i in range(N_MFCC)]
)
TIMBRE_NAMES = [f"{name}_mean" for name in _PER_FRAME] + [f"{name}_std" for name in _PER_FRAME]

FEATURE_NAMES: list[str] = (
    ["log_duration", "loudness_db", "peak_db", "crest_db"]
    + TIMBRE_NAMES
    + ["onset_rate", "rhythm_strength", "bpm_norm", "attack_log", "decay_log"]
)
FEATURE_DOC = """Feature vector layout (float32, one value per FEATURE_NAMES entry, 61 since analyzer version 1):
log_duration   ln(1 + seconds)
loudness_db    RMS dBFS over all channels; peak_db sample peak dBFS; crest_db = peak - RMS
*_mean/*_std   per-frame statistics over non-silent frames (kHz, 0..1 fractions, dB, MFCC
               in dB units from a 64-band Slaney mel spectrum)
onset_rate     onsets per second; rhythm_strength 0..1 pulse clarity (0 for one-shots)
bpm_norm       bpm / 100 (tracks) or loop_bpm / 100 (loops), else 0
attack_log     log10(attack seconds + 1e-3) for samples, 0 for tracks; decay_log likewise
"""

# rhythm pattern (djml.analysis.rhythm): per band, a beat profile and a bar spectrum
BANDS = ("low", "body", "high")
STEPS_PER_BEAT = 4
HARMONICS = 8
RHYTHM_NAMES: list[str] = [
    name
    for band in BANDS
    for name in ([f"{band}_beat_{s}" for s in range(STEPS_PER_BEAT)]
                 + [f"{band}_bar_h{h}" for h in range(1, HARMONICS + 1)])
]
RHYTHM_DIM = len(RHYTHM_NAMES)

# samples' log-mel patch (djml.analysis.sample): LOGMEL_FRAMES frames of N_MELS bands
LOGMEL_FRAMES = 64          # 64 x 11.6 ms = 0.74 s from the start of the file
LOGMEL_SHAPE = (N_MELS, LOGMEL_FRAMES)
