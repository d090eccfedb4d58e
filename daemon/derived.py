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


class DerivedWork:
    def __init__(self) -> None:
        self._ids: set[int] = set()
        self.errors: deque[tuple[float, str]] = deque(maxlen=KEEP_ERRORS)
        self.failures = 0     # failed batches since start

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
        for error in errors:
            self.failures += 1
            self.errors.append((time.time(), error))

    def status(self) -> dict[str, object]:
        return {"pending": len(self._ids), "failures": self.failures,
                "errors": [error for _, error in self.errors]}
