"""Fast checks of the pieces behind the reliability fixes: header limits, resource-error
reasons, the back-off, root identity and what counts as lacking derived data."""

from __future__ import annotations

import errno
import sqlite3

from djml.daemon.resources import Backoff, reason_in_text, resource_reason
from djml.daemon.roots import RootWatch, identities
from djml.limits import header_problem


def test_header_limits_name_the_claimed_value():
    assert header_problem(44100, 2, 44100 * 600) is None
    assert "1 Hz" in header_problem(1, 1, 10_000)
    assert "200 channels" in header_problem(48000, 200, 48000)
    assert "hours" in header_problem(8000, 1, 8000 * 3600 * 30)


def test_resource_errors_are_told_from_file_errors():
    assert resource_reason(OSError(errno.ENOSPC, "No space left on device")) == "disk full"
    assert "open files" in resource_reason(OSError(errno.EMFILE, "Too many open files"))
    assert resource_reason(sqlite3.OperationalError("database or disk is full")) == "disk full"
    assert resource_reason(OSError(errno.ENOENT, "No such file")) is None
    assert resource_reason(ValueError("bad")) is None
    assert "open files" in reason_in_text("analysis failed unexpectedly: OSError: [Errno 24] Too many open files")
    assert reason_in_text("not an audio file (unknown format)") is None


def test_backoff_doubles_then_clears():
    clock = [0.0]
    b = Backoff(clock=lambda: clock[0])
    assert b.wait() == 0 and b.warning() is None
    assert b.hit("disk full") == 1.0 and b.hit("disk full") == 2.0 and b.hit("disk full") == 4.0
    assert "disk full" in b.warning() and "resumes by itself" in b.warning()
    clock[0] = 10.0
    assert b.wait() == 0.0
    assert b.clear() and not b.clear() and b.warning() is None


def test_root_watch_sees_a_recreated_folder_even_with_the_same_inode(tmp_path):
    root = tmp_path / "music"
    root.mkdir()
    watch = RootWatch(identities([root]))
    assert watch.poll(identities([root])) == []
    watch.lost(str(root))
    assert watch.warnings() and "deleted" in watch.warnings()[0]
    assert watch.poll(identities([root])) == [root]      # same identity, but it was lost
    watch.note([root], {})
    assert watch.warnings() == []
    root.rmdir()
    assert watch.poll(identities([root])) == [root]      # vanished


def test_lacking_finds_items_without_a_prediction_of_the_active_version(tmp_path):
    from djml import db
    from djml.models.enrich import lacking

    conn = db.connect(tmp_path / "library.db")
    stamp = db.now()
    for i, kind in enumerate(("sample", "sample", "track"), start=1):
        conn.execute("INSERT INTO items (id, audio_hash, kind, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                     (i, f"h{i}", kind, stamp, stamp))
        conn.execute("INSERT INTO analyses (item_id, analyzer_version, analyzed_at, data) VALUES (?, 1, ?, '{}')",
                     (i, stamp))
    conn.execute("INSERT INTO models (version, task, estimator, path, metadata, metrics, active, created_at)"
                 " VALUES ('v2', 'sample_type', 'et', 'x', '{}', '{}', 1, ?)", (stamp,))
    conn.execute("INSERT INTO predictions (item_id, task, label, confidence, top, unsure, model_version,"
                 " predicted_at) VALUES (1, 'sample_type', 'kick', 0.9, '[]', 0, 'v2', ?),"
                 " (2, 'sample_type', 'kick', 0.9, '[]', 0, 'v1', ?)", (stamp, stamp))
    assert lacking(conn) == [2]                       # item 2 was predicted by an older version
    assert lacking(conn, embed_text=True) == [2, 3]   # the track has no text vector


def test_an_unreadable_folder_is_listed_with_the_failures(tmp_path, monkeypatch):
    """CI runs as root, who reads every folder: the refusal is mocked at os.scandir."""
    import os

    from djml import db, query
    from djml.library import Library
    from djml.scan import plan, record_problems

    locked = tmp_path / "samples" / "locked"
    locked.mkdir(parents=True)
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    library = Library(db.connect(tmp_path / "library.db"))
    work = plan(library, [tmp_path / "samples"])
    record_problems(library, work)
    failed = query.list_failed(library.conn)
    assert [(row["path"], row["error"]) for row in failed] == [(str(locked), "cannot list folder: permission denied")]
