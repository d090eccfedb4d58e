"""Where analysis runs: the local process pool or a cluster, chosen by one setting.

`djml scan`, `djml analyze` and the daemon hand a list of paths to an *analyser* and store
the :class:`~djml.pipeline.FileResult` objects it yields, as they complete, with the one
writer on this machine. Which analyser runs is decided here, from the ``cluster`` setting
(``--cluster`` on the command line, ``cluster = "..."`` in the config):

* none            — the local process pool (:func:`djml.scan.analyse_all`);
* ``local:N``     — a Dask ``LocalCluster`` with N worker processes on this machine;
* ``tcp://H:P``   — the Dask scheduler at that address (``dask scheduler`` / ``dask worker``).

Backends are registered in :data:`BACKENDS` by module path and imported only when chosen,
so no path that does not use a cluster ever imports Dask. A new backend is one module with
an ``analyse`` function and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from djml.pipeline import FileResult, Settings

if TYPE_CHECKING:
    from djml.config import Config

# backend name -> module that defines ``analyse(paths, settings, *, kind_for, workers, nice, options, memory_mb)``
BACKENDS: dict[str, str] = {
    "local": "djml.executors_local",
    "dask": "djml.cluster",
}


class ClusterError(Exception):
    """The cluster cannot be reached or went away; what was stored so far stays stored."""


@dataclass(frozen=True)
class PathMap:
    """``FROM=TO``: a file at ``FROM/x`` on this machine is ``TO/x`` on the workers."""

    local: str
    remote: str

    @classmethod
    def parse(cls, text: str) -> "PathMap":
        local, sep, remote = text.partition("=")
        if not sep or not local.strip() or not remote.strip():
            raise ValueError(f"path map {text!r} is not FROM=TO (e.g. /home/dj/Music=/mnt/music)")
        return cls(local.rstrip("/") or "/", remote.rstrip("/") or "/")

    def to_remote(self, path: str) -> str | None:
        return _swap(path, self.local, self.remote)

    def to_local(self, path: str) -> str | None:
        return _swap(path, self.remote, self.local)


def _swap(path: str, old: str, new: str) -> str | None:
    if path == old:
        return new
    prefix = old if old.endswith("/") else old + "/"
    if path.startswith(prefix):
        return (new.rstrip("/") + "/" + path[len(prefix):]) if new != "/" else "/" + path[len(prefix):]
    return None


@dataclass(frozen=True)
class ExecutorOptions:
    """How to reach the analysis workers (parsed from ``cluster`` and its companions)."""

    backend: str = "local"
    address: str | None = None          # tcp://host:port of a running scheduler
    local_workers: int | None = None    # local:N starts a LocalCluster with N workers
    path_maps: tuple[PathMap, ...] = field(default_factory=tuple)
    ship_bytes: bool = False             # send file contents instead of paths

    def map_to_remote(self, path: str) -> str:
        for mapping in self.path_maps:
            if (remote := mapping.to_remote(path)) is not None:
                return remote
        return path

    def map_to_local(self, path: str) -> str:
        for mapping in self.path_maps:
            if (local := mapping.to_local(path)) is not None:
                return local
        return path


def parse_cluster(spec: str | None, path_maps: Sequence[str] = (), ship_bytes: bool = False) -> ExecutorOptions:
    """``None``/``""``/``"local"`` → the process pool; ``local:N``; ``tcp://…`` (or any
    address Dask accepts: ``tls://``, ``inproc://``). Raises ValueError with the fix."""
    maps = tuple(PathMap.parse(m) for m in path_maps)
    if not spec or spec == "local":
        if maps or ship_bytes:
            raise ValueError("--map-path and --ship-bytes need a cluster (--cluster ADDRESS or local:N)")
        return ExecutorOptions()
    if spec.startswith("local:"):
        count = spec.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"cluster {spec!r}: local:N needs a worker count >= 1, e.g. local:2")
        return ExecutorOptions("dask", local_workers=int(count), path_maps=maps, ship_bytes=ship_bytes)
    if "://" not in spec:
        raise ValueError(f"cluster {spec!r} is not an address: use tcp://HOST:PORT (see `dask scheduler`)"
                         " or local:N")
    return ExecutorOptions("dask", address=spec, path_maps=maps, ship_bytes=ship_bytes)


def executor_options(config: "Config") -> ExecutorOptions:
    """The executor the config asks for (``cluster``, ``cluster_map_path``, ``cluster_ship_bytes``)."""
    return parse_cluster(config.cluster, config.cluster_map_path, config.cluster_ship_bytes)


Analyser = Callable[..., Iterator[FileResult]]


def analyser(options: ExecutorOptions) -> Analyser:
    """The ``analyse`` function of the chosen backend (imported now, not before)."""
    try:
        module_name = BACKENDS[options.backend]
    except KeyError:
        raise ValueError(f"unknown analysis backend {options.backend!r} (known: {', '.join(BACKENDS)})") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if options.backend == "dask":
            raise ClusterError("the cluster backend needs Dask: pip install 'djml[cluster]'"
                               f" ({exc})") from None
        raise
    return module.analyse


def analyse(paths: list[str], settings: Settings, options: ExecutorOptions, *, workers: int,
            kind_for: Callable[[Path], str | None] = lambda path: None, nice: int = 0,
            memory_mb: int = 0) -> Iterator[FileResult]:
    """Analyse ``paths`` with the backend ``options`` names, yielding results as they
    finish. ``memory_mb`` caps each local worker (a cluster's workers have their own
    memory limits, set where they are started)."""
    return analyser(options)(paths, settings, kind_for=kind_for, workers=workers, nice=nice, options=options,
                             memory_mb=memory_mb)
