"""The analysis process pool, seen from the event loop.

Analysis is CPU bound, so it runs in processes (:func:`djml.scan.make_pool`: spawn, one
BLAS thread each, ``os.nice`` so a DJ's laptop stays responsive). This wrapper adds what a
long-running process needs on top: a crashed worker costs the daemon nothing (a fresh
pool replaces the broken one) and fails only the file that crashes a worker alone (see
:class:`Workers`), and the pool is shut down after a while without work, so an idle
daemon holds no analysis libraries in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from djml.config import Config
from djml.describe import crashed_row, describe_client_file
from djml.pipeline import CRASHED, FileResult, Settings, process_file, warm_up
from djml.scan import make_pool as scan_pool

if TYPE_CHECKING:
    from .cluster_workers import ClusterWorkers

log = logging.getLogger(__name__)

NICE = 10
IDLE_SECONDS = 120.0
T = TypeVar("T")


def make_pool(size: int, memory_mb: int) -> ProcessPoolExecutor:
    """:func:`djml.scan.make_pool` at low priority: spawn, one BLAS thread, capped memory,
    workers that exit when the daemon dies (after ``kill -9`` a worker would otherwise
    wait forever on a queue whose other end it holds itself)."""
    return scan_pool(size, NICE, memory_mb)


SUSPECT = "the analysis worker died while analysing this file and others"


class Workers:
    """The shared pool, plus a one-process pool for suspects.

    When a worker dies, every file in flight in that pool fails with it, and only one of
    them (or none: the kernel's OOM killer) caused it. So a crash in the shared pool
    returns :data:`SUSPECT` results, and the service analyses each suspect again
    :meth:`alone`; only a file that crashes its worker alone is a crash."""

    def __init__(self, config: Config, idle_seconds: float = IDLE_SECONDS):
        self.config = config
        self.size = config.workers
        self.settings = Settings.from_config(config)
        self.idle_seconds = idle_seconds
        self.in_flight = 0
        self._pool: ProcessPoolExecutor | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._solo_lock = asyncio.Lock()

    @property
    def capacity(self) -> int:
        """Jobs worth keeping in flight: one running and one waiting per worker."""
        return 2 * self.size

    @property
    def running(self) -> bool:
        return self._pool is not None

    async def analyse(self, path: str) -> FileResult:
        """Analyse one file in the shared pool. Never raises for the file (a dead worker
        becomes a :data:`SUSPECT` result); OSError from starting workers (EMFILE, ENOMEM)
        is raised: the caller backs off."""
        return await self._run(path, FileResult(path, None, error=SUSPECT),
                               process_file, path, self.config.kind_for(Path(path)), self.settings)

    async def describe(self, pid: int, fd: int, suffix: str, kind: str | None) -> dict:
        """The `djml analyze` row of a file a client process holds open (see
        :func:`djml.describe.describe_client_file`), in the shared pool like any file:
        the workers are warm, where the client alone would import the analysis stack.
        A dead worker gives a :data:`SUSPECT` row."""
        return await self._run(f"fd {fd} of pid {pid}", crashed_row("", SUSPECT),
                               describe_client_file, pid, fd, suffix, kind, self.client_settings)

    @property
    def client_settings(self) -> Settings:
        """What a worker may read for a client: the file it opened, never the data folder."""
        return Settings(self.settings.sample_max_seconds, self.settings.bpm_range, (), self.settings.refused_roots)

    async def _run(self, what: str, crashed: T, task: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._pool is None:
            log.info("starting %d analysis worker(s)", self.size)
            self._pool = make_pool(self.size, self.config.worker_memory_mb)
        pool = self._pool
        self.in_flight += 1
        try:
            return await loop.run_in_executor(pool, task, *args)
        except BrokenProcessPool:
            if self._pool is pool:
                log.warning("an analysis worker died (while on %s, among others); starting a fresh pool", what)
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return crashed
        except OSError:   # no worker could be started (EMFILE, ENOMEM): start afresh next time
            if self._pool is pool:
                self._pool = None
                _kill_pool(pool)
            raise
        finally:
            self.in_flight -= 1
            self._arm_idle_timer()

    def warm(self) -> None:
        """Start the workers now and let each import the analysis stack, because files
        are arriving: their settle time then hides the start-up instead of adding to it.
        A pool that is never used stops after the idle period like any other."""
        if self._pool is not None:
            return
        try:
            self._pool = make_pool(self.size, self.config.worker_memory_mb)
        except OSError:    # no worker could be started: analyse() tries again and says why
            return
        log.info("files arriving: starting %d analysis worker(s)", self.size)
        for _ in range(self.size):
            self._pool.submit(warm_up)
        self._arm_idle_timer()

    async def alone(self, path: str) -> FileResult:
        """Analyse one suspect in a worker of its own (one at a time): if this crashes,
        the file is the cause."""
        return await self._alone(path, FileResult(path, None, error=CRASHED),
                                 process_file, path, self.config.kind_for(Path(path)), self.settings)

    async def describe_alone(self, pid: int, fd: int, suffix: str, kind: str | None) -> dict:
        """:meth:`describe` for a suspect, in a worker of its own."""
        return await self._alone(f"fd {fd} of pid {pid}", crashed_row("", CRASHED),
                                 describe_client_file, pid, fd, suffix, kind, self.client_settings)

    async def _alone(self, what: str, crashed: T, task: Callable[..., T], *args: Any) -> T:
        async with self._solo_lock:
            pool = make_pool(1, self.config.worker_memory_mb)
            self.in_flight += 1
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, task, *args)
            except BrokenProcessPool:
                log.warning("the analysis worker crashed on %s, analysed alone", what)
                return crashed
            finally:
                self.in_flight -= 1
                _kill_pool(pool)
                self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        if self.in_flight == 0 and self._pool is not None and self._idle_timer is None:
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle_seconds, self._stop_idle)

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
        if pool is not None:
            _kill_pool(pool)


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now. ProcessPoolExecutor has no public "kill the workers"
    before Python 3.14; without it, interpreter exit would wait for a long analysis."""
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
