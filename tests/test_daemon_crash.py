"""Crash safety with a real daemon: kill -9 in the middle of an import, SIGTERM with work
in flight, and changes made while the daemon was down."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from daemon_support import DaemonProcess, named, wait_for


@pytest.fixture
def daemon(tmp_path):
    d = DaemonProcess(tmp_path / "home", tmp_path / "music")
    d.home.mkdir()
    d.write_config(settle=0.3)
    yield d
    if d.alive:
        d.kill9()


def integrity(db) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_kill_9_mid_import_loses_and_duplicates_nothing(daemon):
    daemon.start()
    n = 40      # more than one writer batch: the kill must land with files still to import
    with daemon.client() as c:
        c.subscribe(["item.added"])
        paths = [daemon.drop(daemon.samples / "batch" / f"s{i:02d}.wav", "perc", seed=500 + i) for i in range(n)]
        wait_for(c, lambda ev: len(named(ev, "item.added")) >= 2)
    daemon.kill9()
    assert daemon.count("SELECT COUNT(*) FROM items") < n  # really interrupted mid-import
    assert integrity(daemon.db) == "ok"
    daemon.start()
    with daemon.client() as c:
        c.subscribe(["queue.progress", "item.added"])
        deadline = time.monotonic() + 90
        while daemon.count("SELECT COUNT(*) FROM items") < n and time.monotonic() < deadline:
            try:
                c.next_event(timeout=1)
            except TimeoutError:
                pass
        time.sleep(1.0)
    assert daemon.count("SELECT COUNT(*) FROM items") == n
    assert daemon.count("SELECT COUNT(DISTINCT audio_hash) FROM items") == n
    for path in paths:
        assert daemon.count("SELECT COUNT(*) FROM locations WHERE path = ? AND status = 'ok'", str(path)) == 1
    assert daemon.count("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')") == 0
    assert daemon.stop() == 0
    assert integrity(daemon.db) == "ok"


def test_sigterm_requeues_in_flight_work_and_changes_while_down_are_reconciled(daemon):
    daemon.start()
    with daemon.client() as c:
        c.subscribe(["item.added"])
        keep = daemon.drop(daemon.samples / "keep.wav", "kick", seed=601)
        gone = daemon.drop(daemon.samples / "gone.wav", "snare", seed=602)
        wait_for(c, lambda ev: {str(keep), str(gone)} <= {d["path"] for d in named(ev, "item.added")})
        more = [daemon.drop(daemon.samples / "more" / f"m{i}.wav", "tom", seed=610 + i) for i in range(6)]
        # wait until every new file has settled into the job queue (some may be in flight)
        prefix = f"{daemon.samples / 'more'}/%"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
                daemon.count("SELECT COUNT(*) FROM jobs WHERE path LIKE ?", prefix)
                + daemon.count("SELECT COUNT(*) FROM locations WHERE path LIKE ?", prefix)) < len(more):
            time.sleep(0.1)
    t0 = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - t0 < 8
    assert daemon.count("SELECT COUNT(*) FROM jobs WHERE state = 'running'") == 0
    done = daemon.count("SELECT COUNT(*) FROM items")
    queued = daemon.count("SELECT COUNT(*) FROM jobs WHERE state = 'queued'")
    assert done + queued >= 2 + len(more)  # nothing fell between "queued" and "stored"
    keep_id = daemon.count("SELECT item_id FROM locations WHERE path = ?", str(keep))
    # while the daemon is down: a rename, a delete and a new file
    renamed = daemon.samples / "keep-renamed.wav"
    os.rename(keep, renamed)
    os.remove(gone)
    new = daemon.drop(daemon.samples / "new.wav", "clap", seed=650)
    os.utime(new, (time.time() - 60, time.time() - 60))
    daemon.start()
    with daemon.client() as c:
        c.subscribe(["item.added"])
        deadline = time.monotonic() + 90
        while daemon.count("SELECT COUNT(*) FROM items") < 3 + len(more) and time.monotonic() < deadline:
            try:
                c.next_event(timeout=1)
            except TimeoutError:
                pass
        status = c.call("status")
    assert daemon.count("SELECT COUNT(*) FROM items") == 3 + len(more)
    assert daemon.count("SELECT item_id FROM locations WHERE path = ? AND status = 'ok'", str(renamed)) == keep_id
    assert daemon.count("SELECT COUNT(*) FROM locations WHERE path = ?", str(keep)) == 0
    assert daemon.count("SELECT COUNT(*) FROM locations WHERE path = ? AND status = 'missing'", str(gone)) == 1
    assert status["library"]["missing"] == 1
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log.read_text()
