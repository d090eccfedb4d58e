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
from typing import Any

from djml.config import Config
from djml.executors import ExecutorOptions
from djml.pipeline import FileResult, Settings

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
        """Analyse one file on the cluster through the scan's own loop
        (:func:`djml.cluster.analyse_with`: path mapping, shipped bytes, local stat data,
        a file that keeps killing workers). Never raises: every fault is an error result."""
        from djml.cluster import analyse_with
        from djml.executors import ClusterError

        def run() -> FileResult:
            [result] = analyse_with(self._client, [path], self.settings, kind_for=self.config.kind_for,
                                    options=self.options)
            return result

        self.in_flight += 1
        try:
            await self._connect()
            return await asyncio.get_running_loop().run_in_executor(self._threads, run)
        except ClusterError as exc:
            await self._drop_client()
            return FileResult(path, None, error=f"the cluster is unavailable: {exc}")
        finally:
            self.in_flight -= 1

    def warm(self) -> None:
        """Nothing to start here: a cluster's workers run where the cluster was started."""

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
