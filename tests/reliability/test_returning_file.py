"""Issue 13.4: a file that went missing and comes back unchanged keeps its location row
(it was deleted: "3 unchanged", 0 locations), in `djml scan` and in the daemon."""

from __future__ import annotations

import os

from daemon_support import named, wait_for
from rel_support import eventually, init_library, query, run_djml, sample


def test_scan_keeps_the_location_of_a_file_that_came_back(tmp_path):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    paths = [sample(samples / f"k{i}.wav", "kick", seed=i) for i in range(3)]
    assert run_djml(home, "scan", "-q").returncode == 0
    aside = tmp_path / "aside"
    aside.mkdir()
    for p in paths:
        os.replace(p, aside / p.name)
    assert "3 missing" in run_djml(home, "scan", "-q").stderr
    for p in paths:
        os.replace(aside / p.name, p)            # same inode, size and mtime
    back = run_djml(home, "scan", "-q")
    assert "3 unchanged" in back.stderr, back.stderr
    db = home / "data" / "library.db"
    assert query(db, "SELECT COUNT(*) FROM locations WHERE status = 'ok'")[0][0] == 3
    assert query(db, "SELECT COUNT(*) FROM items")[0][0] == 3
    shown = run_djml(home, "ls", "--json")
    assert shown.stdout.count("\n") == 3


def test_daemon_keeps_the_location_of_a_file_that_came_back(make_daemon, tmp_path):
    d = make_daemon(settle=0.3)
    d.start()
    path = d.drop(d.samples / "back.wav", "snare", seed=5)
    with d.client() as c:
        c.subscribe(["item.added", "item.missing", "item.updated"])
        wait_for(c, lambda ev: any(e["path"] == str(path) for e in named(ev, "item.added")))
        aside = tmp_path / "aside.wav"
        os.replace(path, aside)
        wait_for(c, lambda ev: bool(named(ev, "item.missing")))
    assert d.stop() == 0
    os.replace(aside, path)   # back while the daemon was down: the start-up reconcile sees it
    d.start()
    eventually(lambda: query(d.db, "SELECT status FROM locations WHERE path = ?", str(path)) == [("ok",)],
               what="the location back to ok")
    assert query(d.db, "SELECT COUNT(*) FROM items")[0][0] == 1
    assert d.stop() == 0
