"""The median of a 1-D array, bit-identical to ``np.median``, without numpy.ma.

Why: ``np.median`` (and ``np.quantile``) check their result for NaN through
``np.ma.isMaskedArray``, and that first touch imports ``numpy.ma`` (~16 ms quiet, several
times that on a busy machine) in every fresh analysis worker and every ``djml analyze`` of
a one-shot. This does what numpy's ``_median`` does for a flat float array: partition at the
middle (and at the end, where NaN sorts), then the mean of the middle one or two values.
"""

from __future__ import annotations

import numpy as np


def median(values: np.ndarray) -> np.floating:
    """``np.median(values)`` of a non-empty array (flattened, as numpy does): the same
    numpy scalar type, so arithmetic with it rounds as before."""
    a = np.asarray(values).ravel()
    n = a.size
    if n == 0:
        raise ValueError("median of an empty array")
    half = n // 2
    kth = [half - 1, half] if n % 2 == 0 else [half]
    inexact = np.issubdtype(a.dtype, np.inexact)
    part = np.partition(a, kth + [-1] if inexact else kth)
    if inexact and np.isnan(part[-1]):
        return part[-1]
    return np.mean(part[half - 1: half + 1] if n % 2 == 0 else part[half: half + 1])
