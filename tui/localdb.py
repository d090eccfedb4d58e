"""Two facts the protocol does not carry yet, read from the library read-only: labels
made today (review header) and the labels in use for genre and mood (label choices).

Read-only (``mode=ro``) with WAL, so it never blocks or changes the daemon's writes; if
the database is not there yet the answers are simply empty.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path


def _connect(db_path: Path) -> sqlite3.Connection | None:
    if not db_path.exists():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def labelled_today(db_path: Path, now: datetime | None = None) -> int:
    """User labels (not undone) set since local midnight."""
    conn = _connect(db_path)
    if conn is None:
        return 0
    local = (now or datetime.now().astimezone())
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    since = midnight.isoformat(timespec="milliseconds")
    try:
        return conn.execute(
            "SELECT COUNT(*) FROM labels WHERE source = 'user' AND undone_at IS NULL AND created_at >= ?",
            (since,)).fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def task_labels(db_path: Path, task: str, limit: int = 9) -> list[str]:
    """Labels the user already uses for ``task`` (genre, mood…), most used first."""
    conn = _connect(db_path)
    if conn is None:
        return []
    try:
        return [r[0] for r in conn.execute(
            "SELECT label FROM labels WHERE task = ? AND undone_at IS NULL GROUP BY label"
            " ORDER BY COUNT(*) DESC, label LIMIT ?", (task, limit))]
    except sqlite3.Error:
        return []
    finally:
        conn.close()
