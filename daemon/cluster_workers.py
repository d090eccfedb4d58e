"""The daemon's analysis workers on a Dask cluster (``cluster = "..."`` in the config).

Same interface as :class:`daemon.workers.Workers`, so the job queue, the writer and the
events do not know where analysis runs. The client connects on the first job (a scheduler
that is down when the daemon starts costs nothing until there is work) and every result
comes back under the daemon's own paths and stat data (:func:`djml.cluster.analyse_with`
rules). A lost scheduler turns the files in flight into retryable errors; the queue's
back-off retries them and the next job reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from djml.config import Config
from djml.executors import ExecutorOptions
from djml.pipeline import FileResult, FileStat, Settings

log = logging.getLogger(__name__)


class ClusterWorkers:
    def __init__(self, config: Config, options: ExecutorOptions):
        self.config = config
        self.options = options
        self.settings = Settings.from_config(config)
        self.in_flight = 0
        self._client: Any = None
        self._cluster: Any = None
        self._threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="djml-cluster")
        self._connecting = asyncio.Lock()

    @property
    def size(self) -> int:
        """Worker threads the cluster offers now (at least 1, so the queue keeps moving)."""
        if self._client is None:
            return max(1, self.options.local_workers or 1)
        try:
            return max(1, sum(self._client.nthreads().values()))
        except Exception:
            return 1

    @property
    def capacity(self) -> int:
        return 2 * self.size

    @property
    def running(self) -> bool:
        return self._client is not None

    async def analyse(self, path: str) -> FileResult:
        """Analyse one file on the cluster. Never raises: every fault is an error result."""
        from djml.cluster import _as_local, _collect, _Entry, _remote_settings, analyse_batch
        from djml.executors import ClusterError

        loop = asyncio.get_running_loop()
        self.in_flight += 1
        try:
            client = await self._connect()
            try:
                stat = FileStat.of(path)
            except OSError:
                stat = None
            remote = _remote_settings(self.settings, self.options)
            entry = _Entry(path, stat, self.config.kind_for(Path(path)))
            future = await loop.run_in_executor(self._threads, lambda: client.submit(
                analyse_batch, [(self.options.map_to_remote(path), entry.kind)], remote, pure=False))
            try:
                results = await loop.run_in_executor(self._threads, _collect, future, [entry], 0, 1)
            finally:
                future.release()
            if results is None:
                return FileResult(path, stat, error="a cluster worker died while analysing this file (each retry too)")
            return _as_local(results[0], entry, self.options)
        except ClusterError as exc:
            await self._drop_client()
            return FileResult(path, None, error=f"the cluster is unavailable: {exc}")
        finally:
            self.in_flight -= 1

    async def alone(self, path: str) -> FileResult:
        """Dask already re-runs a task whose worker died elsewhere, and gives up only on a
        file that keeps killing workers, so there are no suspects to re-run alone here."""
        return await self.analyse(path)

    async def _connect(self) -> Any:
        async with self._connecting:
            if self._client is None:
                from djml.cluster import open_client

                log.info("connecting to the analysis cluster (%s)", self.options.address
                         or f"local:{self.options.local_workers}")
                loop = asyncio.get_running_loop()
                self._client, self._cluster = await loop.run_in_executor(self._threads, open_client, self.options)
            return self._client

    async def _drop_client(self) -> None:
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            await asyncio.get_running_loop().run_in_executor(self._threads, _close, client, cluster)

    def terminate(self) -> None:
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            _close(client, cluster)
        self._threads.shutdown(wait=False, cancel_futures=True)


def _close(client: Any, cluster: Any) -> None:
    try:
        client.close()
        if cluster is not None:
            cluster.close()
    except Exception as exc:  # closing a half-dead connection must not stop the daemon
        log.warning("closing the cluster client: %s", exc)
