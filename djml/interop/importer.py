"""Apply a parsed :class:`ForeignCollection` to the library (through the one writer).

What an import records, and why:
- BPM, key and genre another program holds become labels (tasks ``bpm``, ``key``,
  ``genre``, source ``import``) — but only where they differ from what djml already
  believes. DJs correct beatgrids and keys by hand in rekordbox/Traktor; those are user
  truth. Re-importing djml's own export therefore records nothing.
- Playlists named in the config's ``playlist_buckets`` become bucket labels.
- Every other playlist becomes a set (ordered, for the recommender); history playlists
  carry ``played_at``. The ``djml`` folder is djml's own export and is skipped.
Entries are matched to items by path (NFC-normalised, after the path map); with
``match_names`` a file name that is unique in the library also matches (a library that
moved between machines). Nothing unmatched is invented: it is counted and reported.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field

from djml import keys
from djml.config import Config
from djml.interop.model import ForeignCollection, normal_path
from djml.library import Library

BPM_TOLERANCE = 0.05     # rekordbox stores 2 decimals, Traktor 6: below this is "the same"
OWN_FOLDER = "djml"


@dataclass
class ImportReport:
    source: str
    file: str
    tracks: int = 0
    matched: int = 0
    matched_by_name: int = 0
    unmatched: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    sets: list[tuple[str, int, int]] = field(default_factory=list)   # (name, entries, unmatched)
    # playlist -> its entries found nowhere in the library (first candidate path each)
    missing_entries: dict[str, list[str]] = field(default_factory=dict)
    skipped_playlists: list[str] = field(default_factory=list)


def merge_reports(reports: list[dict]) -> dict:
    """One report (as plain data) for the pieces of one file imported one after another."""
    merged = {**reports[0], "unmatched": [], "labels": {}, "sets": [], "missing_entries": {},
              "skipped_playlists": []}
    for key in ("tracks", "matched", "matched_by_name"):
        merged[key] = sum(r[key] for r in reports)
    for r in reports:
        merged["unmatched"] += r["unmatched"]
        merged["sets"] += r["sets"]
        merged["skipped_playlists"] += r["skipped_playlists"]
        merged["missing_entries"].update(r["missing_entries"])
        for task, n in r["labels"].items():
            merged["labels"][task] = merged["labels"].get(task, 0) + n
    return merged


class Matcher:
    """Path → item id, built once per import from every known location."""

    def __init__(self, conn: sqlite3.Connection, *, match_names: bool = False):
        self.by_path: dict[str, int] = {}
        by_name: dict[str, set[int]] = defaultdict(set)
        for path, item_id in conn.execute("SELECT path, item_id FROM locations WHERE item_id IS NOT NULL"):
            norm = normal_path(path)
            self.by_path[norm] = item_id
            by_name[os.path.basename(norm)].add(item_id)
        self.by_name = {n: next(iter(ids)) for n, ids in by_name.items() if len(ids) == 1} if match_names else {}

    def match(self, candidates: list[str]) -> tuple[int | None, bool]:
        """(item_id, matched_by_name) for the first candidate path that is known."""
        for path in candidates:
            if (item_id := self.by_path.get(normal_path(path))) is not None:
                return item_id, False
        for path in candidates:
            if (item_id := self.by_name.get(os.path.basename(normal_path(path)))) is not None:
                return item_id, True
        return None, False


def import_collection(
    library: Library, config: Config, collection: ForeignCollection, *, match_names: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Record what ``collection`` adds to the library; with ``dry_run`` only report it."""
    conn = library.conn
    matcher = Matcher(conn, match_names=match_names)
    report = ImportReport(collection.source, collection.source_path, tracks=len(collection.tracks))
    matched: dict[int, object] = {}
    for track in collection.tracks:
        item_id, by_name = matcher.match(track.paths)
        if item_id is None:
            report.unmatched.append(track.paths[0] if track.paths else track.ref)
            continue
        matched[item_id] = track
        report.matched += 1
        report.matched_by_name += by_name
    believed = _current_beliefs(conn, list(matched))
    rows: list[tuple[int, str, str]] = []
    for item_id, track in matched.items():
        rows.extend(_track_labels(item_id, track, believed.get(item_id, {})))
    bucket_rows, set_specs = _playlists(collection, config, matcher, believed, report)
    rows.extend(bucket_rows)
    if rows and not dry_run:
        library.import_labels(rows, "import")
    for _, task, _ in rows:
        report.labels[task] = report.labels.get(task, 0) + 1
    for name, item_ids, played_at, missing in set_specs:
        if not dry_run:
            library.add_set(name, collection.source, item_ids, source_path=collection.source_path,
                            played_at=played_at)
        report.sets.append((name, len(item_ids), missing))
    return report


def _track_labels(item_id: int, track, believed: dict) -> list[tuple[int, str, str]]:
    rows = []
    if track.bpm and (believed.get("bpm") is None or abs(track.bpm - believed["bpm"]) > BPM_TOLERANCE):
        rows.append((item_id, "bpm", f"{track.bpm:.2f}"))
    if track.key is not None and track.key != believed.get("key"):
        rows.append((item_id, "key", keys.camelot(track.key)))
    if track.genre and track.genre.casefold() != (believed.get("genre") or "").casefold():
        rows.append((item_id, "genre", track.genre))
    return rows


def _playlists(collection: ForeignCollection, config: Config, matcher: Matcher, believed: dict,
               report: ImportReport) -> tuple[list[tuple[int, str, str]], list[tuple]]:
    bucket_rows: list[tuple[int, str, str]] = []
    set_specs = []
    for playlist in collection.playlists:
        full_name = "/".join((*playlist.folder, playlist.name))
        if playlist.folder[:1] == (OWN_FOLDER,):
            report.skipped_playlists.append(f"{full_name} (djml's own export)")
            continue
        ids = []
        missing = 0
        for candidates in playlist.entries:
            item_id, _ = matcher.match(candidates)
            if item_id is None:
                missing += 1
                report.missing_entries.setdefault(full_name, []).append(candidates[0] if candidates else "?")
            else:
                ids.append(item_id)
        bucket = config.playlist_buckets.get(playlist.name)
        if bucket is not None:
            for item_id in dict.fromkeys(ids):
                if believed.setdefault(item_id, {}).get("bucket") != bucket:
                    bucket_rows.append((item_id, "bucket", bucket))
                    believed[item_id]["bucket"] = bucket
            continue
        if not ids:
            report.skipped_playlists.append(f"{full_name} (no entry is in the library)")
            continue
        set_specs.append((full_name, ids, playlist.played_at, missing))
    return bucket_rows, set_specs


def _current_beliefs(conn: sqlite3.Connection, item_ids: list[int]) -> dict[int, dict]:
    """What djml believes now per item: newest user/import label, else analysis, else tag."""
    believed: dict[int, dict] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            f"SELECT i.id, i.genre, a.bpm, a.key FROM items i LEFT JOIN analyses a ON a.item_id = i.id"
            f" WHERE i.id IN ({marks})", chunk,
        ):
            believed[r["id"]] = {"bpm": r["bpm"], "key": r["key"], "genre": r["genre"]}
    rows = conn.execute(
        "SELECT item_id, task, label FROM labels WHERE undone_at IS NULL"
        " AND task IN ('bpm', 'key', 'genre', 'bucket') ORDER BY id"
    )
    for r in rows:
        entry = believed.setdefault(r["item_id"], {})
        if r["task"] == "bpm":
            try:
                entry["bpm"] = float(r["label"])
            except ValueError:
                continue
        elif r["task"] == "key":
            try:
                entry["key"] = keys.parse(r["label"])
            except ValueError:
                continue
        else:
            entry[r["task"]] = r["label"]
    return believed
