"""`djml analyze` without a library: files in, rows of plain data out.

Why a module of its own: the command only prints, so the process that prints never
needs the analysis stack (numpy, scipy.fft, soundfile, soxr — most of a short run's
CPU is importing them). Workers send back the JSON-safe row of each file
(:meth:`djml.analysis.Analysis.to_dict`), never an ``Analysis`` whose unpickling would
import that stack a second time in the parent.

Where the work runs is chosen by its size. A spawned worker costs a Python start and
the analysis imports before its first file; that pays back only when files can run in
parallel. So one file, one worker, or a batch too small to gain from parallelism is
analysed in one *forked* child of this light process: the child imports the stack once,
and still gives what a pool worker gives — a decoder crash or the memory cap costs the
file, not the command. Bigger batches go to the process pool of
:func:`djml.scan.analyse_all`, whose workers return rows too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from djml.pipeline import CRASHED, FileResult, Settings, process_client_file, process_file
from djml.procs import prepare_worker

# Below this many bytes of audio in all, a batch is analysed in one forked child: ~8 MB
# is about half a second of analysis, less than what spawning a second worker costs.
SMALL_BATCH_BYTES = 8 << 20


def row(result: FileResult) -> dict:
    """What `djml analyze` prints for one file: the analysis fields, or path and error."""
    if result.error is not None or result.analysis is None:
        return {"path": result.path, "error": result.error or "no analysis"}
    return result.analysis.to_dict()


def describe_file(path: str, kind_hint: str | None, settings: Settings) -> dict:
    """Worker side: analyse one file and return its row (plain data, cheap to send)."""
    return row(process_file(path, kind_hint, settings))


def describe_client_file(pid: int, fd: int, suffix: str, kind_hint: str | None, settings: Settings) -> dict:
    """Daemon worker side of a served `djml analyze`: the row of the file the client holds
    open as ``fd`` (its ``path`` is the client's to fill in: the worker never sees the name)."""
    return row(process_client_file(pid, fd, suffix, kind_hint, settings))


def crashed_row(path: str, reason: str) -> dict:
    return {"path": path, "error": reason}


def in_one_child(paths: list[str], workers: int) -> bool:
    """Whether a forked child beats a pool: nothing to run in parallel, or too little
    work for a second worker's start-up to pay back."""
    if len(paths) <= 1 or workers <= 1 or not hasattr(os, "fork"):
        return hasattr(os, "fork")
    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            pass            # the worker reports it
        if total > SMALL_BATCH_BYTES:
            return False
    return True


def describe_all(paths: list[str], workers: int, settings: Settings, *,
                 kind_for: Callable[[Path], str | None] = lambda path: None,
                 memory_mb: int = 0) -> Iterator[dict]:
    """Rows for ``paths`` (in the order they finish), analysed where it costs least."""
    if not paths:
        return iter(())
    if in_one_child(paths, workers):
        return forked_rows(paths, settings, kind_for=kind_for, memory_mb=memory_mb)
    from djml.scan import analyse_all

    return analyse_all(paths, workers, settings, kind_for=kind_for, memory_mb=memory_mb,
                       task=describe_file, failed=crashed_row)


def forked_rows(paths: list[str], settings: Settings, *, kind_for: Callable[[Path], str | None],
                memory_mb: int = 0) -> Iterator[dict]:
    """Analyse ``paths`` one after another in a forked child that writes one JSON line
    per file. The child runs them in order, so when it dies the first file without a
    line is the one that killed it, alone: it gets :data:`CRASHED` and a fresh child
    carries on with the rest."""
    todo = list(paths)
    while todo:
        answered = 0
        for answer in _child(todo, settings, kind_for, memory_mb):
            answered += 1
            yield answer
        if answered < len(todo):
            yield crashed_row(todo[answered], CRASHED)
            answered += 1
        todo = todo[answered:]


def _child(paths: list[str], settings: Settings, kind_for: Callable[[Path], str | None],
           memory_mb: int) -> Iterator[dict]:
    """Rows from one forked child until it finishes or dies."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:   # the child: never returns into the caller's code
        status = 1
        try:
            os.close(read_end)
            prepare_worker(0, parent, memory_mb)
            with os.fdopen(write_end, "w", encoding="utf-8") as out:
                for path in paths:
                    out.write(json.dumps(describe_file(path, kind_for(Path(path)), settings)) + "\n")
                    out.flush()
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, encoding="utf-8") as answers:
            for line in answers:
                yield json.loads(line)
    finally:
        os.waitpid(pid, 0)
