"""Queue policy over the persistent ``jobs`` table: what to run next, what a result means.

Every method runs on the daemon's single writer thread (see :mod:`djml.daemon.service`),
so the job rows, locations and items change in one order. The table itself is the queue:
a crash loses nothing, because a job is deleted only after its result is stored, and a
job left 'running' is re-queued at start-up (:meth:`Library.requeue_running`). Storing a
result twice is harmless: items are keyed by audio hash, so a replay updates, never
duplicates.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from djml.library import Library
from djml.pipeline import FileResult, FileStat

from .early import usable

MAX_ATTEMPTS = 3

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Job:
    id: int
    path: str
    attempts: int


class JobQueue:
    """Claiming due jobs and turning worker results into library writes and events."""

    def __init__(self, library: Library, backoff_seconds: float = 4.0):
        # Most failures that heal are files still being written, so the service passes a
        # back-off scaled to the settle time; it grows 4x per attempt.
        self.library = library
        self.backoff = backoff_seconds

    def enqueue(self, paths: list[str]) -> int:
        return self.library.enqueue(paths) if paths else 0

    def claim(self, limit: int) -> tuple[list[Job], list[Event]]:
        """Due jobs to analyse. Jobs whose file vanished are dropped and files that the
        library already holds with the same stat are settled without reading audio (a
        replay after a crash, or a move the watcher already recorded)."""
        if limit <= 0:
            return [], []
        ready: list[Job] = []
        events: list[Event] = []
        for job_id, path, attempts in self.library.claim_jobs(limit, time.time()):
            try:
                st = FileStat.of(path)
            except FileNotFoundError:
                self.library.finish_job(job_id)
                continue
            except OSError:
                ready.append(Job(job_id, path, attempts))  # process_file reports why
                continue
            known = self.library.location(path)
            if known is not None and known.matches(st) and known.item_id is not None:
                if known.status == "missing":
                    self.library.record_move(path, path, st)
                    events.append(("item.updated", {"item_id": known.item_id, "path": path, "outcome": "found"}))
                self.library.finish_job(job_id)
                continue
            ready.append(Job(job_id, path, attempts))
        return ready, events

    def complete(self, job: Job, result: FileResult) -> tuple[list[Event], list[int]]:
        """Store one worker result. Returns (events, item ids whose predictions and index
        entries need refreshing)."""
        if result.error is None:
            events, item_ids = self._store(result)
            self.library.finish_job(job.id)
            self._requeue_if_changed(job.path, result.stat)
            return events, item_ids
        if not os.path.lexists(job.path):
            self.library.finish_job(job.id)  # vanished meanwhile: the watcher marks it missing
            return [], []
        final = job.attempts >= MAX_ATTEMPTS
        if final:
            self.library.record_failure(job.path, result.stat, result.error)
            self.library.fail_job(job.id, result.error)
        else:
            delay = self.backoff * 4 ** (job.attempts - 1)
            self.library.retry_job(job.id, result.error, time.time() + delay)
        data = {"path": job.path, "error": result.error, "attempts": job.attempts, "final": final}
        return [("item.failed", data)], []

    def store_early(self, results: list[FileResult]) -> tuple[list[Event], list[int], int, int]:
        """Store early results (:mod:`djml.daemon.early`) of files that have just settled,
        each only if :func:`~djml.daemon.early.usable` for the file's stat now; the others
        are queued to be analysed again. Returns (events, item ids, stored, queued)."""
        events: list[Event] = []
        item_ids: list[int] = []
        redo: list[str] = []
        stored = 0
        for result in results:
            try:
                now: FileStat | None = FileStat.of(result.path)
            except FileNotFoundError:
                continue               # gone: its delete event updates the library
            except OSError:
                now = None
            known = self.library.location(result.path)
            if known is not None and known.item_id is not None and known.status == "ok" and now is not None \
                    and known.matches(now):
                continue               # stored as it is already (a job got there first): nothing to do
            if usable(result, now):
                more_events, more_ids = self._store(result)
                events += more_events
                item_ids += more_ids
                stored += 1
            else:
                redo.append(result.path)
        self.enqueue(redo)
        return events, item_ids, stored, len(redo)

    def _store(self, result: FileResult) -> tuple[list[Event], list[int]]:
        outcome, item_id = self.library.record_result(result)
        assert result.analysis is not None
        name = "item.added" if outcome == "new" else "item.updated"
        data = {"item_id": item_id, "path": result.path, "kind": result.analysis.kind, "outcome": outcome}
        return [(name, data)], [item_id] if item_id is not None else []

    def _requeue_if_changed(self, path: str, seen: FileStat | None) -> None:
        """A file rewritten after the worker read it gets analysed again (its own watcher
        event may have arrived while this job was 'running' and been merged into it)."""
        try:
            if FileStat.of(path) != seen:
                self.library.enqueue([path])
        except OSError:
            pass

    def next_due(self) -> float | None:
        """Wall-clock time when the earliest waiting job becomes due (None: queue empty)."""
        row = self.library.conn.execute(
            "SELECT MIN(not_before) FROM jobs WHERE state = 'queued'"
        ).fetchone()
        return row[0]

    def counts(self) -> dict[str, int]:
        rows = self.library.conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        counts = {"queued": 0, "running": 0, "failed": 0}
        counts.update({state: n for state, n in rows if state in counts})
        return counts
