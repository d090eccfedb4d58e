"""Resource errors (disk full, too many open files, out of memory): pause, retry, resume.

Such an error says nothing about the file being analysed, so it must neither fail the
file nor stop the queue for good: the job goes back to the queue untouched, the dispatcher
waits (1 s, doubling up to a minute), and the first success clears the pause. While paused,
`djml status` shows the reason; the log has one line when a pause starts and one when it
ends, not one per attempt.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time

log = logging.getLogger(__name__)

FIRST_DELAY, MAX_DELAY = 1.0, 60.0

_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EMFILE: "too many open files (the daemon's file limit)",
    errno.ENFILE: "too many open files (the system's file limit)",
    errno.ENOMEM: "out of memory",
    errno.EAGAIN: "out of processes or memory (fork failed)",
}
# What SQLite says instead of an errno.
_SQLITE = {
    "database or disk is full": "disk full",
    "unable to open database file": "cannot open the library file (too many open files, or disk full)",
    "disk i/o error": "disk I/O error",
}


def resource_reason(exc: BaseException) -> str | None:
    """A short reason when ``exc`` is a resource error, else None."""
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        return _ERRNOS[exc.errno]
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return next((reason for marker, reason in _SQLITE.items() if marker in text), None)
    return None


def reason_in_text(message: str | None) -> str | None:
    """The resource error a worker's failure message reports (workers send reasons as
    text: "cannot read file: Too many open files"), else None."""
    if not message:
        return None
    return next((reason for code, reason in _ERRNOS.items()
                 if code != errno.ENOMEM and os.strerror(code) in message), None)


class Backoff:
    """Whether dispatching pauses, until when and why."""

    def __init__(self, clock=time.monotonic) -> None:  # noqa: ANN001 - a () -> float
        self.clock = clock
        self.reason: str | None = None
        self.since: float | None = None       # wall clock, for status
        self.until = 0.0
        self.hits = 0

    def hit(self, reason: str) -> float:
        """A resource error happened: pause; returns the delay."""
        if self.reason != reason:
            log.warning("pausing analysis: %s; retrying by itself", reason)
            self.since = self.since or time.time()
        self.reason = reason
        self.hits += 1
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (self.hits - 1))
        self.until = self.clock() + delay
        return delay

    def clear(self) -> bool:
        """Work succeeded: resume. True when a pause just ended."""
        if self.reason is None:
            return False
        log.info("resumed analysis after %s (%d retries)", self.reason, self.hits)
        self.reason, self.since, self.until, self.hits = None, None, 0.0, 0
        return True

    def wait(self) -> float:
        return max(0.0, self.until - self.clock()) if self.reason else 0.0

    def warning(self) -> str | None:
        if self.reason is None:
            return None
        return (f"analysis paused: {self.reason} (since {time.strftime('%H:%M:%S', time.localtime(self.since))},"
                f" next try in {self.wait():.0f} s); it resumes by itself once this clears")
