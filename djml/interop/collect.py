"""Read the library into :class:`ExportTrack` rows and group them into playlists.

Resolution rule for every exported fact: what the user said (a label, including values
imported from rekordbox/Traktor) beats what the analyser measured, which beats the file's
own tag. The same rule feeds tag write-back, so an export, a write-back and a later import
all agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from djml import keys, query
from djml.cues import cues_from_json
from djml.interop.model import ExportTrack

_CHUNK = 500  # SQLite's default host-parameter limit is 999 (older builds)


@dataclass
class Collected:
    tracks: list[ExportTrack]
    skipped_missing: int     # items matching the filter whose files have all vanished


def collect(conn: sqlite3.Connection, filters: query.Filters) -> Collected:
    """Every item matching ``filters`` that has a present file, fully resolved.

    Buckets and sample classes are the user's own (labels, imports, sample-folder names);
    a model's guess is used only when ``filters.predicted`` is a confidence threshold and
    the guess reaches it, and is then marked in :attr:`ExportTrack.guessed`."""
    rows = query.list_items(conn, filters)
    present = [r for r in rows if not r["missing"] and r["path"]]
    extra = _extra_facts(conn, [r["id"] for r in present])
    tracks = []
    for row in present:
        facts = extra.get(row["id"], {})
        labels = facts.get("labels", {})
        label, guessed = _own_or_confident(row, filters.predicted)
        field_name = "bucket" if row["kind"] == "track" else "sample_class"
        tracks.append(ExportTrack(
            item_id=row["id"], path=row["path"], kind=row["kind"],
            artist=row["artist"], title=row["title"], album=row["album"],
            genre=labels.get("genre") or row["genre"], comment=facts.get("comment"),
            year=row["year"], duration=row["duration"],
            bpm=_label_bpm(labels.get("bpm")) or row["bpm"] or facts.get("tag_bpm"),
            key=_label_key(labels.get("key"), facts.get("key")),
            energy=row["energy"], first_beat=facts.get("first_beat"),
            size=facts.get("size"), sample_rate=facts.get("sample_rate"),
            bucket=label if row["kind"] == "track" else None,
            sample_class=(label or row["sample_type"]) if row["kind"] == "sample" else None,
            guessed={field_name: guessed} if guessed is not None else {},
            lufs=row["lufs"], lra=row["lra"], true_peak_db=row["true_peak_db"],
            cues=facts.get("cues", []),
        ))
    return Collected(tracks, len(rows) - len(present))


def _own_or_confident(row: dict, threshold: float | None) -> tuple[str | None, float | None]:
    """(label, the model's confidence if the label is its guess, else None)."""
    if row.get("label_source") in query.OWN_SOURCES:
        return row["label"], None
    confidence = row.get("predicted_confidence")
    if threshold is not None and row.get("predicted_label") and confidence is not None and confidence >= threshold:
        return row["predicted_label"], confidence
    return None, None


def _extra_facts(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict]:
    """Facts list_items does not return: key as an int, comment, file size, first beat,
    cue points, and the newest bpm/key/genre labels."""
    result: dict[int, dict] = {i: {"labels": {}} for i in ids}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            f"SELECT i.id, i.comment, i.sample_rate, i.tag_bpm, i.tag_key, a.key, a.data,"
            f" (SELECT l.size FROM locations l WHERE l.item_id = i.id AND l.status = 'ok'"
            f"  ORDER BY l.id LIMIT 1) AS size"
            f" FROM items i LEFT JOIN analyses a ON a.item_id = i.id WHERE i.id IN ({marks})",
            chunk,
        ):
            data = json.loads(r["data"]) if r["data"] else {}
            first_beat = data.get("first_beat")
            key = r["key"] if r["key"] is not None else _parse_key(r["tag_key"])
            result[r["id"]].update(
                comment=r["comment"], sample_rate=r["sample_rate"], tag_bpm=r["tag_bpm"], key=key,
                size=r["size"], first_beat=float(first_beat) if first_beat is not None else None,
                cues=cues_from_json(data.get("cues")),
            )
        for r in conn.execute(
            f"SELECT item_id, task, label FROM labels WHERE undone_at IS NULL"
            f" AND task IN ('bpm', 'key', 'genre') AND item_id IN ({marks}) ORDER BY id",
            chunk,
        ):
            result[r["item_id"]]["labels"][r["task"]] = r["label"]  # newest wins (ORDER BY id)
    return result


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _parse_key(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return keys.parse(text)
    except ValueError:
        return None


def _label_key(label: str | None, fallback: int | None) -> int | None:
    parsed = _parse_key(label)
    return parsed if parsed is not None else fallback


def _label_bpm(label: str | None) -> float | None:
    try:
        return float(label) if label else None
    except ValueError:
        return None


def group_playlists(tracks: list[ExportTrack], bucket_order: list[str]) -> list[tuple[str, str, list[ExportTrack]]]:
    """(folder, playlist name, tracks) for every bucket, genre and sample class present.

    Buckets follow the configured order (then any others alphabetically); genres and
    sample classes are alphabetical. Inside a playlist tracks go by BPM, then artist and
    title, which is how a DJ browses a crate.
    """
    groups: dict[tuple[str, str], list[ExportTrack]] = {}
    for t in tracks:
        if t.bucket:
            groups.setdefault(("Buckets", t.bucket), []).append(t)
        if t.genre and t.kind == "track":
            groups.setdefault(("Genres", t.genre), []).append(t)
        if t.sample_class:
            groups.setdefault(("Samples", t.sample_class), []).append(t)
    rank = {name: i for i, name in enumerate(bucket_order)}
    folder_rank = {"Buckets": 0, "Genres": 1, "Samples": 2}

    def order(key: tuple[str, str]) -> tuple:
        folder, name = key
        return folder_rank[folder], rank.get(name, len(rank)) if folder == "Buckets" else 0, name.casefold()

    def track_order(t: ExportTrack) -> tuple:
        return t.bpm or 0.0, (t.artist or "").casefold(), t.display_title.casefold()

    return [(f, n, sorted(groups[(f, n)], key=track_order)) for f, n in sorted(groups, key=order)]
