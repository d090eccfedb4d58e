"""The log of training runs: who asked (schedule, drift, new labels, you), what came of it,
and which labels it saw, so that nothing retrains twice on the same labels."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from djml.db import now

if TYPE_CHECKING:
    from djml.library import Library

# djml.models.labels.STRONG_SOURCES (importing it would import numpy; a test keeps them equal)
STRONG_SOURCES = ("user", "import")
_STRONG = ",".join(f"'{s}'" for s in STRONG_SOURCES)


def labels_state(conn: sqlite3.Connection, task: str) -> str:
    """A fingerprint of the task's labels that any new label, relabel or undo changes
    (count, newest id, newest undo): one indexed query, no model needed."""
    count, newest, undone = conn.execute(
        f"SELECT COUNT(*), MAX(id), MAX(undone_at) FROM labels WHERE task = ? AND source IN ({_STRONG})",
        (task,)).fetchone()
    return f"{count}:{newest or 0}:{undone or ''}"


def last_run(conn: sqlite3.Connection, task: str, reason_prefix: str | None = None) -> dict[str, Any] | None:
    sql = "SELECT * FROM training_runs WHERE task = ?"
    params: list[Any] = [task]
    if reason_prefix:
        sql += " AND reason LIKE ?"
        params.append(reason_prefix + "%")
    row = conn.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
    return _row(row) if row else None


def recent(conn: sqlite3.Connection, task: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    sql = "SELECT * FROM training_runs" + (" WHERE task = ?" if task else "") + " ORDER BY id DESC LIMIT ?"
    return [_row(r) for r in conn.execute(sql, (task, limit) if task else (limit,))]


def expected_seconds(conn: sqlite3.Connection, task: str) -> float | None:
    """How long the last finished training of the task took (the ETA of the next one)."""
    row = conn.execute("SELECT seconds FROM training_runs WHERE task = ? AND status IN ('activated', 'rejected')"
                       " ORDER BY id DESC LIMIT 1", (task,)).fetchone()
    return float(row[0]) if row and row[0] else None


def record(library: "Library", task: str, reason: str, result: dict[str, Any], state: str,
           seconds: float, clock: float, started_at: str) -> int:
    figures = {k: result[k] for k in ("holdout_accuracy", "n_holdout", "holdout_correct", "before_version",
                                       "compared_on", "before_correct", "after_correct", "p_worse", "error",
                                       "needed") if k in result}
    with library.transaction() as c:
        cursor = c.execute(
            "INSERT INTO training_runs (task, reason, status, version, labels_state, n_labels, seconds, data,"
            " clock, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task, reason, result.get("status", "failed"), result.get("version"), state,
             result.get("n_labels", result.get("labels")), round(seconds, 3), json.dumps(figures), clock,
             started_at, now()))
        return int(cursor.lastrowid)


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    d["data"] = json.loads(d["data"] or "{}")
    return d
