"""Real FFT along the last axis: scipy's pocketfft, without importing the scipy.fft package.

Why not ``import scipy.fft``: the package's import costs ~0.2 s CPU (it pulls in
scipy.special and scipy's array-API layer, which loads numpy.testing and numpy.f2py),
more than the whole analysis of a one-shot. The transform itself is one compiled
module, ``scipy/fft/_pocketfft/pypocketfft``, which loads in a few milliseconds.

Why not ``numpy.fft`` (float32-native since numpy 2.0): it transforms row by row, and
was 2.5–3.5x slower on the stacks of frames the analysis transforms (measured for
(256, 2048) and (87, 1024) float32 blocks; see docs/analysis.md) — ~0.13 s more per
5-minute track, every track of a scan.

The compiled module is loaded from its file under its own dotted name, so a later
``import scipy.fft`` in the same process finds it in ``sys.modules`` and shares it.
Its ``r2c(a, axes, forward, inorm, out, nthreads)`` is what ``scipy.fft.rfft`` calls
(unchanged since scipy 1.4), so results are bit-identical to ``scipy.fft.rfft``. If
the file is missing or does not load, ``scipy.fft.rfft`` is used instead.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable

import numpy as np

POCKETFFT = "scipy.fft._pocketfft.pypocketfft"


def _load_pocketfft():  # noqa: ANN202 - a compiled module or None
    module = sys.modules.get(POCKETFFT)
    if module is not None:
        return module
    try:
        spec = importlib.util.find_spec("scipy")
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = os.path.join(spec.submodule_search_locations[0], "fft", "_pocketfft")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "pypocketfft" + suffix)
            if os.path.exists(path):
                file_spec = importlib.util.spec_from_file_location(POCKETFFT, path)
                if file_spec is None or file_spec.loader is None:
                    return None
                module = importlib.util.module_from_spec(file_spec)
                file_spec.loader.exec_module(module)
                if not callable(getattr(module, "r2c", None)):
                    return None
                sys.modules[POCKETFFT] = module
                return module
    except (ImportError, OSError):
        return None
    return None


def _agrees(rfft: Callable[[np.ndarray], np.ndarray]) -> bool:
    """A private module may change its signature in a later scipy: check one small
    transform against numpy's before trusting it (a failure falls back to scipy.fft)."""
    probe = np.arange(16, dtype=np.float32).reshape(2, 8) ** 0.5
    try:
        got = rfft(probe)
    except (TypeError, ValueError, RuntimeError):
        return False
    return got.shape == (2, 5) and bool(np.allclose(got, np.fft.rfft(probe.astype(np.float64), axis=-1), atol=1e-4))


def _choose() -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    module = _load_pocketfft()
    if module is not None:
        r2c = module.r2c

        def pocketfft_rfft(x: np.ndarray) -> np.ndarray:
            return r2c(np.asarray(x), (x.ndim - 1,), True, 0, None, 1)

        if _agrees(pocketfft_rfft):
            return "pocketfft", pocketfft_rfft
    import scipy.fft

    def scipy_rfft(x: np.ndarray) -> np.ndarray:
        return scipy.fft.rfft(x, axis=-1)

    return "scipy.fft", scipy_rfft


#: which implementation :func:`rfft` is ("pocketfft" or "scipy.fft"), for tests and benchmarks
BACKEND, _rfft = _choose()


def rfft(x: np.ndarray) -> np.ndarray:
    """Forward real FFT of ``x`` along its last axis, unnormalised, one thread; float32
    in gives complex64 out (as ``scipy.fft.rfft(x, axis=-1)``)."""
    return _rfft(x)
