"""How vectors are stored in the ``vectors`` table: little-endian float32, except the
log-mel patches of samples, which are float16.

Why float16 for those: a patch is 4096 values (64 mels x 64 frames), four fifths of a
sample's stored bytes, and its values are dB mapped to [0, 1], where float16 is exact to
2.4e-4 (0.02 dB of the 80 dB range) — far below what analysis can tell apart; the
model that reads them (the CNN) predicts the same either way: on 2893 held-out sounds of
three real sample sources, the same class for 100 % and no probability moved by more
than 0.0007 (`benchmarks/speed.py --only vectors`). Small vectors (features, rhythm, text, 36-384 values) stay
float32: halving them saves little.

Reading never needs to know which encoding a row has: the blob length says (``dim`` x 2
or x 4 bytes), so libraries written before keep working and shrink as items are
re-analysed.
"""

from __future__ import annotations

import numpy as np

COMPACT_SPACES = frozenset({"logmel"})


def to_blob(space: str, values: np.ndarray) -> tuple[bytes, int]:
    """(blob, dim) of ``values`` as stored for ``space``."""
    dtype = "<f2" if space in COMPACT_SPACES else "<f4"
    arr = np.ascontiguousarray(values, dtype=dtype).ravel()
    return arr.tobytes(), int(arr.size)


def from_blob(blob: bytes, dim: int) -> np.ndarray:
    """A stored vector as float32, whichever encoding it was written in."""
    if len(blob) == 2 * dim:
        return np.frombuffer(blob, dtype="<f2").astype(np.float32)
    return np.frombuffer(blob, dtype="<f4")
