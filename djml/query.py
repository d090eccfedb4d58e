"""Read-only questions about the library (`djml ls`, `djml show`, the daemon's query method).

Pure SQL over a connection; imports nothing heavy so that CLI one-shots stay fast. The
daemon answers the same questions with the same functions, so the CLI output is identical
whether or not a daemon runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from djml import compat, keys

# The label a listing shows: the user's label for the kind's main task, else the model's.
_MAIN_TASK = "CASE i.kind WHEN 'track' THEN 'bucket' ELSE 'sample_type' END"

_PATH = """(SELECT l.path FROM locations l WHERE l.item_id = i.id
      ORDER BY l.status = 'ok' DESC, l.id LIMIT 1) AS path"""
_CURRENT_LABEL = f"""(SELECT lb.{{column}} FROM labels lb WHERE lb.item_id = i.id AND lb.task = {_MAIN_TASK}
      AND lb.undone_at IS NULL ORDER BY lb.id DESC LIMIT 1)"""
_LABELS = f"""{_CURRENT_LABEL.format(column="label")} AS current_label,
    (SELECT p.label FROM predictions p WHERE p.item_id = i.id AND p.task = {_MAIN_TASK}) AS predicted_label,
    (SELECT p.confidence FROM predictions p WHERE p.item_id = i.id AND p.task = {_MAIN_TASK}) AS predicted_confidence"""
# Label sources a listing treats as the user's own: what they labelled or imported, and
# the names they gave their sample folders ("Kicks/"); model output is only a guess.
OWN_SOURCES = ("user", "import", "folder")
# (a note is a sample's: a track's analysis JSON, with its cue points, is not parsed for it)
_ITEM_COLUMNS = f"""
    i.id, i.kind, i.artist, i.title, i.album, i.genre, i.year, i.duration, i.created_at AS added,
    a.bpm, a.bpm_confidence, a.bpm_ambiguous, a.key, a.key_confidence, a.energy, a.loudness,
    a.sample_type, CASE WHEN i.kind = 'sample' THEN json_extract(a.data, '$.note') END AS note,
    json_extract(a.data, '$.lufs') AS lufs, json_extract(a.data, '$.lra') AS lra,
    json_extract(a.data, '$.true_peak_db') AS true_peak_db, {_PATH},
    (SELECT COUNT(*) FROM locations l WHERE l.item_id = i.id AND l.status = 'ok') AS present,
    {_LABELS}, {_CURRENT_LABEL.format(column="source")} AS label_source
"""
# What filtering and sorting read: cheap columns, plus a subquery only when needed.
_ORDER_COLUMNS = "i.id, i.kind, i.artist, i.title, i.genre, i.created_at AS added, a.bpm, a.key, a.energy"


# Sort orders: name -> SQL expressions over a listing row's columns (see _ITEM_COLUMNS).
# Text compares case-insensitively (ASCII, as SQLite's NOCASE) and blanks count as NULL;
# keys go round the Camelot wheel (1A, 1B, 2A, …) so harmonic neighbours sit together.
_NOCASE = " COLLATE NOCASE"
_BASENAME = "replace(path, rtrim(path, replace(path, '/', '')), '')"
_NAME = ("NULLIF(CASE WHEN NULLIF(artist, '') IS NOT NULL AND NULLIF(title, '') IS NOT NULL"
         " THEN artist || ' – ' || title"
         f" ELSE COALESCE(NULLIF(artist, ''), NULLIF(title, ''), {_BASENAME}) END, '')")
_CAMELOT_ORDER = "((7 * (key % 12 + 3 * (key >= 12)) + 7) % 12 + 1) * 2 + (key < 12)"
SORT_SQL: dict[str, tuple[str, ...]] = {
    "id": (),
    "added": ("added",),
    "kind": ("kind",),
    "name": (f"({_NAME}){_NOCASE}",),
    "artist": (f"NULLIF(artist, ''){_NOCASE}", f"NULLIF(title, ''){_NOCASE}"),
    "title": (f"NULLIF(title, ''){_NOCASE}",),
    "bpm": ("bpm",),
    "key": (_CAMELOT_ORDER,),
    "energy": ("energy",),
    "label": (f"COALESCE(NULLIF(current_label, ''), NULLIF(predicted_label, '')){_NOCASE}",),
    "genre": (f"NULLIF(genre, ''){_NOCASE}",),
}
SORTS = tuple(SORT_SQL)


@dataclass
class Filters:
    kind: str | None = None
    bpm: tuple[float, float] | None = None
    energy: tuple[float, float] | None = None
    key: int | None = None
    mixable: bool = False   # with key: also every key that mixes with it (compat.RELAXED)
    genre: str | None = None
    label: str | None = None
    # model guesses count for ``label`` (filter) at this confidence or more; None = the
    # user's labels only (exports and tag writes, unless asked with --predicted)
    predicted: float | None = 0.0
    search: str | None = None
    missing: bool = False
    limit: int | None = None
    offset: int = 0
    sort: str = "id"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORT_SQL:
            raise ValueError(f"unknown sort {self.sort!r}: choose one of {', '.join(SORTS)}")
        if not isinstance(self.descending, bool):
            raise ValueError(f"descending must be true or false, got {self.descending!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Filters":
        """Build from a protocol/CLI dict, validating types (raises ValueError)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and data[k] is not None}
        if "predicted" in data:   # None is a value here: the user's labels only
            known["predicted"] = data["predicted"]
        if "bpm" in known:
            known["bpm"] = parse_bpm_range(known["bpm"]) if isinstance(known["bpm"], str) else tuple(known["bpm"])
        if "energy" in known:
            known["energy"] = (parse_energy_range(known["energy"]) if isinstance(known["energy"], str)
                               else tuple(known["energy"]))
        if "key" in known and isinstance(known["key"], str):
            text = known["key"].strip()
            if text.endswith("~"):   # "8A~": 8A and the keys that mix with it
                known["mixable"], text = True, text[:-1]
            known["key"] = keys.parse(text)
        return cls(**known)


def parse_bpm_range(text: str) -> tuple[float, float]:
    """What the user typed → the stored BPMs that match what they see.

    Listings show one decimal (127.99 reads "128.0"), so a range's ends widen by that
    rounding: '120-128' → (119.95, 128.05). A single whole number means that tempo as a DJ
    says it, ±0.5: '128' → (127.5, 128.5); a single '128.5' → (128.45, 128.55).
    Raises ValueError with the input."""
    return _number_range(text, "BPM", "120-128", display_step=0.1)


def parse_energy_range(text: str) -> tuple[float, float]:
    """Energy is shown as a whole number (0–10): '7' → (6.5, 7.5), '6-8' → (5.5, 8.5)."""
    return _number_range(text, "energy", "6-8", display_step=1.0)


def _number_range(text: str, what: str, example: str, display_step: float) -> tuple[float, float]:
    raw = text.strip()
    try:
        low, dash, high = raw[1:].partition("-")  # raw[0] may be a minus sign
        if dash:
            lo, hi = float(raw[0] + low), float(high)
            if lo > hi:
                lo, hi = hi, lo
            half = display_step / 2
        else:
            lo = hi = float(raw)
            decimals = len(raw.split(".", 1)[1]) if "." in raw else 0
            half = max(0.5 * 10 ** -decimals, display_step / 2)
    except (ValueError, IndexError):  # IndexError: empty text
        raise ValueError(f"{what} must be a number or a range like {example}, got {text!r}") from None
    if lo != lo or hi != hi or abs(lo) == float("inf") or abs(hi) == float("inf"):
        raise ValueError(f"{what} must be a number or a range like {example}, got {text!r}")
    return round(lo - half, 6), round(hi + half, 6)


FIRST_PAGE, PAGE = 100, 2000
MAX_PAGE = 5000   # the largest page one `query` request may ask the daemon for


def list_items(conn: sqlite3.Connection, filters: Filters) -> list[dict[str, Any]]:
    return rows_by_id(conn, matching_ids(conn, filters))


def iter_items(conn: sqlite3.Connection, filters: Filters) -> Iterator[dict[str, Any]]:
    """:func:`list_items` as a stream: the ids first (one query), then full rows page by
    page, the first page small, so `djml ls` prints its first row before a big answer is
    built (and never holds all of it)."""
    ids = matching_ids(conn, filters)
    start, size = 0, FIRST_PAGE
    while start < len(ids):
        yield from rows_by_id(conn, ids[start:start + size])
        start, size = start + size, PAGE


def matching_ids(conn: sqlite3.Connection, filters: Filters) -> list[int]:
    """The ids of the items ``filters`` selects, in its order and page."""
    where, params = [], []
    if filters.kind:
        where.append("i.kind = ?")
        params.append(filters.kind)
    if filters.bpm:
        where.append("a.bpm BETWEEN ? AND ?")
        params.extend(filters.bpm)
    if filters.energy:
        where.append("a.energy BETWEEN ? AND ?")
        params.extend(filters.energy)
    if filters.key is not None:
        wanted = compat.compatible_keys(filters.key, compat.RELAXED) if filters.mixable else [filters.key]
        where.append(f"a.camelot IN ({', '.join('?' * len(wanted))})")
        params.extend(keys.camelot(k) for k in wanted)
    if filters.genre:
        where.append("i.genre LIKE ?")
        params.append(f"%{filters.genre}%")
    if filters.search:
        where.append("i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        params.append(fts_query(filters.search))
    if filters.missing:
        where.append("NOT EXISTS (SELECT 1 FROM locations l WHERE l.item_id = i.id AND l.status = 'ok')")
    columns = _ORDER_COLUMNS
    if filters.sort == "name":
        columns += f", {_PATH}"
    if filters.sort == "label" or filters.label:
        columns += f", {_LABELS}"
    sql = f"SELECT {columns} FROM items i LEFT JOIN analyses a ON a.item_id = i.id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql = f"SELECT id FROM ({sql})"  # the outer query sees the columns by name
    if filters.label:
        if filters.predicted is None:   # only the user's own labels
            sql += " WHERE current_label = ?"
        else:
            sql += " WHERE COALESCE(current_label, CASE WHEN predicted_confidence >= ? THEN predicted_label END) = ?"
            params.append(filters.predicted)
        params.append(filters.label)
    sql += " ORDER BY " + order_by(filters.sort, filters.descending)
    if filters.limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([filters.limit, filters.offset])
    return [row[0] for row in conn.execute(sql, params)]


def rows_by_id(conn: sqlite3.Connection, ids: list[int]) -> list[dict[str, Any]]:
    """Full listing rows for ``ids``, in that order. Why two steps: the per-row subqueries
    (path, labels, predictions) then run for one page, not for every row the sort has to
    look at — a sorted page of a big library would otherwise cost the whole library."""
    if not ids:
        return []
    rows = conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM items i LEFT JOIN analyses a ON a.item_id = i.id"
        " WHERE i.id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))
    by_id = {row["id"]: item_row(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def order_by(sort: str, descending: bool = False) -> str:
    """The ORDER BY clause for a sort: NULLs last in both directions, ties broken by id
    (so limit/offset pages never overlap or skip rows)."""
    direction = " DESC" if descending else ""
    terms = [f"{expr}{direction} NULLS LAST" for expr in SORT_SQL[sort]]
    return ", ".join([*terms, f"id{direction}"])


def item_row(row: sqlite3.Row) -> dict[str, Any]:
    """One listing row as a JSON-friendly dict with keys rendered in every notation."""
    d = dict(row)
    key = d.pop("key")
    d.update(keys.render_all(key) if key is not None else {"key": None, "key_id3": None, "camelot": None, "open_key": None})
    d["bpm_ambiguous"] = bool(d["bpm_ambiguous"]) if d["bpm_ambiguous"] is not None else None
    d["missing"] = d.pop("present") == 0
    current, source = d.pop("current_label"), d.get("label_source")
    d["user_label"] = current if source in ("user", "import") else None
    d["folder_label"] = current if source == "folder" else None
    if current is None and d["predicted_label"] is not None:
        d["label_source"] = "model"
    d["label"] = current or d["predicted_label"]
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


@dataclass
class Resolved:
    """How a reference (id, path or words) found its item, and what else it could mean.

    ``matches`` counts every item the words match (1 for an id or a path); ``others`` are
    the next best of them (id and display name), so a caller can say "3 items match
    'night bus'; using #4 …; the others: #9 …" instead of silently picking one.
    ``exact`` is true when the words equal the item's "artist - title", title or file name,
    which settles an otherwise ambiguous match."""

    item_id: int | None
    how: str | None = None           # "id" | "path" | "text"
    matches: int = 0
    exact: bool = False
    name: str | None = None
    others: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ambiguous(self) -> bool:
        return self.how == "text" and self.matches > 1 and not self.exact

    def as_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "how": self.how, "matches": self.matches, "exact": self.exact,
                "name": self.name, "others": self.others}


def resolve_item(conn: sqlite3.Connection, ref: str | int) -> int | None:
    """An item id from an id, a path (any known location) or free text ("artist - title")."""
    return resolve(conn, ref).item_id


def resolve(conn: sqlite3.Connection, ref: str | int, others: int = 5) -> Resolved:
    """Resolve ``ref`` like :func:`resolve_item`, keeping the alternatives (see
    :class:`Resolved`). Words go through the full-text index (tags and file names); the
    best-ranked match wins unless exactly one item matches the words as a whole name."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        row = conn.execute("SELECT id FROM items WHERE id = ?", (int(ref),)).fetchone()
        if row:
            return _named(conn, Resolved(row[0], "id", 1, True))
    text = str(ref).strip()
    candidates = {text, str(Path(text).expanduser().absolute())}
    try:
        candidates.add(str(Path(text).expanduser().resolve()))
    except (OSError, RuntimeError):
        pass
    for candidate in candidates:
        row = conn.execute(
            "SELECT item_id FROM locations WHERE path = ? AND item_id IS NOT NULL", (candidate,)
        ).fetchone()
        if row:
            return _named(conn, Resolved(row[0], "path", 1, True))
    try:
        match = fts_query(text.replace(" - ", " ").replace(" – ", " "))
    except ValueError:
        return Resolved(None)
    ranked = [r[0] for r in conn.execute(
        "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY rank LIMIT ?", (match, 50))]
    if not ranked:
        return Resolved(None, "text", 0)
    total = conn.execute("SELECT COUNT(*) FROM items_fts WHERE items_fts MATCH ?", (match,)).fetchone()[0]
    rows = rows_by_id(conn, ranked)
    wanted = _comparable(text)
    exact = [r for r in rows if wanted in _whole_names(r)]
    best = exact[0] if len(exact) == 1 else rows[0]
    rest = [r for r in rows if r["id"] != best["id"]][:others]
    return Resolved(best["id"], "text", total, len(exact) == 1, display_name(best),
                    [{"id": r["id"], "name": display_name(r)} for r in rest])


def _named(conn: sqlite3.Connection, found: Resolved) -> Resolved:
    rows = rows_by_id(conn, [found.item_id])
    found.name = display_name(rows[0]) if rows else None
    return found


def display_name(row: dict[str, Any]) -> str:
    """'Artist – Title', else the title or artist alone, else the file name (samples)."""
    parts = [x.strip() for x in (row.get("artist"), row.get("title")) if x and x.strip()]
    if parts:
        return " – ".join(parts)
    path = row.get("path")
    return path.rsplit("/", 1)[-1] if path else f"#{row.get('id')}"


def _comparable(text: str) -> str:
    """Words only, case-folded: "Kilo Tape – Night Bus" and "kilo tape night bus" compare equal."""
    return " ".join("".join(c if c.isalnum() else " " for c in text.casefold()).split())


def _whole_names(row: dict[str, Any]) -> set[str]:
    names = {row.get("title") or "", f"{row.get('artist') or ''} - {row.get('title') or ''}"}
    if row.get("path"):
        base = row["path"].rsplit("/", 1)[-1]
        names |= {base, base.rsplit(".", 1)[0]}
    return {_comparable(n) for n in names} - {""}


def show(conn: sqlite3.Connection, ref: str | int) -> dict[str, Any] | None:
    """:func:`show_item` for a reference, with how it was resolved (``resolved``: see
    :class:`Resolved`), so the caller can say when the words matched several items."""
    found = resolve(conn, ref)
    if found.item_id is None:
        return None
    info = show_item(conn, found.item_id)
    if info is not None:
        info["resolved"] = found.as_dict()
    return info


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


def active_models(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The active version of each task for `djml status`, with what it is made of
    (``members``, :func:`djml.render.model_members`) instead of its bulky metadata."""
    from djml.render import model_members

    rows = conn.execute("SELECT task, version, estimator, metadata, created_at FROM models"
                        " WHERE active = 1 ORDER BY task")
    return [{"task": task, "version": version, "estimator": estimator,
             "members": model_members(estimator, json.loads(metadata or "{}")), "created_at": created_at}
            for task, version, estimator, metadata, created_at in rows]


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
