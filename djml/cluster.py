"""The Dask backend: analysis on a ``dask.distributed`` cluster, storage on this machine.

What crosses the network is small: a path (rewritten by ``--map-path`` when the music is
mounted elsewhere on the workers) or, with ``--ship-bytes``, the file's bytes; a worker
sends back the compact :class:`~djml.pipeline.FileResult` (tags + analysis, never audio).
The database, the index and the one writer stay here, and results are stored as they
complete, so a scan that stops half-way keeps what it finished and the next scan picks up
the rest (unchanged files are skipped by their stat data).

Work is submitted in a bounded window (a few tasks per worker thread): a million-file scan
never holds a million futures, and memory on the scanning machine stays flat.

Faults become per-file results, never a dead scan: Dask reschedules a task whose worker
died and gives up after ``distributed.scheduler.allowed-failures`` deaths (KilledWorker):
that file fails with a reason. A scheduler that goes away stops the scan with
:class:`~djml.executors.ClusterError`; everything stored so far stays stored.

Needs ``pip install 'djml[cluster]'`` here and djml (same version) on every worker.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from djml.executors import ClusterError, ExecutorOptions
from djml.pipeline import FileResult, FileStat, Settings, process_file

WINDOW_PER_THREAD = 2           # batches in flight per worker thread: one running, one waiting
BATCH_FILES = 32                # a batch: up to this many files ...
BATCH_BYTES = 16 << 20          # ... or this many bytes (a long track travels alone)
CONNECT_TIMEOUT = "10s"
WORKER_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "NUMBA_NUM_THREADS": "1"}
_prepared = False


def analyse(paths: list[str], settings: Settings, *, kind_for: Callable[[Path], str | None], workers: int,
            nice: int, options: ExecutorOptions, memory_mb: int = 0) -> Iterator[FileResult]:
    """Analyse ``paths`` on the cluster ``options`` names, yielding results as they finish."""
    if not paths:
        return
    with connect(options) as client:
        yield from analyse_with(client, paths, settings, kind_for=kind_for, options=options)


# Housekeeping a local cluster does not need: the statistical profiler samples every worker's
# stack every 10 ms and the system monitor polls twice a second, which on a small, busy machine
# costs more CPU than the tasks' own bookkeeping (there is no dashboard to show either).
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.gil.enabled": False,
}


def open_client(options: ExecutorOptions) -> tuple[Any, Any]:
    """A connected Client for ``options`` and the LocalCluster it started (``local:N``) or None."""
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if options.local_workers:
            with dask.config.set(LOCAL_CLUSTER_CONFIG):   # nannies hand this config to their workers
                cluster = LocalCluster(n_workers=options.local_workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR,
                                       env=WORKER_THREAD_ENV)
            return Client(cluster), cluster
        return Client(options.address, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"cannot reach the Dask scheduler at {options.address}: {exc}"
                           " (start one with `dask scheduler`, workers with `dask worker ADDRESS`)") from None


@contextmanager
def connect(options: ExecutorOptions) -> Iterator[Any]:
    """:func:`open_client` as a context: client (and local cluster) closed on exit."""
    client, cluster = open_client(options)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass(frozen=True)
class _Entry:
    path: str                   # on this machine
    stat: FileStat | None       # here, before submitting
    kind: str | None
    data: bytes | None = None   # the file's bytes, with --ship-bytes


def analyse_with(client: Any, paths: list[str], settings: Settings, *, kind_for: Callable[[Path], str | None],
                 options: ExecutorOptions) -> Iterator[FileResult]:
    """The windowed submit / ``as_completed`` loop over an open ``client``.

    Small files travel in batches (a task costs the scheduler tens of milliseconds on a
    busy machine, as much as analysing a one-shot); a batch whose worker died is split and
    its files retried one by one, so only the file that kills a worker on its own fails."""
    from distributed import as_completed

    remote_settings = _remote_settings(settings, options)
    window = max(4, WINDOW_PER_THREAD * max(1, sum(client.nthreads().values())))
    pending = iter(paths)
    in_flight: dict[str, list[_Entry]] = {}
    retry_alone: list[_Entry] = []
    running = as_completed()
    done = 0

    def submit(batch: list[_Entry]) -> None:
        if options.ship_bytes:
            items = [(Path(e.path).suffix, e.data, e.kind) for e in batch]
            future = client.submit(analyse_shipped_batch, items, remote_settings, pure=False)
        else:
            future = client.submit(analyse_batch, [(options.map_to_remote(e.path), e.kind) for e in batch],
                                   remote_settings, pure=False)
        in_flight[future.key] = batch
        running.add(future)

    def next_batch() -> tuple[list[_Entry], list[FileResult]]:
        """Up to BATCH_FILES files / BATCH_BYTES bytes; unreadable files become results."""
        if retry_alone:
            return [retry_alone.pop()], []
        batch: list[_Entry] = []
        early: list[FileResult] = []
        size = 0
        for path in pending:
            try:
                stat: FileStat | None = FileStat.of(path)
            except OSError:
                stat = None   # the worker reports the precise reason
            data = None
            if options.ship_bytes:
                try:
                    data = _read_confined(path, settings)
                except _LocalRefusal as exc:
                    early.append(FileResult(path, stat, error=str(exc)))
                    continue
            batch.append(_Entry(path, stat, kind_for(Path(path)), data))
            size += stat.size if stat else 0
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                break
        return batch, early

    def fill() -> Iterator[FileResult]:
        while len(in_flight) < window:
            batch, early = next_batch()
            yield from early
            if not batch:
                return
            submit(batch)

    yield from fill()
    while in_flight:
        future = next(running)
        batch = in_flight.pop(future.key)
        results = _collect(future, batch, done, len(paths))
        future.release()
        if results is None:       # the worker died on this batch: its files again, each alone
            if len(batch) > 1:
                retry_alone.extend(reversed(batch))
            else:
                done += 1
                yield FileResult(batch[0].path, batch[0].stat,
                                 error="a cluster worker died while analysing this file (each retry too)")
        else:
            for entry, result in zip(batch, results):
                done += 1
                yield _as_local(result, entry, options)
        yield from fill()


def _collect(future: Any, batch: list[_Entry], done: int, total: int) -> list[FileResult] | None:
    """The batch's results; None when workers died on it (KilledWorker)."""
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        return None
    except (CancelledError, CommClosedError, OSError, TimeoutError) as exc:
        raise ClusterError(f"lost the Dask scheduler after {done} of {total} file(s) ({type(exc).__name__}): "
                           "what was analysed is stored; run the scan again to continue") from None
    except Exception as exc:  # raised on the worker outside process_file (e.g. djml missing there)
        return [FileResult(e.path, e.stat, error=f"the cluster task failed: {type(exc).__name__}: {exc}")
                for e in batch]


def _as_local(result: FileResult, entry: _Entry, options: ExecutorOptions) -> FileResult:
    """The worker's result under this machine's path and stat data (the library keys
    unchanged-file detection on local inode/mtime, not on the worker's mount)."""
    path, stat = entry.path, entry.stat
    result.path = path
    if result.analysis is not None:
        result.analysis.path = path
    if result.error is not None:
        result.stat = stat
        return result
    try:
        now = FileStat.of(path)
    except OSError:
        return FileResult(path, stat, error="file vanished while it was being analysed")
    if stat is not None and now != stat:
        return FileResult(path, now, error="file changed while being analysed (still being copied?)")
    result.stat = now
    return result


def _remote_settings(settings: Settings, options: ExecutorOptions) -> Settings:
    """What a worker may read: the configured folders as the workers see them."""
    if options.ship_bytes:
        return settings
    return replace(settings, allowed_roots=tuple(options.map_to_remote(r) for r in settings.allowed_roots),
                   refused_roots=tuple(options.map_to_remote(r) for r in settings.refused_roots))


class _LocalRefusal(Exception):
    pass


def _read_confined(path: str, settings: Settings) -> bytes:
    """The bytes to ship, read here under the same confinement a worker would apply."""
    from djml.confine import Refused, opened

    try:
        with opened(path, settings.allowed_roots, settings.refused_roots) as source:
            with open(source, "rb") as handle:
                return handle.read()
    except Refused as exc:
        raise _LocalRefusal(f"refused: {exc}") from None
    except FileNotFoundError:
        raise _LocalRefusal("file vanished before it could be read") from None
    except PermissionError:
        raise _LocalRefusal("permission denied") from None
    except OSError as exc:
        raise _LocalRefusal(f"cannot read: {exc.strerror or exc}") from None


def fold_runner(options: ExecutorOptions) -> Callable[[Callable, list[tuple]], list]:
    """Run cross-validation folds as cluster tasks: ``fit_predict(train, test)`` per split,
    results in split order (each fold trains one model, which is where CV time goes)."""
    def run(fit_predict: Callable, splits: list[tuple]) -> list:
        with connect(options) as client:
            futures = [client.submit(fit_predict, train, test, pure=False) for train, test in splits]
            try:
                return client.gather(futures)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(f"lost the Dask scheduler during cross-validation: {exc}") from None
    return run


# -- run on the workers ---------------------------------------------------------------------

def _prepare_worker() -> None:
    """Once per worker process: one BLAS thread, decoder chatter off (as local workers)."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    for name, value in WORKER_THREAD_ENV.items():
        os.environ.setdefault(name, value)
    from djml.procs import silence_native_stderr

    silence_native_stderr()


def analyse_remote(path: str, kind: str | None, settings: Settings) -> FileResult:
    """A worker analyses a file it can read at ``path`` (its own mount of the music); the
    allowed folders are resolved here, where links in the mount point mean something."""
    from djml.confine import real_roots

    _prepare_worker()
    return process_file(path, kind, replace(settings, allowed_roots=real_roots(settings.allowed_roots),
                                            refused_roots=real_roots(settings.refused_roots)))


def analyse_batch(items: list[tuple[str, str | None]], settings: Settings) -> list[FileResult]:
    """A worker analyses a batch of (path, kind)."""
    return [analyse_remote(path, kind, settings) for path, kind in items]


def analyse_shipped_batch(items: list[tuple[str, bytes, str | None]], settings: Settings) -> list[FileResult]:
    """A worker analyses a batch of shipped (suffix, bytes, kind)."""
    return [analyse_shipped(suffix, data, kind, settings) for suffix, data, kind in items]


def analyse_shipped(suffix: str, data: bytes, kind: str | None, settings: Settings) -> FileResult:
    """A worker analyses bytes sent to it, from a private temporary file (the extension
    is kept: tag readers and decoders go by it)."""
    _prepare_worker()
    with tempfile.TemporaryDirectory(prefix="djml-shipped-") as folder:
        path = os.path.join(folder, "audio" + suffix)
        with open(path, "wb") as handle:
            handle.write(data)
        real = os.path.realpath(folder)
        return process_file(path, kind, replace(settings, allowed_roots=(real,), refused_roots=()))
