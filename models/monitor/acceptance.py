"""How the models' predictions fare with the user: accepted, corrected or left.

A prediction is *accepted* when the user's first label on the item (from the review queue,
`djml label`, a label import or a feedback import) is the predicted label, *corrected*
when it is another one, and *left* while the item has no label of theirs. The
``prediction_outcomes`` table is filled by a trigger on ``labels`` (migration 0006), so no
labelling path can forget to count; an undone label stops counting.

Recommendations count separately: an accepted suggestion is a pick, every suggestion
ranked above it a skip (djml.recommend.accept_feedback).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from djml.models.figures import wilson
from djml.models.monitor.runs import STRONG_SOURCES
from djml.models.monitor.versions import short_name

WINDOW_DAYS = 30
TARGET = {"bucket": 0.8}   # the auto-bucket plan: >= 80 % accepted once a user has 50 labels
TARGET_LABELS = 50


def rate(accepted: int, corrected: int) -> dict[str, Any]:
    """Accepted of decided, with the 95 % Wilson interval (None rate when nothing decided)."""
    n = accepted + corrected
    lo, hi = wilson(accepted, n)
    return {"accepted": accepted, "corrected": corrected, "n": n,
            "rate": accepted / n if n else None, "low": lo if n else None, "high": hi if n else None}


def cutoff(days: int = WINDOW_DAYS, now: datetime | None = None) -> str:
    """The *_at text of ``days`` ago (timestamps are sortable UTC text, djml.db.now)."""
    moment = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    return moment.isoformat(timespec="milliseconds")


def _counts(conn: sqlite3.Connection, where: str, params: tuple) -> tuple[int, int]:
    accepted, corrected = conn.execute(
        "SELECT COALESCE(SUM(accepted), 0), COALESCE(SUM(1 - accepted), 0) FROM prediction_outcomes"
        f" WHERE undone_at IS NULL AND {where}", params).fetchone()
    return int(accepted), int(corrected)


def left(conn: sqlite3.Connection, task: str, version: str) -> int:
    """Predictions of ``version`` on items that have no label of the user's yet."""
    marks = ",".join("?" * len(STRONG_SOURCES))
    return conn.execute(
        "SELECT COUNT(*) FROM predictions p WHERE p.task = ? AND p.model_version = ? AND NOT EXISTS"
        " (SELECT 1 FROM labels l WHERE l.item_id = p.item_id AND l.task = p.task AND l.undone_at IS NULL"
        f" AND l.source IN ({marks}))", (task, version, *STRONG_SOURCES)).fetchone()[0]


def by_version(conn: sqlite3.Connection, task: str) -> dict[str, dict[str, Any]]:
    """version -> accepted/corrected rate over everything that version predicted."""
    rows = conn.execute(
        "SELECT model_version, SUM(accepted), SUM(1 - accepted) FROM prediction_outcomes"
        " WHERE task = ? AND undone_at IS NULL GROUP BY model_version", (task,))
    return {r[0]: rate(int(r[1]), int(r[2])) for r in rows}


def task_stats(conn: sqlite3.Connection, task: str, since: str | None = None) -> dict[str, Any]:
    """Acceptance of one task: since the active version was activated (the outcomes of its
    own predictions) and over the last 30 days (any version), per label source, open."""
    since = since or cutoff()
    active = conn.execute("SELECT version FROM models WHERE task = ? AND active = 1", (task,)).fetchone()
    version = active[0] if active else None
    sources = {src: rate(*_counts(conn, "task = ? AND source = ? AND created_at >= ?", (task, src, since)))
               for src in STRONG_SOURCES}
    labels = conn.execute(
        f"SELECT COUNT(*) FROM labels WHERE task = ? AND undone_at IS NULL AND source IN"
        f" ({','.join('?' * len(STRONG_SOURCES))})", (task, *STRONG_SOURCES)).fetchone()[0]
    out: dict[str, Any] = {
        "task": task, "active_version": version,
        "active_name": short_name(conn, task, version) if version else None,
        "since_activation": rate(*_counts(conn, "model_version = ?", (version,))) if version else rate(0, 0),
        "last_30_days": rate(*_counts(conn, "task = ? AND created_at >= ?", (task, since))),
        "by_source_30_days": sources,
        "left": left(conn, task, version) if version else 0,
        "labels": labels,
    }
    if task in TARGET:
        out["target"] = {"rate": TARGET[task], "labels": TARGET_LABELS}
    return out


def recommend_stats(conn: sqlite3.Connection, since: str | None = None) -> dict[str, Any]:
    """Suggestions taken vs skipped (skips = suggestions ranked above the one taken)."""
    since = since or cutoff()

    def count(event: str, after: str) -> int:
        return conn.execute("SELECT COUNT(*) FROM feedback WHERE event = ? AND created_at >= ?",
                            (event, after)).fetchone()[0]

    out = {}
    for name, after in (("all_time", ""), ("last_30_days", since)):
        taken, skipped = count("recommend_accepted", after), count("recommend_skipped", after)
        out[name] = {**rate(taken, skipped), "taken": taken, "skipped": skipped}
    return out


def stats(conn: sqlite3.Connection, task: str | None = None) -> dict[str, Any]:
    """`djml models stats`: every task that has a model or outcomes (or the one asked for)."""
    if task:
        tasks = [task]
    else:
        tasks = sorted({r[0] for r in conn.execute(
            "SELECT task FROM models UNION SELECT task FROM prediction_outcomes")})
    out: dict[str, Any] = {"window_days": WINDOW_DAYS, "tasks": [task_stats(conn, t) for t in tasks]}
    if task is None:
        out["recommend"] = recommend_stats(conn)
    return out
