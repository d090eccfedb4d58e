"""Key of a short clip (a loop or a phrase of CLIP_MIN_SECONDS to 30 s), when it is tonal.

The sample pipeline's small transform (1024 points, 21.5 Hz bins) cannot place bass notes,
so a clip long enough to carry harmony gets the track pipeline's own key front end: the same
2048-point frames, stride and chroma accumulator, hence the same features and the same key
model as a track of that length. A drum loop also has spectral peaks, so a clip gets a key
only when the model is sure enough (CLIP_MIN_PROBABILITY, see docs/analysis.md for how it
was measured); otherwise its key stays None.
"""

from __future__ import annotations

import numpy as np

from djml.analysis import chroma, key_model, spectral, track
from djml.analysis import key as keymod

CLIP_MIN_SECONDS = 2.0
CLIP_MIN_PROBABILITY = 0.5


def clip_features(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(treble histogram (120,), pooled features) exactly as analyze_track computes them."""
    power = spectral.power_spectrogram(y, track.N_FFT, track.HOP)
    acc = chroma.ChromaAccumulator(sr, track.N_FFT, chroma.segment_frames(track.FPS, len(power)))
    frames = np.arange(len(power))[:: track.CHROMA_STRIDE]
    acc.add(power[frames], frames)
    hist = acc.treble_histogram()
    _, tuning = keymod.fold_chroma(hist)
    return hist, chroma.pool(*acc.segments(tuning))


def clip_key(y: np.ndarray, sr: int) -> tuple[int | None, float]:
    """(key, probability) of a tonal clip, (None, probability) otherwise."""
    if len(y) < CLIP_MIN_SECONDS * sr:
        return None, 0.0
    hist, pooled = clip_features(y, sr)
    if hist.sum() <= 0:
        return None, 0.0
    key, prob = key_model.load().predict(pooled)
    return (key, prob) if key is not None and prob >= CLIP_MIN_PROBABILITY else (None, prob)
