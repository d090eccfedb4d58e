"""The decode pass's C loops (``_loops.c``, built by ``pip install`` from pyproject's
``ext-modules``), loaded with ctypes.

Why ctypes and not a CPython extension: the C file needs no Python headers at run time and
no API version, and a wheel-less install without a compiler still works: :func:`library`
returns None and every caller has a numpy path that gives the same result, slower.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
from functools import lru_cache


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """The built ``_loops`` library next to this module, with its functions' signatures
    declared, or None when it was not built or does not load."""
    folder = os.path.dirname(os.path.abspath(__file__))
    pointer, count = ctypes.c_void_p, ctypes.c_int64
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, "_loops" + suffix)
        if not os.path.exists(path):
            continue
        try:
            loops = ctypes.CDLL(path)
            loops.djml_kweight_rows.argtypes = [pointer, count, count, count, count, count, count, pointer,
                                                pointer, ctypes.c_double, pointer, pointer]
            loops.djml_mix.argtypes = [pointer, count, count, ctypes.c_float, pointer]
            loops.djml_true_peak.argtypes = [pointer, count, pointer, count, count, pointer, count, count]
        except (OSError, AttributeError):
            return None
        loops.djml_kweight_rows.restype = loops.djml_mix.restype = None
        loops.djml_true_peak.restype = ctypes.c_float
        return loops
    return None
