"""Answers of read-only requests kept by the daemon, valid while what they were read
from is unchanged.

The library's state is SQLite's ``PRAGMA data_version`` on the daemon's reader
connection: it changes whenever another connection (the daemon's writer, its trainer,
anyone) commits, so an answer is never served from before a change. Answers that also
depend on files beside the library (the recommender's similarity indexes, set model and
learned weights) add those files' size, mtime and inode (:func:`model_files`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djml.config import Config

ANSWERS_KEPT = 64   # recommendations the daemon keeps (djml.daemon.handlers.recommend)


def data_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA data_version").fetchone()[0]


def model_files(config: "Config") -> tuple[tuple[str, int, int, int], ...]:
    """(name, size, mtime, inode) of every file in the index folder and the models folder
    tree, which is what a recommendation reads besides the library."""
    found = []
    for top in (config.index_dir, config.models_dir):
        for folder, _, files in os.walk(top):
            for name in files:
                try:
                    st = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                found.append((os.path.join(folder, name), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sorted(found))


class ReadCache:
    """Values by key, each with the version it was read at; bounded by entries and, when
    ``max_bytes`` is given, by the sizes given to :meth:`put` (a value larger than a
    quarter of it is not kept). Used from the reader thread and the loop, hence the lock."""

    def __init__(self, entries: int, max_bytes: int | None = None):
        self.entries, self.max_bytes = entries, max_bytes
        self._items: OrderedDict[Hashable, tuple[Hashable, Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, version: Hashable) -> Any | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] != version:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, version: Hashable, value: Any, size: int = 0) -> bool:
        if self.max_bytes is not None and size > self.max_bytes // 4:
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            self._items[key] = (version, value, size)
            self._bytes += size
            while len(self._items) > self.entries or (self.max_bytes is not None and self._bytes > self.max_bytes):
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped[2]
        return True

    def status(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._items), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}
