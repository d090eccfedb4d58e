"""The analysis process pool, seen from the event loop.

Analysis is CPU bound, so it runs in processes (:func:`djml.scan.make_pool`: spawn, one
BLAS thread each, ``os.nice`` so a DJ's laptop stays responsive). This wrapper adds what a
long-running process needs on top: a crashed worker costs an attempt, not the daemon (a
fresh pool replaces the broken one), and the pool is shut down after a while without work,
so an idle daemon holds no analysis libraries in memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from djml.config import Config
from djml.pipeline import FileResult, Settings, process_file
from djml.scan import WORKER_THREAD_ENV, _init_worker

if TYPE_CHECKING:
    from .cluster_workers import ClusterWorkers

log = logging.getLogger(__name__)

NICE = 10
IDLE_SECONDS = 120.0


def make_pool(size: int) -> ProcessPoolExecutor:
    """Like :func:`djml.scan.make_pool` (spawn, one BLAS thread, nice), plus workers that
    exit when the daemon dies: after ``kill -9`` a worker would otherwise wait forever on
    a queue whose other end it holds itself."""
    for name in WORKER_THREAD_ENV:
        os.environ.setdefault(name, "1")
    return ProcessPoolExecutor(max_workers=size, mp_context=get_context("spawn"),
                               initializer=_init_daemon_worker, initargs=(NICE, os.getpid()))


def _init_daemon_worker(nice: int, parent: int) -> None:
    _init_worker(nice)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


class Workers:
    def __init__(self, config: Config, idle_seconds: float = IDLE_SECONDS):
        self.config = config
        self.size = config.workers
        self.settings = Settings.from_config(config)
        self.idle_seconds = idle_seconds
        self.in_flight = 0
        self._pool: ProcessPoolExecutor | None = None
        self._idle_timer: asyncio.TimerHandle | None = None

    @property
    def capacity(self) -> int:
        """Jobs worth keeping in flight: one running and one waiting per worker."""
        return 2 * self.size

    @property
    def running(self) -> bool:
        return self._pool is not None

    async def analyse(self, path: str) -> FileResult:
        """Analyse one file in a worker. Never raises: a dead worker becomes an error result."""
        loop = asyncio.get_running_loop()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._pool is None:
            log.info("starting %d analysis worker(s)", self.size)
            self._pool = make_pool(self.size)
        pool = self._pool
        self.in_flight += 1
        try:
            return await loop.run_in_executor(pool, process_file, path, self.config.kind_for(Path(path)), self.settings)
        except BrokenProcessPool:
            if self._pool is pool:
                log.warning("an analysis worker died (while on %s); starting a fresh pool", path)
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return FileResult(path, None, error="the analysis worker crashed on this file")
        finally:
            self.in_flight -= 1
            if self.in_flight == 0 and self._pool is not None:
                self._idle_timer = loop.call_later(self.idle_seconds, self._stop_idle)

    def _stop_idle(self) -> None:
        self._idle_timer = None
        if self.in_flight == 0 and self._pool is not None:
            log.info("no work for %.0f s: stopping analysis workers", self.idle_seconds)
            self._pool.shutdown(wait=False)
            self._pool = None

    def terminate(self) -> None:
        """Stop now: jobs still running are abandoned (the caller re-queues them)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public "kill the workers" before Python 3.14; without
        # it, interpreter exit would wait for a long analysis to finish.
        if hasattr(pool, "terminate_workers"):
            pool.terminate_workers()
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=2)


def make_workers(config: Config) -> "Workers | ClusterWorkers":
    """The local pool, or cluster workers when the config names a cluster (Dask is
    imported only then)."""
    from djml.executors import executor_options

    options = executor_options(config)
    if options.backend == "local":
        return Workers(config)
    from .cluster_workers import ClusterWorkers

    return ClusterWorkers(config, options)
