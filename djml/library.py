"""The one place that writes the library.

Both `djml scan` (no daemon) and the daemon's service call these methods; nothing else
issues INSERT/UPDATE/DELETE. Every public method is one short transaction, so a crash or
``kill -9`` at any moment leaves either the whole change or none of it.

Identity rules (why items and locations are separate):
- an item is a piece of audio, keyed by ``audio_hash`` (decoded content), so re-tagging,
  renaming, moving or copying a file keeps the item with its labels and history;
- a location is a path; a vanished file's location becomes ``missing`` and its item stays.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djml import keys
from djml.db import now

if TYPE_CHECKING:
    from djml.pipeline import FileResult, FileStat


@dataclass(frozen=True)
class KnownLocation:
    """What the library remembers about a path: enough to skip unchanged files by stat."""

    id: int
    path: str
    item_id: int | None
    size: int | None
    mtime_ns: int | None
    inode: int | None
    device: int | None
    status: str
    kind: str | None = None              # of its item; None for failed files
    analyzer_version: int | None = None  # of its item's stored analysis
    error: str | None = None             # why it failed (status 'failed')

    def matches(self, stat: "FileStat") -> bool:
        return self.status != "failed" and self._same(stat)

    def failed_unchanged(self, stat: "FileStat") -> bool:
        """A file that failed and has not changed since: trying again would fail again
        (`djml retry`, or touching the file, asks for a new attempt)."""
        return self.status == "failed" and self.size is not None and self._same(stat)

    def _same(self, stat: "FileStat") -> bool:
        return self.size == stat.size and self.mtime_ns == stat.mtime_ns and self.inode == stat.inode


class Library:
    """Write access to the library database (see module docstring)."""

    def __init__(self, conn: sqlite3.Connection, *, readonly: bool = False):
        self.conn = conn
        # a read-only view for evaluation next to a running daemon: caches (text vectors)
        # are computed but not stored — only the daemon writes while it runs
        self.readonly = readonly

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; rolls back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")   # a full disk may refuse the COMMIT itself
        except BaseException:
            if self.conn.in_transaction:   # SQLite may have rolled back already (disk full)
                self.conn.execute("ROLLBACK")
            raise

    # -- reading what the writer needs -------------------------------------------------

    def locations_under(self, roots: Iterable[Path]) -> dict[str, KnownLocation]:
        """Every known location below any of ``roots`` (path-prefix match)."""
        result: dict[str, KnownLocation] = {}
        for root in roots:
            prefix = str(root).rstrip("/") + "/"
            rows = self.conn.execute(
                "SELECT l.id, l.path, l.item_id, l.size, l.mtime_ns, l.inode, l.device, l.status,"
                " i.kind, a.analyzer_version, l.error FROM locations l"
                " LEFT JOIN items i ON i.id = l.item_id LEFT JOIN analyses a ON a.item_id = l.item_id"
                " WHERE l.path = ? OR substr(l.path, 1, ?) = ?",
                (str(root), len(prefix), prefix),
            )
            for row in rows:
                result[row["path"]] = KnownLocation(*row)
        return result

    def location(self, path: str) -> KnownLocation | None:
        row = self.conn.execute(
            "SELECT id, path, item_id, size, mtime_ns, inode, device, status FROM locations"
            " WHERE path = ?",
            (path,),
        ).fetchone()
        return KnownLocation(*row) if row else None

    # -- recording scan / watcher outcomes -----------------------------------------------

    def record_result(self, result: "FileResult") -> tuple[str, int | None]:
        """Store one processed file. Returns (outcome, item_id).

        outcome is one of: ``new`` (audio never seen), ``updated`` (same path, changed file),
        ``moved`` (known audio whose old location vanished), ``copy`` (known audio that also
        lives elsewhere), ``failed``.

        New audio at a path whose item lives nowhere else (a re-bounced mix, a fixed master
        saved over the old file) updates that item in place: its labels, sets and history
        describe the track at this path, not the old bytes. If the old audio still exists
        elsewhere it keeps its item and the new audio gets a new one.
        """
        if result.error is not None:
            self.record_failure(result.path, result.stat, result.error)
            return "failed", None
        analysis = result.analysis
        assert analysis is not None
        stamp = now()
        with self.transaction() as c:
            existing = c.execute(
                "SELECT id FROM items WHERE audio_hash = ?", (analysis.audio_hash,)
            ).fetchone()
            previous = self.location(result.path)
            replaced = None if existing is not None else self._edited_in_place(c, previous, result)
            if replaced is not None:
                item_id = replaced
                c.execute("UPDATE items SET audio_hash = ?, duration = ?, sample_rate = ?, channels = ?"
                          " WHERE id = ?", (analysis.audio_hash, analysis.duration, analysis.sample_rate,
                                            analysis.channels, item_id))
                self._update_item(c, item_id, result, stamp)
                outcome = "updated"
            elif existing is None:
                item_id = self._insert_item(c, result, stamp)
                outcome = "updated" if previous and previous.item_id else "new"
            else:
                item_id = existing["id"]
                self._update_item(c, item_id, result, stamp)
                outcome = self._classify_known(c, item_id, result.path, previous)
            self._store_analysis(c, item_id, result, stamp)
            self._upsert_location(c, item_id, result.path, result.stat, "ok", None, stamp)
        return outcome, item_id

    def _edited_in_place(self, c: sqlite3.Connection, previous: KnownLocation | None,
                         result: "FileResult") -> int | None:
        """The item at this path if the file was overwritten with other audio of the same
        kind and the item's old audio exists nowhere else; else None."""
        if previous is None or previous.item_id is None:
            return None
        row = c.execute("SELECT kind FROM items WHERE id = ?", (previous.item_id,)).fetchone()
        if row is None or row["kind"] != result.analysis.kind:
            return None
        others = c.execute("SELECT path, status FROM locations WHERE item_id = ? AND path != ?",
                           (previous.item_id, result.path)).fetchall()
        if any(o["status"] != "missing" and Path(o["path"]).exists() for o in others):
            return None
        return previous.item_id

    def _classify_known(
        self, c: sqlite3.Connection, item_id: int, path: str, previous: KnownLocation | None
    ) -> str:
        if previous is not None and previous.item_id == item_id:
            return "updated"
        others = c.execute(
            "SELECT id, path, status FROM locations WHERE item_id = ? AND path != ?",
            (item_id, path),
        ).fetchall()
        vanished = [row for row in others if row["status"] == "missing" or not Path(row["path"]).exists()]
        if vanished and len(vanished) == len(others):
            # The audio's only known home is gone: this is a move. Keep one history row.
            c.execute("DELETE FROM locations WHERE path = ?", (path,))
            c.execute("UPDATE locations SET path = ? WHERE id = ?", (path, vanished[0]["id"]))
            for row in vanished[1:]:
                c.execute("UPDATE locations SET status = 'missing' WHERE id = ?", (row["id"],))
            return "moved"
        return "copy"

    def record_move(self, old_path: str, new_path: str, stat: "FileStat") -> int | None:
        """A rename seen by stat (same inode, size and mtime) or by the watcher: no audio read."""
        with self.transaction() as c:
            row = c.execute("SELECT id, item_id FROM locations WHERE path = ?", (old_path,)).fetchone()
            if row is None:
                return None
            c.execute("DELETE FROM locations WHERE path = ? AND id != ?", (new_path, row["id"]))
            c.execute(
                "UPDATE locations SET path = ?, size = ?, mtime_ns = ?, inode = ?, device = ?,"
                " status = 'ok', error = NULL, last_seen = ? WHERE id = ?",
                (new_path, stat.size, stat.mtime_ns, stat.inode, stat.device, now(), row["id"]),
            )
            return row["item_id"]

    def record_failure(self, path: str, stat: "FileStat | None", reason: str) -> None:
        """A file that could not be processed: remembered with its reason, item untouched."""
        with self.transaction() as c:
            previous = self.location(path)
            item_id = previous.item_id if previous else None
            self._upsert_location(c, item_id, path, stat, "failed", reason, now())

    def mark_missing(self, paths: Iterable[str]) -> int:
        """Vanished files: their locations become 'missing'; items and labels stay."""
        stamp = now()
        with self.transaction() as c:
            cursor = c.executemany(
                "UPDATE locations SET status = 'missing', last_seen = ?"
                " WHERE path = ? AND status != 'missing'",
                [(stamp, p) for p in paths],
            )
            return cursor.rowcount

    def forget_failed(self, paths: Iterable[str]) -> None:
        """Failed files that are gone: nothing worth keeping (they never had an item)."""
        with self.transaction() as c:
            c.executemany(
                "DELETE FROM locations WHERE path = ? AND status = 'failed' AND item_id IS NULL",
                [(p,) for p in paths],
            )

    def record_tag_write(self, path: str, written: dict[str, str | None]) -> None:
        """djml rewrote this file's tags (`djml tags write/undo`): store its new stat so the
        next scan sees it unchanged (the audio, hence the item, is the same), and the tag
        values it now holds (fields: bpm, key, genre, comment; others are not columns)."""
        from djml.pipeline import FileStat

        stat = FileStat.of(path)
        columns = {"bpm": "tag_bpm", "key": "tag_key", "genre": "genre", "comment": "comment"}
        updates = {columns[k]: v for k, v in written.items() if k in columns}
        if "tag_bpm" in updates and updates["tag_bpm"] is not None:
            updates["tag_bpm"] = float(updates["tag_bpm"])
        with self.transaction() as c:
            row = c.execute(
                "UPDATE locations SET size = ?, mtime_ns = ?, inode = ?, device = ?, last_seen = ?"
                " WHERE path = ? RETURNING item_id",
                (stat.size, stat.mtime_ns, stat.inode, stat.device, now(), path),
            ).fetchall()
            row = row[0] if row else None
            if row is not None and row["item_id"] is not None and updates:
                assignments = ", ".join(f"{column} = ?" for column in updates)
                c.execute(f"UPDATE items SET {assignments}, updated_at = ? WHERE id = ?",
                          (*updates.values(), now(), row["item_id"]))

    # -- the daemon's persistent job queue (jobs table) ---------------------------------
    # A job row exists while a path waits or is being analysed; a finished job is deleted,
    # a job that kept failing stays 'failed' with its reason. Nothing queued is lost.

    def enqueue(self, paths: Iterable[str]) -> int:
        """Queue analysis of ``paths``; an already queued path is made due now (it changed
        again, so earlier back-off no longer applies). Returns how many jobs are new."""
        stamp = now()
        added = 0
        with self.transaction() as c:
            for path in paths:
                c.execute("DELETE FROM jobs WHERE path = ? AND state IN ('done', 'failed')", (path,))
                cursor = c.execute(
                    "INSERT OR IGNORE INTO jobs (path, created_at, updated_at) VALUES (?, ?, ?)",
                    (path, stamp, stamp),
                )
                if cursor.rowcount:
                    added += 1
                else:
                    c.execute(
                        "UPDATE jobs SET attempts = 0, not_before = 0, updated_at = ?"
                        " WHERE path = ? AND state = 'queued'",
                        (stamp, path),
                    )
        return added

    def claim_jobs(self, limit: int, clock: float) -> list[tuple[int, str, int]]:
        """Mark up to ``limit`` due jobs 'running' (attempts + 1); returns (id, path, attempts)."""
        with self.transaction() as c:
            rows = c.execute(
                "SELECT id, path, attempts FROM jobs WHERE state = 'queued' AND not_before <= ?"
                " ORDER BY not_before, id LIMIT ?",
                (clock, limit),
            ).fetchall()
            stamp = now()
            c.executemany(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                [(stamp, row["id"]) for row in rows],
            )
        return [(row["id"], row["path"], row["attempts"] + 1) for row in rows]

    def finish_job(self, job_id: int) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def retry_job(self, job_id: int, error: str, not_before: float) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE jobs SET state = 'queued', error = ?, not_before = ?, updated_at = ? WHERE id = ?",
                (error, not_before, now(), job_id),
            )

    def fail_job(self, job_id: int, error: str) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE jobs SET state = 'failed', error = ?, updated_at = ? WHERE id = ?",
                (error, now(), job_id),
            )

    def requeue_running(self) -> int:
        """Jobs left 'running' by a crash or shutdown go back to the queue (their attempt
        does not count: the file was never judged)."""
        with self.transaction() as c:
            return c.execute(
                "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), updated_at = ?"
                " WHERE state = 'running'",
                (now(),),
            ).rowcount

    def release_jobs(self, job_ids: Iterable[int]) -> None:
        """Claimed jobs that could not run (a resource error, not the file): queued again,
        due now, their attempt not counted."""
        with self.transaction() as c:
            c.executemany(
                "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), not_before = 0,"
                " updated_at = ? WHERE id = ? AND state = 'running'",
                [(now(), job_id) for job_id in job_ids],
            )

    def drop_jobs(self, paths: Iterable[str]) -> int:
        """Forget pending jobs for paths that vanished (nothing left to analyse)."""
        with self.transaction() as c:
            cursor = c.executemany(
                "DELETE FROM jobs WHERE path = ? AND state = 'queued'", [(p,) for p in paths]
            )
            return cursor.rowcount

    # -- labels (user truth; a model never writes here) ----------------------------------

    def set_label(self, item_id: int, task: str, label: str, source: str = "user") -> int:
        with self.transaction() as c:
            if task == "bucket":
                c.execute(
                    "INSERT OR IGNORE INTO buckets (name, created_at) VALUES (?, ?)", (label, now())
                )
            cursor = c.execute(
                "INSERT INTO labels (item_id, task, label, source, created_at) VALUES (?, ?, ?, ?, ?)",
                (item_id, task, label, source, now()),
            )
            return int(cursor.lastrowid)

    def undo_label(self, item_id: int, task: str) -> str | None:
        """Undo the newest label of (item, task); returns the label now in force, if any."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT id FROM labels WHERE item_id = ? AND task = ? AND undone_at IS NULL"
                " ORDER BY id DESC LIMIT 1",
                (item_id, task),
            ).fetchone()
            if row:
                c.execute("UPDATE labels SET undone_at = ? WHERE id = ?", (now(), row["id"]))
            current = c.execute(
                "SELECT label FROM labels WHERE item_id = ? AND task = ? AND undone_at IS NULL"
                " ORDER BY id DESC LIMIT 1",
                (item_id, task),
            ).fetchone()
            return current["label"] if current else None

    # -- buckets (names; see djml.buckets) -------------------------------------------------

    def add_bucket(self, name: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO buckets (name, created_at) VALUES (?, ?)", (name, now()))

    def rename_bucket(self, old: str, new: str) -> int:
        """Every label row and prediction naming ``old`` now names ``new`` (merging when
        ``new`` exists); returns how many label rows changed."""
        with self.transaction() as c:
            changed = c.execute("UPDATE labels SET label = ? WHERE task = 'bucket' AND label = ?",
                                (new, old)).rowcount
            for row in c.execute("SELECT item_id, label, top FROM predictions WHERE task = 'bucket'").fetchall():
                top = _renamed_top(json.loads(row["top"] or "[]"), old, new)
                label = new if row["label"] == old else row["label"]
                if label != row["label"] or top != json.loads(row["top"] or "[]"):
                    c.execute("UPDATE predictions SET label = ?, top = ? WHERE item_id = ? AND task = 'bucket'",
                              (label, json.dumps(top), row["item_id"]))
            created = c.execute("SELECT created_at FROM buckets WHERE name = ?", (old,)).fetchone()
            c.execute("DELETE FROM buckets WHERE name = ?", (old,))
            c.execute("INSERT OR IGNORE INTO buckets (name, created_at) VALUES (?, ?)",
                      (new, created["created_at"] if created else now()))
            return changed

    def delete_bucket(self, name: str) -> int:
        """Undo every label naming ``name`` (history kept), drop the guesses of it and the
        name itself; returns how many labels were undone."""
        with self.transaction() as c:
            undone = c.execute("UPDATE labels SET undone_at = ? WHERE task = 'bucket' AND label = ?"
                               " AND undone_at IS NULL", (now(), name)).rowcount
            c.execute("DELETE FROM predictions WHERE task = 'bucket' AND label = ?", (name,))
            c.execute("DELETE FROM buckets WHERE name = ?", (name,))
            return undone

    def import_labels(
        self, rows: list[tuple[int, str, str]], source: str, *, feedback_event: str | None = None
    ) -> int:
        """Many (item_id, task, label) at once, all or nothing (CSV imports). With
        ``feedback_event`` each label is also logged as a feedback event (corrections).

        A label already in force for its (item, task), or repeated in ``rows``, is skipped:
        importing the same file twice must not grow the history. The repeats older
        versions stored are removed first (:data:`_DROP_REPEATED_LABELS`), so the next
        import of the file tidies a library that was hit. Returns how many labels were added."""
        stamp = now()
        with self.transaction() as c:
            for statement in _DROP_REPEATED_LABELS:
                c.execute(statement)
            rows = _new_labels(c, rows)
            c.executemany(
                "INSERT OR IGNORE INTO buckets (name, created_at) VALUES (?, ?)",
                [(label, stamp) for _, task, label in rows if task == "bucket"],
            )
            c.executemany(
                "INSERT INTO labels (item_id, task, label, source, created_at) VALUES (?, ?, ?, ?, ?)",
                [(item_id, task, label, source, stamp) for item_id, task, label in rows],
            )
            if feedback_event:
                c.executemany(
                    "INSERT INTO feedback (event, item_id, data, created_at) VALUES (?, ?, ?, ?)",
                    [(feedback_event, item_id, json.dumps({"task": task, "label": label}), stamp)
                     for item_id, task, label in rows],
                )
        return len(rows)

    # -- model predictions and registry (what models said; never touches labels) -------

    def store_predictions(self, rows: list[dict[str, Any]]) -> None:
        """Replace the prediction of each (item_id, task): label, confidence, top (list of
        [label, p]), unsure, model_version."""
        stamp = now()
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO predictions (item_id, task, label, confidence, top, unsure,"
                " model_version, predicted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["item_id"], r["task"], r["label"], float(r["confidence"]), json.dumps(r["top"]),
                  int(bool(r["unsure"])), r["model_version"], stamp) for r in rows],
            )

    def register_model(
        self, version: str, task: str, estimator: str, path: str, metadata: dict[str, Any],
        metrics: dict[str, Any], *, activate: bool = False,
    ) -> None:
        with self.transaction() as c:
            if activate:
                c.execute("UPDATE models SET active = 0 WHERE task = ? AND active = 1", (task,))
            c.execute(
                "INSERT INTO models (version, task, estimator, path, metadata, metrics, active, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (version, task, estimator, path, json.dumps(metadata), json.dumps(metrics),
                 int(activate), now()),
            )

    def activate_model(self, version: str) -> str | None:
        """Make ``version`` the one active model of its task; returns the task (None if unknown)."""
        with self.transaction() as c:
            row = c.execute("SELECT task FROM models WHERE version = ?", (version,)).fetchone()
            if row is None:
                return None
            c.execute("UPDATE models SET active = 0 WHERE task = ? AND active = 1", (row["task"],))
            c.execute("UPDATE models SET active = 1 WHERE version = ?", (version,))
            return row["task"]

    def delete_model(self, version: str) -> bool:
        """Forget a model version and the predictions it made (refuses the active one)."""
        with self.transaction() as c:
            row = c.execute("SELECT active FROM models WHERE version = ?", (version,)).fetchone()
            if row is None or row["active"]:
                return False
            c.execute("DELETE FROM predictions WHERE model_version = ?", (version,))
            c.execute("DELETE FROM models WHERE version = ?", (version,))
            return True

    def store_vectors(self, space: str, vectors: list[tuple[int, bytes, int, str]]) -> None:
        """Cache derived vectors (e.g. text embeddings): (item_id, float32 LE bytes, dim, source)."""
        stamp = now()
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO vectors (item_id, space, dim, vector, source, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(item_id, space, dim, blob, source, stamp) for item_id, blob, dim, source in vectors],
            )

    # -- sets and feedback (what the DJ played, how they reacted) ------------------------

    def add_set(
        self, name: str, source: str, item_ids: list[int], *,
        source_path: str | None = None, played_at: str | None = None,
    ) -> int:
        """Store an ordered set (playlist, DJ history). Re-importing the same (source,
        source_path, name) replaces its entries instead of duplicating the set."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT id FROM sets WHERE source = ? AND source_path IS ? AND name = ?",
                (source, source_path, name),
            ).fetchone()
            if row:
                set_id = row["id"]
                c.execute("DELETE FROM set_entries WHERE set_id = ?", (set_id,))
                c.execute("UPDATE sets SET played_at = ? WHERE id = ?", (played_at, set_id))
            else:
                set_id = c.execute(
                    "INSERT INTO sets (name, source, source_path, played_at, created_at) VALUES (?, ?, ?, ?, ?)",
                    (name, source, source_path, played_at, now()),
                ).lastrowid
            c.executemany(
                "INSERT INTO set_entries (set_id, position, item_id) VALUES (?, ?, ?)",
                [(set_id, pos, item_id) for pos, item_id in enumerate(item_ids)],
            )
            return int(set_id)

    def add_feedback(
        self, event: str, item_id: int | None, other_item_id: int | None = None, data: dict | None = None
    ) -> int:
        """Record a feedback event (recommendation accepted/skipped/played, …)."""
        with self.transaction() as c:
            cursor = c.execute(
                "INSERT INTO feedback (event, item_id, other_item_id, data, created_at) VALUES (?, ?, ?, ?, ?)",
                (event, item_id, other_item_id, json.dumps(data or {}), now()),
            )
            return int(cursor.lastrowid)

    def record_recommendation(
        self, seed_id: int, accepted_id: int, data: dict, skipped: list[tuple[int, dict]]
    ) -> int:
        """One accepted recommendation plus a skip event for every track that was ranked above
        it, in one transaction (djml.models.recommend.accept_feedback builds the arguments)."""
        stamp = now()
        with self.transaction() as c:
            cursor = c.execute(
                "INSERT INTO feedback (event, item_id, other_item_id, data, created_at) VALUES (?, ?, ?, ?, ?)",
                ("recommend_accepted", seed_id, accepted_id, json.dumps(data), stamp),
            )
            c.executemany(
                "INSERT INTO feedback (event, item_id, other_item_id, data, created_at) VALUES (?, ?, ?, ?, ?)",
                [("recommend_skipped", seed_id, other, json.dumps(d), stamp) for other, d in skipped],
            )
            return int(cursor.lastrowid)

    # -- internals -----------------------------------------------------------------------

    def _insert_item(self, c: sqlite3.Connection, result: "FileResult", stamp: str) -> int:
        a = result.analysis
        t = result.tags
        cursor = c.execute(
            "INSERT INTO items (audio_hash, kind, duration, sample_rate, channels, artist, title,"
            " album, genre, comment, year, tag_bpm, tag_key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.audio_hash, a.kind, a.duration, a.sample_rate, a.channels, t.artist, t.title,
             t.album, t.genre, t.comment, t.year, t.bpm, t.key, stamp, stamp),
        )
        return int(cursor.lastrowid)

    def _update_item(self, c: sqlite3.Connection, item_id: int, result: "FileResult", stamp: str) -> None:
        t = result.tags
        c.execute(
            "UPDATE items SET artist = ?, title = ?, album = ?, genre = ?, comment = ?, year = ?,"
            " tag_bpm = ?, tag_key = ?, updated_at = ? WHERE id = ?",
            (t.artist, t.title, t.album, t.genre, t.comment, t.year, t.bpm, t.key, stamp, item_id),
        )

    def _store_analysis(self, c: sqlite3.Connection, item_id: int, result: "FileResult", stamp: str) -> None:
        a = result.analysis
        c.execute(
            "INSERT OR REPLACE INTO analyses (item_id, analyzer_version, analyzed_at, bpm,"
            " bpm_confidence, bpm_ambiguous, key, key_confidence, camelot, energy, loudness,"
            " sample_type, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item_id, a.analyzer_version, stamp, a.bpm, a.bpm_confidence, int(bool(a.bpm_ambiguous)),
             a.key, a.key_confidence, keys.camelot(a.key) if a.key is not None else None,
             a.energy, a.loudness, a.sample_type, json.dumps(_jsonable(a.to_dict()))),
        )
        space = "audio" if a.kind == "track" else "sample"
        vectors = [(space, a.feature_vector)]
        if getattr(a, "logmel", None) is not None:
            vectors.append(("logmel", a.logmel))
        if getattr(a, "rhythm", None) is not None:
            vectors.append(("rhythm", a.rhythm))
        for name, vector in vectors:
            from djml.vectors import to_blob  # numpy: the writer runs in a process that analysed audio

            blob, dim = to_blob(name, vector)
            c.execute(
                "INSERT OR REPLACE INTO vectors (item_id, space, dim, vector, source, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (item_id, name, dim, blob, f"analyzer-{a.analyzer_version}", stamp),
            )

    def _upsert_location(
        self, c: sqlite3.Connection, item_id: int | None, path: str, stat: "FileStat | None",
        status: str, error: str | None, stamp: str,
    ) -> None:
        size, mtime_ns, inode, device = (
            (stat.size, stat.mtime_ns, stat.inode, stat.device) if stat else (None, None, None, None)
        )
        c.execute(
            "INSERT INTO locations (item_id, path, size, mtime_ns, inode, device, status, error,"
            " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (path) DO UPDATE SET item_id = excluded.item_id, size = excluded.size,"
            " mtime_ns = excluded.mtime_ns, inode = excluded.inode, device = excluded.device,"
            " status = excluded.status, error = excluded.error, last_seen = excluded.last_seen",
            (item_id, path, size, mtime_ns, inode, device, status, error, stamp, stamp),
        )


def _renamed_top(top: list, old: str, new: str) -> list:
    """A prediction's [[label, p], …] with ``old`` named ``new`` (probabilities of a merged
    pair added), best first."""
    merged: dict[str, float] = {}
    for label, p in top:
        key = new if label == old else label
        merged[key] = round(merged.get(key, 0.0) + float(p), 4)
    return [[label, p] for label, p in sorted(merged.items(), key=lambda kv: -kv[1])]


def _jsonable(value: Any) -> Any:
    """numpy scalars and tuples from analysis results → plain JSON types."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def _new_labels(c: sqlite3.Connection, rows: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """``rows`` without the labels already in force and without repeats (last one wins
    within ``rows``, as it would have in force)."""
    last: dict[tuple[int, str], str] = {}
    for item_id, task, label in rows:
        last.pop((item_id, task), None)
        last[(item_id, task)] = label
    fresh = []
    for (item_id, task), label in last.items():
        current = c.execute(
            "SELECT label FROM labels WHERE item_id = ? AND task = ? AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
            (item_id, task)).fetchone()
        if current is None or current["label"] != label:
            fresh.append((item_id, task, label))
    return fresh


# Older versions appended every row of a re-imported CSV again (348 label rows for 12
# labels), and `djml feedback import` logged each correction again. An active label row
# equal to the label in force just before it for the same (item, task) changed nothing:
# deleting it leaves every current label, and each undo step, as it was. A correction
# event logged with such a row (same item, time, task and label) goes with it.
_REPEATED = """
    SELECT l.id FROM labels l
    WHERE l.undone_at IS NULL
      AND (SELECT p.label FROM labels p
           WHERE p.item_id = l.item_id AND p.task = l.task AND p.id < l.id AND p.undone_at IS NULL
           ORDER BY p.id DESC LIMIT 1) = l.label"""
_DROP_REPEATED_LABELS = (
    f"""DELETE FROM feedback WHERE event = 'label_correction' AND EXISTS (
        SELECT 1 FROM labels r WHERE r.id IN ({_REPEATED})
          AND r.item_id = feedback.item_id AND r.created_at = feedback.created_at
          AND json_extract(feedback.data, '$.task') = r.task
          AND json_extract(feedback.data, '$.label') = r.label)""",
    f"DELETE FROM labels WHERE id IN ({_REPEATED})",
)
