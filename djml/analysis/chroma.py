"""Bass and treble chroma per time segment, pooled into the learned key model's inputs.

Why segments and two bands: one chroma averaged over a whole file cannot tell a bass line
that sits on the tonic from one that visits it, nor a minor third that is held from one that
passes; the parallel-mode misses of the profile method are exactly those cases. Per segment
(SEGMENT_SECONDS, about a bar) we keep a 10-cent pitch histogram of the spectral peaks in two
registers: treble (the profile method's band, 98–5000 Hz) and bass (40–200 Hz, where a club
track's root notes live). Both come from the same interpolated peaks as
:func:`djml.analysis.key.pitch_histogram`, on the frames the track pipeline already
transforms, so the added cost is a few bincounts per block.

Segments are fixed in time rather than beat-synchronous: the beat grid is known only after
the whole file has been read, and the pooled statistics below do not need beat alignment.

Pooled features (:func:`pool`), each a 12-vector indexed by pitch class (so transposing the
audio rotates every one of them; ``tests/test_analysis_key_model.py`` checks it):

==========  ==============================================================================
treble      mean treble chroma, sum 1
bass        mean bass chroma, sum 1
t_shape     mean over sounding segments of the segment's treble chroma / its maximum
b_shape     the same for bass
b_root      share of segments whose strongest bass pitch class is c (the bass "root" count)
b_end       bass chroma of the last END_SEGMENTS sounding segments, sum 1 (cadences)
t_end       treble chroma of those segments, sum 1
==========  ==============================================================================
"""

from __future__ import annotations

import math

import numpy as np

from djml.analysis import key as keymod
from djml.analysis import spectral
from djml.analysis.features import SILENT_DB

SEGMENT_SECONDS = 2.0
MAX_SEGMENTS = 600           # a 2-h mix gets 12-s segments: bounded memory and cost
BASS_RANGE = (40.0, 200.0)
TREBLE_RANGE = (keymod.FMIN, keymod.FMAX)
END_SEGMENTS = 3
VECTORS = ("treble", "bass", "t_shape", "b_shape", "b_root", "b_end", "t_end")
FEATURE_VERSION = 1          # bump when the pooled layout or its computation changes
_BINS = 12 * keymod._SUB


def segment_frames(fps: float, expected_frames: float) -> int:
    """Frames per segment: SEGMENT_SECONDS, longer when a file would exceed MAX_SEGMENTS."""
    return max(1, int(round(fps * SEGMENT_SECONDS)), math.ceil(expected_frames / MAX_SEGMENTS))


class ChromaAccumulator:
    """Per-segment treble and bass pitch histograms of a stream of power spectra.

    ``treble_histogram()`` equals the sum of :func:`keymod.pitch_histogram` over every
    frame given (the profile method's input), so the track pipeline finds the peaks once.
    Segments take only frames above SILENT_DB (a noise floor's random peaks are no
    harmony); a peak weighs its share of the frame's peaks in its band, so every sounding
    frame counts once per band and the two bands stay independent where they overlap."""

    def __init__(self, sr: int, n_fft: int, frames_per_segment: int) -> None:
        self.sr, self.n_fft, self.seg = sr, n_fft, frames_per_segment
        self._hist = np.zeros(_BINS)
        self._treble: dict[int, np.ndarray] = {}
        self._bass: dict[int, np.ndarray] = {}

    def add(self, power: np.ndarray, frame_numbers: np.ndarray) -> None:
        """Spectra (frames, bins) and each row's frame number in the file."""
        n = len(power)
        if n == 0:
            return
        t_fr, t_bins, t_w = keymod.spectral_peaks(power, self.sr, self.n_fft, *TREBLE_RANGE)
        t_norm = keymod.frame_normalised(t_fr, t_w, n)
        self._hist += np.bincount(t_bins, weights=t_norm, minlength=_BINS)
        b_fr, b_bins, b_w = keymod.spectral_peaks(power, self.sr, self.n_fft, *BASS_RANGE)
        b_norm = keymod.frame_normalised(b_fr, b_w, n)
        loud = spectral.log_power(power.sum(axis=1)) > SILENT_DB
        segments = np.asarray(frame_numbers, dtype=np.int64) // self.seg
        for fr, bins, weight, store in ((t_fr, t_bins, t_norm, self._treble),
                                        (b_fr, b_bins, b_norm, self._bass)):
            keep = loud[fr]
            if not keep.any():
                continue
            seg = segments[fr[keep]]
            first = int(seg.min())
            table = np.bincount((seg - first) * _BINS + bins[keep], weights=weight[keep],
                                minlength=(int(seg.max()) - first + 1) * _BINS).reshape(-1, _BINS)
            for offset in np.flatnonzero(table.any(axis=1)):
                s = first + int(offset)
                store[s] = store[s] + table[offset] if s in store else table[offset]

    def treble_histogram(self) -> np.ndarray:
        return self._hist

    def segments(self, tuning: float) -> tuple[np.ndarray, np.ndarray]:
        """(treble, bass) chroma per segment in time order, (n, 12) each, folded at the
        file's tuning (from the treble histogram: bass peaks are too coarse to tune on)."""
        ids = sorted(set(self._treble) | set(self._bass))
        zeros = np.zeros(_BINS)
        treble = np.array([fold(self._treble.get(s, zeros), tuning) for s in ids]).reshape(-1, 12)
        bass = np.array([fold(self._bass.get(s, zeros), tuning) for s in ids]).reshape(-1, 12)
        return treble, bass


def fold(hist: np.ndarray, tuning: float) -> np.ndarray:
    """A 10-cent histogram folded to 12 classes at a given tuning (as keymod.fold_chroma,
    without its normalisation: segment weights must stay comparable)."""
    sub = keymod._SUB
    centred = np.roll(hist, -int(round(tuning * sub)))
    rows = np.roll(centred, sub // 2).reshape(12, sub)
    taper = np.cos(np.pi * (np.arange(sub) - sub // 2) / sub) ** 2
    return rows @ taper


def _unit_sum(v: np.ndarray) -> np.ndarray:
    total = v.sum()
    return v / total if total > 0 else np.zeros(12)


def pool(treble: np.ndarray, bass: np.ndarray) -> np.ndarray:
    """(len(VECTORS), 12) pooled features from per-segment chroma (see module docstring);
    zeros where a band never sounded."""
    out = np.zeros((len(VECTORS), 12))
    if len(treble) == 0:
        return out
    t_on = treble.sum(axis=1) > 0
    b_on = bass.sum(axis=1) > 0
    out[0] = _unit_sum(treble.sum(axis=0))
    out[1] = _unit_sum(bass.sum(axis=0))
    if t_on.any():
        out[2] = (treble[t_on] / treble[t_on].max(axis=1, keepdims=True)).mean(axis=0)
        out[6] = _unit_sum(treble[t_on][-END_SEGMENTS:].sum(axis=0))
    if b_on.any():
        b = bass[b_on]
        out[3] = (b / b.max(axis=1, keepdims=True)).mean(axis=0)
        out[4] = np.bincount(np.argmax(b, axis=1), minlength=12) / len(b)
        out[5] = _unit_sum(b[-END_SEGMENTS:].sum(axis=0))
    return out
