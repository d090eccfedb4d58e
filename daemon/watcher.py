"""Watching the music folders: watchdog observers feeding the event loop, plus the settle
check that decides when a changed file is finished.

Why a settle check on top of inotify's "closed after write": network mounts and the
polling observer never report closes, and some copiers write in pauses or reopen the file.
A file is handed on only after its size and mtime stood still for ``settle_seconds``; a file
that was written but not (yet) closed must stand still longer (``OPEN_FACTOR``), which is
what keeps a slow, chunked copy of a big file down to exactly one analysis.

A file that was closed (or renamed in) and whose stat stood still at one check is offered
for early analysis (:meth:`Settler.early`, :mod:`djml.daemon.early`) while its settle time
still runs; the settle decides, as before, when anything is stored.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from djml.pipeline import FileStat
from djml.tags import AUDIO_EXTENSIONS
from djml.tagtemps import is_temporary

log = logging.getLogger(__name__)

OPEN_FACTOR = 4.0          # written-but-not-closed files must be still this many times longer
POLL_INTERVAL = 2.0        # seconds between directory snapshots of the polling observer
MIN_CHECK_SECONDS = 0.01   # the settle loop's shortest sleep: files a few ms apart share a check
EARLY_LOOK_SECONDS = 0.2   # a closed file's first check, the one that may offer it for early analysis

# (kind, src, dest, is_directory); kind: created | modified | closed | moved | deleted
FsEvent = tuple[str, str, str | None, bool]


def is_audio(path: str) -> bool:
    """An audio file name, and not a `tags write` copy (djml.tagtemps)."""
    return os.path.splitext(path)[1].lower() in AUDIO_EXTENSIONS and not is_temporary(os.path.basename(path))


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@dataclass
class _Pending:
    stat: FileStat | None
    still_since: float
    writing: bool
    still: bool = False                # the stat was unchanged at the last check
    offered: FileStat | None = None    # the stat it was offered for early analysis at


class Settler:
    """Changed files waiting until they stop changing. Runs on the event loop only."""

    def __init__(self, settle_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.settle = settle_seconds
        self.clock = clock
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: object) -> bool:
        return path in self._pending

    def touch(self, path: str, *, writing: bool | None = None) -> None:
        """The file changed (or may have): restart its clock."""
        entry = self._pending.get(path)
        if entry is None:
            # the stat now, so the settle time counts from the event, not from the first check
            try:
                stat: FileStat | None = FileStat.of(path)
            except OSError:
                stat = None
            self._pending[path] = _Pending(stat, self.clock(), bool(writing))
            return
        entry.still_since = self.clock()
        if writing is not None:
            entry.writing = writing
        if writing:
            entry.still = False

    def closed(self, path: str) -> None:
        self.touch(path, writing=False)

    def discard(self, path: str) -> bool:
        return self._pending.pop(path, None) is not None

    def discard_under(self, folder: str) -> list[str]:
        gone = [p for p in self._pending if under(p, folder)]
        for p in gone:
            del self._pending[p]
        return gone

    def rename(self, old: str, new: str) -> None:
        """A pending file or folder was renamed: keep waiting under the new name."""
        for path in [p for p in self._pending if under(p, old)]:
            self._pending[new + path[len(old):]] = self._pending.pop(path)

    def due(self) -> list[str]:
        """Stat every pending file; return (and forget) the ones that have settled."""
        now = self.clock()
        ready = []
        for path, entry in list(self._pending.items()):
            try:
                st = FileStat.of(path)
            except OSError:
                del self._pending[path]  # vanished (the delete event handles the library)
                continue
            if st != entry.stat:
                entry.stat, entry.still_since, entry.still = st, now, False
                continue
            entry.still = True
            if now - entry.still_since >= self._needed(entry):
                ready.append(path)
                del self._pending[path]
        return ready

    def early(self) -> list[tuple[str, FileStat]]:
        """Files to analyse early, each once per stat: closed after writing (or renamed in,
        or found at start-up), not empty, and unchanged at the last :meth:`due` check.
        Why only these: a file still open for writing would mostly be analysed in vain;
        whether a result is used is decided at settle time, by the stat alone."""
        found = []
        for path, entry in self._pending.items():
            st = entry.stat
            if entry.still and not entry.writing and st is not None and st.size > 0 and entry.offered != st:
                entry.offered = st
                found.append((path, st))
        return found

    def interval(self) -> float:
        """How often :meth:`due` should run while anything is pending."""
        return min(max(self.settle / 4, 0.05), 1.0)

    def next_check(self) -> float:
        """Seconds until :meth:`due` should run next: when the first pending file can have
        settled, and at least every :meth:`interval` (a change without an event is seen
        by the stat). Why not the interval alone: a file was then queued up to a quarter
        of the settle time after it had settled (0.5 s at the default 2 s)."""
        if not self._pending:
            return self.interval()
        soonest = min(self._next_look(entry) for entry in self._pending.values())
        return min(self.interval(), max(soonest - self.clock(), MIN_CHECK_SECONDS))

    def _next_look(self, entry: _Pending) -> float:
        """When ``entry`` wants a check: when it can have settled, or sooner for a closed
        file not yet seen still (the check that can offer it for early analysis)."""
        settles = entry.still_since + self._needed(entry)
        if entry.writing or entry.still:
            return settles
        return min(settles, entry.still_since + min(EARLY_LOOK_SECONDS, self.interval()))

    def _needed(self, entry: _Pending) -> float:
        return self.settle * (OPEN_FACTOR if entry.writing else 1.0)


class Watcher:
    """watchdog observers on every root, forwarding events to ``sink`` on the event loop."""

    def __init__(self, roots: list[Path], polling: bool, loop: asyncio.AbstractEventLoop,
                 sink: Callable[[FsEvent], None]):
        self.roots = roots
        self.polling = polling
        self.loop = loop
        self.sink = sink
        self._observer = None

    def start(self) -> list[Path]:
        """Start watching; returns the roots actually watched (missing folders are skipped
        with a warning: an unmounted drive must not look like every file was deleted)."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        outer = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                kind = event.event_type
                if kind not in ("created", "modified", "closed", "moved", "deleted"):
                    return
                if kind == "modified" and event.is_directory:
                    return
                dest = os.fsdecode(event.dest_path) if event.dest_path else None
                message: FsEvent = (kind, os.fsdecode(event.src_path), dest, event.is_directory)
                try:
                    outer.loop.call_soon_threadsafe(outer.sink, message)
                except RuntimeError:  # loop closed during shutdown
                    pass

        observer = PollingObserver(timeout=POLL_INTERVAL) if self.polling else Observer()
        watched = []
        for root in self.roots:
            if not root.is_dir():
                log.warning("not watching %s: folder does not exist (yet)", root)
                continue
            observer.schedule(Handler(), str(root), recursive=True)
            watched.append(root)
        observer.daemon = True
        observer.start()
        self._observer = observer
        log.info("watching %s (%s)", ", ".join(map(str, watched)) or "nothing",
                 "polling" if self.polling else "inotify/native")
        return watched

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
