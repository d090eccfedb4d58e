"""Items waiting for their derived data (predictions, text vectors, index entries), and
what went wrong computing it.

Analysis results are stored by the queue in the ``jobs`` table; derived data needs no
table of its own, because what is missing can be read off the library at any time
(:func:`djml.models.enrich.lacking`). So this in-memory set only batches work: ids come
from stored analyses, from the start-up back-fill and from a model change, and a ``kill -9``
that loses the set loses nothing the next start does not find again.
"""

from __future__ import annotations

import time
from collections import deque

BATCH = 500          # items per predict/index call: a back-fill of a big library stays responsive
KEEP_ERRORS = 5
# After a batch whose derived data failed (a model file that does not load yet, a model
# being replaced), the back-fill runs again after each of these delays; a failure that
# outlasts them waits for the next start's back-fill, as a ``kill -9`` would.
RETRY_SECONDS = (30.0, 120.0, 600.0, 1800.0)


class DerivedWork:
    def __init__(self) -> None:
        self._ids: set[int] = set()
        self.errors: deque[tuple[float, str]] = deque(maxlen=KEEP_ERRORS)
        self.failures = 0     # failed batches since start
        self.retries = 0      # back-fills run since the last batch without errors
        self.retry_wanted = False

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, item_ids: list[int]) -> None:
        self._ids.update(item_ids)

    def take(self) -> list[int]:
        batch = sorted(self._ids)[:BATCH]
        self._ids.difference_update(batch)
        return batch

    def failed(self, errors: list[str]) -> None:
        """Record a batch's outcome: its errors, or none (a success clears the warnings:
        what failed before is pending again and has now been done)."""
        if not errors:
            self.errors.clear()
            self.retries = 0
        else:
            self.retry_wanted = True
        for error in errors:
            self.failures += 1
            self.errors.append((time.time(), error))

    def next_retry(self) -> float | None:
        """Seconds until the items of the failed batches are tried again, or None when the
        retries are spent; clears :attr:`retry_wanted` (one retry answers every failure
        before it)."""
        self.retry_wanted = False
        if self.retries >= len(RETRY_SECONDS):
            return None
        self.retries += 1
        return RETRY_SECONDS[self.retries - 1]

    def status(self) -> dict[str, object]:
        return {"pending": len(self._ids), "failures": self.failures,
                "errors": [error for _, error in self.errors]}
