"""Key of a short clip (a loop or a phrase of CLIP_MIN_SECONDS to 30 s), when it is tonal.

The sample pipeline's small transform (1024 points, 21.5 Hz bins) cannot place bass notes,
so a clip long enough to carry harmony gets the track pipeline's own key front end: the same
2048-point frames, stride and chroma accumulator, hence the same features and the same key
model as a track of that length. A drum loop also has spectral peaks and the model always
names some key, so a clip gets one only when its pitch content is concentrated on a few
pitch classes (chroma entropy at most MAX_ENTROPY) and the model is sure enough
(MIN_PROBABILITY); otherwise its key stays None. docs/analysis.md has the measurements.

The track pipeline's modules are imported only for a clip long enough to have a key: a
one-shot never needs them, and importing them costs a fresh process tens of milliseconds.
"""

from __future__ import annotations

import numpy as np

CLIP_MIN_SECONDS = 2.0
MAX_ENTROPY = 0.92           # of the mean treble chroma (1 = flat): drums and cymbals ~0.94-0.99,
                             # harmony with or without drums 0.7-0.9 (docs/analysis.md)
MIN_PROBABILITY = 0.5


def clip_features(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(treble histogram (120,), pooled features) exactly as analyze_track computes them."""
    from djml.analysis import chroma, spectral, track
    from djml.analysis import key as keymod

    power = spectral.power_spectrogram(y, track.N_FFT, track.HOP)
    acc = chroma.ChromaAccumulator(sr, track.N_FFT, chroma.segment_frames(track.FPS, len(power)))
    frames = np.arange(len(power))[:: track.CHROMA_STRIDE]
    acc.add(power[frames], frames)
    hist = acc.treble_histogram()
    _, tuning = keymod.fold_chroma(hist)
    return hist, chroma.pool(*acc.segments(tuning))


def chroma_entropy(pooled: np.ndarray) -> float:
    """Entropy of the mean treble chroma over the 12 classes, 0 (one class) .. 1 (flat)."""
    t = pooled[0][pooled[0] > 0]
    return float(-(t * np.log(t)).sum() / np.log(12)) if len(t) else 1.0


def clip_key(y: np.ndarray, sr: int) -> tuple[int | None, float]:
    """(key, confidence) of a tonal clip, (None, 0.0) otherwise."""
    if len(y) < CLIP_MIN_SECONDS * sr:
        return None, 0.0
    from djml.analysis import key as keymod
    from djml.analysis import key_model

    hist, pooled = clip_features(y, sr)
    if hist.sum() <= 0 or chroma_entropy(pooled) > MAX_ENTROPY:
        return None, 0.0
    if key_model.load().predict(pooled)[1] < MIN_PROBABILITY:     # the model as tonality judge
        return None, 0.0
    return key_model.decide(pooled, keymod.fold_chroma(hist)[0])
