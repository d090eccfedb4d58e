"""The default analysis backend: the local process pool of :func:`djml.scan.analyse_all`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from djml.executors import ExecutorOptions
from djml.pipeline import FileResult, Settings


def analyse(paths: list[str], settings: Settings, *, kind_for: Callable[[Path], str | None], workers: int,
            nice: int, options: ExecutorOptions, memory_mb: int = 0) -> Iterator[FileResult]:
    from djml.scan import analyse_all

    return analyse_all(paths, workers, settings, kind_for=kind_for, nice=nice, memory_mb=memory_mb)
