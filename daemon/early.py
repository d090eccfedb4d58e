"""Early analysis: analysing a finished file while its settle time still runs.

Why: a burst of files dropped at once used to cost the settle time *plus* the analysis of
the whole burst, because nothing was read before a file had settled. A file that was closed
after writing (or renamed in) and whose stat did not change at one settle check is very
likely complete, so the service analyses it at once, on a free worker, and holds the result
here, in memory. Nothing is stored before the settle: when the file settles the result is
stored only if the file's stat (size, mtime_ns, inode, device) is still the one the worker
read, else it is analysed again through the job queue, as any file is. A kill at any moment
loses only these held results: the files are not in the library yet, so the next start's
reconcile queues them.

Runs on the event loop only (no locks): the service offers files, starts what it has free
workers for, and asks at settle time what each settled file needs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from djml.pipeline import FileResult, FileStat

MAX_EARLY = 256   # outstanding early analyses (waiting, running or held); beyond, files just settle

Next = Literal["store", "wait", "queue"]


def usable(result: FileResult, now: FileStat | None) -> bool:
    """May an early ``result`` be stored for a file whose stat is ``now`` at settle time?
    Only a successful analysis of exactly these bytes: the stat the worker took before
    reading must still be the file's. A failed early analysis is never stored: the job
    queue's attempts and back-off decide about failures (the file may have been incomplete)."""
    return result.error is None and result.analysis is not None and result.stat is not None and result.stat == now


@dataclass
class _Entry:
    stat: FileStat                     # what the settler saw when it offered the file
    started: bool = False
    result: FileResult | None = None
    settled: bool = False              # settled while its analysis still ran


@dataclass
class EarlyWork:
    """Early analyses per path, and the counts `djml status` shows."""

    limit: int = MAX_EARLY
    used: int = 0                      # results stored without analysing the file again
    redone: int = 0                    # results thrown away: the file changed (or the analysis failed)
    _entries: "OrderedDict[str, _Entry]" = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._entries)

    def offer(self, path: str, stat: FileStat) -> bool:
        """A settling file looks finished: analyse it early when a worker is free. A newer
        offer for the same path replaces the old one (its running analysis, if any, is
        discarded when it ends). Refused (False) when ``limit`` analyses are outstanding."""
        old = self._entries.pop(path, None)
        if old is None and len(self._entries) >= self.limit:
            return False
        if old is not None and old.result is not None:
            self.redone += 1           # a result for bytes that changed since
        self._entries[path] = _Entry(stat)
        return True

    def start(self, limit: int) -> list[tuple[str, FileStat]]:
        """Up to ``limit`` offered files to analyse now, oldest offer first."""
        chosen: list[tuple[str, FileStat]] = []
        for path, entry in self._entries.items():
            if len(chosen) >= limit:
                break
            if not entry.started:
                entry.started = True
                chosen.append((path, entry.stat))
        return chosen

    def finished(self, path: str, stat: FileStat, result: FileResult | None) -> tuple[Next | None, FileResult | None]:
        """An early analysis of ``path`` (offered at ``stat``) ended with ``result`` (None:
        no worker could run it). Returns what to do now: ``("store", result)`` or
        ``("queue", None)`` for a file that settled meanwhile, else ``(None, None)``
        (the result is held until the file settles, or it was for an older offer)."""
        entry = self._entries.get(path)
        if entry is None:
            return None, None          # forgotten: the file went away
        if entry.stat != stat or not entry.started:
            if result is not None:
                self.redone += 1       # offered again (it changed) meanwhile: the new offer counts
            return None, None
        if result is None:
            del self._entries[path]    # no result: the file takes the ordinary way at settle
            return ("queue", None) if entry.settled else (None, None)
        entry.result = result
        if not entry.settled:
            return None, None
        del self._entries[path]
        return "store", result

    def settled(self, path: str) -> tuple[Next, FileResult | None]:
        """``path`` has settled: ``("store", result)`` to store a held result (the writer
        checks :func:`usable` against the stat then), ``("wait", None)`` while its early
        analysis runs (:meth:`finished` answers later), ``("queue", None)`` to analyse it
        the ordinary way (never offered, or not started yet)."""
        entry = self._entries.get(path)
        if entry is None:
            return "queue", None
        if entry.result is not None:
            del self._entries[path]
            return "store", entry.result
        if entry.started:
            entry.settled = True
            return "wait", None
        del self._entries[path]        # not started: the job queue has it from here
        return "queue", None

    def forget(self, path: str) -> None:
        """The file was deleted or moved away while settling: its result is of no use."""
        self._entries.pop(path, None)

    def prune(self, settling: Callable[[str], bool]) -> None:
        """Forget files that stopped settling without settling (vanished, moved, their
        folder left the configuration); those that settled and wait for their analysis stay."""
        for path in [p for p, entry in self._entries.items() if not entry.settled and not settling(p)]:
            del self._entries[path]

    def status(self) -> dict[str, int]:
        """``pending``: offered, not analysed yet (waiting for a worker, or running);
        ``held``: analysed, waiting for the file to settle."""
        held = sum(1 for entry in self._entries.values() if entry.result is not None)
        return {"used": self.used, "redone": self.redone, "pending": len(self._entries) - held, "held": held}
