"""Labelling and undoing a label: the one implementation behind `djml label`/`unlabel`,
the TUI's review keys and the daemon's ``label.set``/``label.undo``.

Rules every caller gets the same way:
- a reference must name one item: an id, a known path, or words that match exactly one
  item (or one item's whole name) — a label never lands on a guess among several;
- a bucket must exist (configured, or created earlier) unless ``create`` is asked for, so
  a typo does not quietly become a new bucket; sample classes come from the fixed list;
- labelling an item with the label it already has writes nothing; undo marks the newest
  label undone (history is kept) and says which label is now in force.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from djml import buckets, query
from djml.errors import ActionError
from djml.tasks import KIND_OF_TASK, MAIN_TASK, SAMPLE_CLASSES, clean_label, task_name

if TYPE_CHECKING:
    from djml.config import Config
    from djml.library import Library


def target(conn: sqlite3.Connection, ref: str | int) -> query.Resolved:
    """The one item ``ref`` names, or an ActionError that lists the candidates."""
    found = query.resolve(conn, ref)
    if found.item_id is None:
        raise ActionError("not_found", f"no item matches {ref!r} (try `djml ls --search WORDS`)")
    if found.ambiguous:
        listed = "; ".join(f"#{o['id']} {o['name']}" for o in [{"id": found.item_id, "name": found.name},
                                                                 *found.others[:4]])
        raise ActionError("invalid_params", f"{found.matches} items match {ref!r}: {listed}"
                                            f"{' …' if found.matches > 5 else ''}. Give the id or more words.")
    return found


def item_task(conn: sqlite3.Connection, item_id: int, task: str | None) -> str:
    """The task to label: the one asked for (checked against the item's kind) or the
    kind's main task (bucket for tracks, sample class for samples)."""
    row = conn.execute("SELECT kind FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise ActionError("not_found", f"no item {item_id}")
    kind = row[0]
    if task is None:
        return MAIN_TASK[kind]
    try:
        name = task_name(task)
    except ValueError as exc:
        raise ActionError("invalid_params", str(exc)) from None
    if KIND_OF_TASK[name] != kind:
        raise ActionError("invalid_params", f"#{item_id} is a {kind}; {name} labels are for {KIND_OF_TASK[name]}s")
    return name


def check_label(conn: sqlite3.Connection, config: "Config", task: str, label: str, *, create: bool = False) -> str:
    """The label as stored, or an ActionError saying what is wrong with it."""
    if task == "bucket":
        name = buckets.check_name(label)
        return name if create else buckets.require_known(conn, config, name)
    text = clean_label(label)
    if task == "sample_type":
        text = text.lower()
        if text not in SAMPLE_CLASSES:
            raise ActionError("invalid_params",
                              f"unknown sample class {text!r} (choose from {', '.join(SAMPLE_CLASSES)})")
    return text


def current(conn: sqlite3.Connection, item_id: int, task: str) -> tuple[str, str] | None:
    """(label, source) in force for the item and task, if any."""
    row = conn.execute(
        "SELECT label, source FROM labels WHERE item_id = ? AND task = ? AND undone_at IS NULL"
        " ORDER BY id DESC LIMIT 1", (item_id, task)).fetchone()
    return (row[0], row[1]) if row else None


def set_label(library: "Library", config: "Config", ref: str | int, label: str, task: str | None = None,
              *, create: bool = False) -> dict[str, Any]:
    """Label one item (see the module docstring); returns what was done."""
    found = target(library.conn, ref)
    task = item_task(library.conn, found.item_id, task)
    label = check_label(library.conn, config, task, label, create=create)
    before = current(library.conn, found.item_id, task)
    result = {"item_id": found.item_id, "name": found.name, "task": task, "label": label,
              "previous": before[0] if before else None}
    if before is not None and before == (label, "user"):
        return {**result, "changed": False, "label_id": None}
    new_bucket = task == "bucket" and label not in buckets.names(library.conn, config)
    label_id = library.set_label(found.item_id, task, label)
    return {**result, "changed": True, "label_id": label_id, "created_bucket": new_bucket}


def undo_label(library: "Library", config: "Config", ref: str | int, task: str | None = None) -> dict[str, Any]:
    """Undo the newest label of one item (any source: yours, an import, a folder name)."""
    found = target(library.conn, ref)
    task = item_task(library.conn, found.item_id, task)
    before = current(library.conn, found.item_id, task)
    if before is None:
        raise ActionError("not_found", f"#{found.item_id} {found.name} has no {task} label to undo")
    now_label = library.undo_label(found.item_id, task)
    return {"item_id": found.item_id, "name": found.name, "task": task, "undone": before[0],
            "undone_source": before[1], "label": now_label}


def choices(conn: sqlite3.Connection, task: str, limit: int = 9) -> list[str]:
    """Labels in force for ``task`` (genre, mood…), most used first: the TUI offers them
    on its number keys for the open-ended tasks."""
    try:
        name = task_name(task)
    except ValueError as exc:
        raise ActionError("invalid_params", str(exc)) from None
    if not 1 <= limit <= 100:
        raise ActionError("invalid_params", "limit must be 1..100")
    return [r[0] for r in conn.execute(
        "SELECT label FROM labels WHERE task = ? AND undone_at IS NULL GROUP BY label"
        " ORDER BY COUNT(*) DESC, label LIMIT ?", (name, limit))]


def count_since(conn: sqlite3.Connection, since: str, source: str = "user") -> int:
    """Labels from ``source`` (not undone) made at or after ``since`` (ISO 8601; the
    client sends its own local midnight, as only it knows the user's day)."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise ActionError("invalid_params", f"since must be an ISO 8601 time, got {since!r}") from None
    if moment.tzinfo is None:
        raise ActionError("invalid_params", "since needs a time zone (e.g. 2026-12-01T00:00:00+01:00)")
    stamp = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return conn.execute(
        "SELECT COUNT(*) FROM labels WHERE source = ? AND undone_at IS NULL AND created_at >= ?",
        (source, stamp)).fetchone()[0]
