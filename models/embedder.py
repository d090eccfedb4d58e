"""The text model in a process of its own: loaded on demand, gone after an idle period.

Why a process and not ``del model; gc.collect()``: torch, transformers and the weights
(~450 MB) stay mapped in any process that imported them, so a daemon that embedded once
would hold half a gigabyte for good. A worker process that exits gives all of it back.
The first embedding after an idle period pays the load again (seconds), which is
cheap next to a daemon's lifetime; ``text_model_idle_seconds`` in the config says how
long to keep it (0: stop right after each batch).

This module imports nothing heavy; the worker side (:func:`_embed_here`) imports
:mod:`djml.models.text`, which loads the model there. Peak RSS of the worker is kept so
`djml status` can say what embedding costs on this machine.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

IDLE_SECONDS = 120.0


class Embedder:
    """One embedding worker, started on the first call and stopped ``idle_seconds`` after
    the last. Thread-safe: the daemon embeds from its writer and trainer threads."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS):
        self.idle_seconds = idle_seconds
        self.peak_rss_mb: float | None = None
        self.loads = 0
        self._lock = threading.Lock()
        self._pool: Any = None
        self._timer: threading.Timer | None = None

    @property
    def loaded(self) -> bool:
        return self._pool is not None

    def embed(self, texts: Sequence[str]) -> Any:
        """(n, 384) float32 array of L2-normalised embeddings, computed in the worker."""
        from concurrent.futures.process import BrokenProcessPool

        with self._lock:
            self._cancel_timer()
            if self._pool is None:
                self._pool = _start_pool()
                self.loads += 1
            try:
                vectors, peak_mb = self._pool.submit(_embed_here, list(texts)).result()
            except BrokenProcessPool:
                self._pool = None
                raise RuntimeError("the text embedding process died (out of memory?)") from None
            finally:
                self._arm_timer()
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, peak_mb)
            return vectors

    def unload(self, timer: threading.Timer | None = None) -> None:
        """Stop the worker now (its memory goes back to the system). From ``timer``: only
        if no embedding came since it was armed (one that did armed a new timer)."""
        with self._lock:   # held until the worker has exited: `loaded` tells the truth
            if timer is not None and timer is not self._timer:
                return
            self._cancel_timer()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
                log.info("text model unloaded after %.0f s without embeddings", self.idle_seconds)

    def status(self) -> dict[str, Any]:
        """For `djml status`: loaded now, how often loaded, the worker's peak RSS."""
        return {"loaded": self.loaded, "loads": self.loads, "idle_unload_seconds": self.idle_seconds,
                "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb)}

    def _arm_timer(self) -> None:
        if self._pool is None:
            return
        timer = threading.Timer(self.idle_seconds, lambda: self.unload(timer))
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _start_pool() -> Any:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    # spawn: the daemon runs threads (fork could deadlock), and the worker must not
    # inherit the daemon's sockets and database connections
    from djml.procs import prepare_worker

    # like an analysis worker: dies with the daemon, one BLAS thread; no nice, no memory cap
    return ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=prepare_worker,
                               initargs=(0, os.getpid(), 0))


def _embed_here(texts: list[str]) -> tuple[Any, float]:
    """Worker side: the embeddings, and this process's peak RSS so far (MB)."""
    from djml.models import text

    from djml.procs import rss_mb

    vectors = text.embed_in_process(texts)
    return vectors, rss_mb(field="VmHWM") or 0.0


EMBEDDER = Embedder()
