"""Read-only questions about the library (`djml ls`, `djml show`, the daemon's query method).

Pure SQL over a connection; imports nothing heavy so that CLI one-shots stay fast. The
daemon answers the same questions with the same functions, so the CLI output is identical
whether or not a daemon runs.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from djml import keys

# The label a listing shows: the user's label for the kind's main task, else the model's.
_MAIN_TASK = "CASE i.kind WHEN 'track' THEN 'bucket' ELSE 'sample_type' END"

_ITEM_COLUMNS = f"""
    i.id, i.kind, i.artist, i.title, i.album, i.genre, i.year, i.duration,
    a.bpm, a.bpm_confidence, a.bpm_ambiguous, a.key, a.key_confidence, a.energy, a.loudness,
    a.sample_type, json_extract(a.data, '$.note') AS note,
    (SELECT l.path FROM locations l WHERE l.item_id = i.id
      ORDER BY l.status = 'ok' DESC, l.id LIMIT 1) AS path,
    (SELECT COUNT(*) FROM locations l WHERE l.item_id = i.id AND l.status = 'ok') AS present,
    (SELECT lb.label FROM labels lb WHERE lb.item_id = i.id AND lb.task = {_MAIN_TASK}
      AND lb.undone_at IS NULL ORDER BY lb.id DESC LIMIT 1) AS user_label,
    (SELECT p.label FROM predictions p WHERE p.item_id = i.id AND p.task = {_MAIN_TASK}) AS predicted_label,
    (SELECT p.confidence FROM predictions p WHERE p.item_id = i.id AND p.task = {_MAIN_TASK}) AS predicted_confidence
"""


@dataclass
class Filters:
    kind: str | None = None
    bpm: tuple[float, float] | None = None
    key: int | None = None
    genre: str | None = None
    label: str | None = None
    search: str | None = None
    missing: bool = False
    limit: int | None = None
    offset: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Filters":
        """Build from a protocol/CLI dict, validating types (raises ValueError)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and data[k] is not None}
        if "bpm" in known:
            known["bpm"] = parse_bpm_range(known["bpm"]) if isinstance(known["bpm"], str) else tuple(known["bpm"])
        if "key" in known and isinstance(known["key"], str):
            known["key"] = keys.parse(known["key"])
        return cls(**known)


def parse_bpm_range(text: str) -> tuple[float, float]:
    """'120-128' → (120, 128); '124' → (124, 124). Raises ValueError with the input."""
    try:
        if "-" in text.strip()[1:]:
            low, high = text.split("-", 1)
            lo, hi = float(low), float(high)
        else:
            lo = hi = float(text)
    except ValueError:
        raise ValueError(f"BPM range must look like 120-128, got {text!r}") from None
    if lo > hi:
        lo, hi = hi, lo
    return lo, hi


def list_items(conn: sqlite3.Connection, filters: Filters) -> list[dict[str, Any]]:
    where, params = [], []
    if filters.kind:
        where.append("i.kind = ?")
        params.append(filters.kind)
    if filters.bpm:
        where.append("a.bpm BETWEEN ? AND ?")
        params.extend(filters.bpm)
    if filters.key is not None:
        where.append("a.camelot = ?")
        params.append(keys.camelot(filters.key))
    if filters.genre:
        where.append("i.genre LIKE ?")
        params.append(f"%{filters.genre}%")
    if filters.search:
        where.append("i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        params.append(fts_query(filters.search))
    if filters.missing:
        where.append("NOT EXISTS (SELECT 1 FROM locations l WHERE l.item_id = i.id AND l.status = 'ok')")
    sql = f"SELECT {_ITEM_COLUMNS} FROM items i LEFT JOIN analyses a ON a.item_id = i.id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if filters.label:
        sql = f"SELECT * FROM ({sql}) WHERE COALESCE(user_label, predicted_label) = ?"
        params.append(filters.label)
    sql += " ORDER BY id" if filters.label else " ORDER BY i.id"
    if filters.limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([filters.limit, filters.offset])
    return [item_row(row) for row in conn.execute(sql, params)]


def item_row(row: sqlite3.Row) -> dict[str, Any]:
    """One listing row as a JSON-friendly dict with keys rendered in every notation."""
    d = dict(row)
    key = d.pop("key")
    d.update(keys.render_all(key) if key is not None else {"key": None, "key_id3": None, "camelot": None, "open_key": None})
    d["bpm_ambiguous"] = bool(d["bpm_ambiguous"]) if d["bpm_ambiguous"] is not None else None
    d["missing"] = d.pop("present") == 0
    d["label"] = d["user_label"] or d["predicted_label"]
    return d


def list_failed(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id AS location_id, item_id AS id, path, error, last_seen FROM locations"
        " WHERE status = 'failed' ORDER BY path"
    )
    return [dict(r) for r in rows]


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: every word must match (prefix match on the
    last one, so 'daft pun' finds 'Daft Punk'). Quotes keep user input from being parsed
    as FTS syntax."""
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    if not words:
        raise ValueError("empty search")
    parts = [f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}"*']
    return " ".join(parts)


def resolve_item(conn: sqlite3.Connection, ref: str | int) -> int | None:
    """An item id from an id, a path (any known location) or free text ("artist - title")."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        row = conn.execute("SELECT id FROM items WHERE id = ?", (int(ref),)).fetchone()
        if row:
            return row[0]
    text = str(ref)
    candidates = {text, str(Path(text).expanduser().absolute())}
    try:
        candidates.add(str(Path(text).expanduser().resolve()))
    except OSError:
        pass
    for candidate in candidates:
        row = conn.execute(
            "SELECT item_id FROM locations WHERE path = ? AND item_id IS NOT NULL", (candidate,)
        ).fetchone()
        if row:
            return row[0]
    try:
        query = fts_query(text.replace(" - ", " "))
    except ValueError:
        return None
    row = conn.execute(
        "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY rank LIMIT 1", (query,)
    ).fetchone()
    return row[0] if row else None


def show_item(conn: sqlite3.Connection, item_id: int) -> dict[str, Any] | None:
    """Every stored fact about one item."""
    row = conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM items i LEFT JOIN analyses a ON a.item_id = i.id WHERE i.id = ?",
        (item_id,),
    ).fetchone()
    if row is None:
        return None
    result = item_row(row)
    item = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
    result["item"] = dict(item)
    result["locations"] = [
        dict(r) for r in conn.execute(
            "SELECT path, status, error, size, mtime_ns, first_seen, last_seen FROM locations"
            " WHERE item_id = ? ORDER BY id", (item_id,))
    ]
    analysis = conn.execute("SELECT * FROM analyses WHERE item_id = ?", (item_id,)).fetchone()
    if analysis is not None:
        a = dict(analysis)
        a["data"] = json.loads(a["data"])
        result["analysis"] = a
    result["labels"] = [
        dict(r) for r in conn.execute(
            "SELECT task, label, source, created_at, undone_at FROM labels WHERE item_id = ?"
            " ORDER BY id", (item_id,))
    ]
    result["predictions"] = [
        {**dict(r), "top": json.loads(r["top"])} for r in conn.execute(
            "SELECT task, label, confidence, top, unsure, model_version, predicted_at"
            " FROM predictions WHERE item_id = ? ORDER BY task", (item_id,))
    ]
    result["vectors"] = [
        dict(r) for r in conn.execute(
            "SELECT space, dim, source, created_at FROM vectors WHERE item_id = ? ORDER BY space", (item_id,))
    ]
    result["sets"] = [
        dict(r) for r in conn.execute(
            "SELECT s.name, e.position FROM set_entries e JOIN sets s ON s.id = e.set_id"
            " WHERE e.item_id = ? ORDER BY s.id", (item_id,))
    ]
    result["feedback_events"] = conn.execute(
        "SELECT COUNT(*) FROM feedback WHERE item_id = ? OR other_item_id = ?", (item_id, item_id)
    ).fetchone()[0]
    return result


def library_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Headline numbers for `djml status`."""
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "tracks": one("SELECT COUNT(*) FROM items WHERE kind = 'track'"),
        "samples": one("SELECT COUNT(*) FROM items WHERE kind = 'sample'"),
        "missing": one(
            "SELECT COUNT(*) FROM items i WHERE NOT EXISTS"
            " (SELECT 1 FROM locations l WHERE l.item_id = i.id AND l.status = 'ok')"),
        "failed": one("SELECT COUNT(*) FROM locations WHERE status = 'failed'"),
        "labels": one("SELECT COUNT(*) FROM labels WHERE undone_at IS NULL"),
        "queued_jobs": one("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"),
    }
