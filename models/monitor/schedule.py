"""What the daemon's monitor should do now: drift checks and retrainings that are due.

Asked every ``monitor_seconds`` (default 5 minutes) by an idle daemon, so it is a handful
of indexed SQL counts per task and nothing else: no numpy, no model loaded. A training is
due, with its reason, when the task has an active model, labels of the user's that no run
has seen yet (never twice on the same labels), it is not in ``quiet_hours``, and

- ``retrain_schedule`` has come round (weekly by default) and there are new labels, or
- the last drift check of the active version found drift and no run followed it, or
- ``retrain_after`` new labels arrived (the label hook retrains at once; this catches
  labels written while no daemon ran, e.g. a CSV import).

A drift check is due when the active version has a snapshot, ``CHECK_EVERY`` (a week) has
passed since the task's last check (or there was none), and at least ``MIN_ITEMS`` items
arrived since the last compared one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from djml.cron import in_quiet_hours, parse_quiet_hours, parse_schedule
from djml.models.monitor import drift, runs

if TYPE_CHECKING:
    from djml.config import Config

MIN_LABELS = 10   # djml.models.service.MIN_LABELS: below it training is refused anyway


@dataclass(frozen=True)
class Work:
    task: str
    kind: str      # "drift" | "train"
    reason: str


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _new_labels(conn: sqlite3.Connection, task: str, model_created: str, last: dict | None) -> int:
    """Labels of the user's newer than the last run saw (by label id: timestamps share
    milliseconds), or, before any run, newer than the active model."""
    marks = ",".join("?" * len(runs.STRONG_SOURCES))
    sql = f"SELECT COUNT(*) FROM labels WHERE task = ? AND undone_at IS NULL AND source IN ({marks})"
    if last is not None:
        seen = int(last["labels_state"].split(":")[1])
        return conn.execute(sql + " AND id > ?", (task, *runs.STRONG_SOURCES, seen)).fetchone()[0]
    return conn.execute(sql + " AND created_at > ?", (task, *runs.STRONG_SOURCES, model_created)).fetchone()[0]


def drift_due(conn: sqlite3.Connection, task: str, version: str, now: float) -> bool:
    last = conn.execute("SELECT clock FROM drift_checks WHERE task = ? ORDER BY id DESC LIMIT 1", (task,)).fetchone()
    if last is not None and now - last[0] < drift.CHECK_EVERY:
        return False
    snap = conn.execute("SELECT json_extract(snapshot, '$.last_item'), json_extract(snapshot, '$.kind')"
                        " FROM model_snapshots WHERE version = ?", (version,)).fetchone()
    if snap is None:
        return False
    seen = conn.execute("SELECT MAX(last_item) FROM drift_checks WHERE task = ? AND version = ?",
                        (task, version)).fetchone()[0]
    after = max(int(snap[0] or 0), int(seen or 0))
    fresh = conn.execute("SELECT COUNT(*) FROM items i JOIN analyses a ON a.item_id = i.id"
                         " WHERE i.kind = ? AND i.id > ?", (snap[1], after)).fetchone()[0]
    return fresh >= drift.MIN_ITEMS


def train_reason(conn: sqlite3.Connection, config: "Config", task: str, model_created: str,
                 now: float) -> str | None:
    """Why ``task`` should retrain now, or None."""
    state = runs.labels_state(conn, task)
    last = runs.last_run(conn, task)
    if last is not None and last["labels_state"] == state:
        return None   # every run so far saw exactly these labels
    if int(state.split(":", 1)[0]) < MIN_LABELS:
        return None
    fresh = _new_labels(conn, task, model_created, last)
    if fresh == 0:
        return None   # only undos since: wait for a label to learn from
    reasons = []
    schedule = parse_schedule(config.retrain_schedule)
    scheduled = runs.last_run(conn, task, "schedule")
    if fresh and schedule.due(scheduled["clock"] if scheduled else _epoch(model_created), now):
        reasons.append(f"schedule {schedule.text}: {fresh} new label(s)")
    check = drift.last_check(conn, task)
    if check is not None and check["drifted"] and (last is None or check["clock"] > last["clock"]):
        reasons.append(f"drift: {', '.join(check['data'].get('labels') or check['features'])}")
    if fresh >= config.retrain_after:
        reasons.append(f"labels: {fresh} new since the last training")
    return "; ".join(reasons) or None


def due(conn: sqlite3.Connection, config: "Config", now: float, busy: set[str] | frozenset = frozenset()
        ) -> list[Work]:
    """Everything due now (drift checks first: a drift found now may be a reason to train)."""
    work: list[Work] = []
    quiet = in_quiet_hours(parse_quiet_hours(config.quiet_hours), now)
    for task, version, created in conn.execute(
            "SELECT task, version, created_at FROM models WHERE active = 1 ORDER BY task").fetchall():
        if drift_due(conn, task, version, now):
            work.append(Work(task, "drift", "weekly drift check"))
        if task in busy or quiet:
            continue
        reason = train_reason(conn, config, task, created, now)
        if reason:
            work.append(Work(task, "train", reason))
    return work
