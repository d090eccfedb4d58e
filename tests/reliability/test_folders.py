"""Issue 13.12: a watched folder deleted and re-created is watched again without a restart,
and at start-up a folder that looks unmounted or emptied is paused with a warning
instead of having every file marked missing."""

from __future__ import annotations

import json
import shutil

from daemon_support import named, wait_for
from rel_support import eventually, query, run_djml


def test_a_deleted_and_recreated_folder_is_watched_again(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    with d.client(timeout=60) as c:
        c.subscribe(["item.added"])
        first = d.drop(d.samples / "a.wav", "kick", seed=1)
        wait_for(c, lambda ev: any(e["path"] == str(first) for e in named(ev, "item.added")))
        shutil.rmtree(d.samples)
        d.samples.mkdir()
        later = d.drop(d.samples / "b.wav", "snare", seed=2)
        wait_for(c, lambda ev: any(e["path"] == str(later) for e in named(ev, "item.added")), timeout=60)
    assert d.stop() == 0


def test_an_emptied_root_at_start_up_is_paused_not_marked_missing(make_daemon, tmp_path):
    d = make_daemon(settle=0.3)
    d.start()
    with d.client(timeout=60) as c:
        c.subscribe(["item.added"])
        paths = [d.drop(d.samples / f"s{i}.wav", "perc", seed=30 + i) for i in range(3)]
        wait_for(c, lambda ev: {str(p) for p in paths} <= {e["path"] for e in named(ev, "item.added")})
    assert d.stop() == 0
    unmounted = tmp_path / "drive-contents"
    d.samples.rename(unmounted)          # the drive is gone; its empty mount point stays
    d.samples.mkdir()
    d.start()
    status = eventually(lambda: [w for w in json.loads(d.djml("status", "--json").stdout)["warnings"]
                                 if str(d.samples) in w], timeout=30, what="a paused-folder warning")
    assert "not marked missing" in status[0]
    assert query(d.db, "SELECT COUNT(*) FROM locations WHERE status = 'missing'")[0][0] == 0
    text = d.djml("status").stdout
    assert "paused" in text and str(d.samples) in text
    # the drive comes back: mounted on the mount point (a new folder there)
    d.samples.rmdir()
    unmounted.rename(d.samples)
    eventually(lambda: not json.loads(d.djml("status", "--json").stdout)["warnings"], timeout=30,
               what="the pause to end")
    assert query(d.db, "SELECT COUNT(*) FROM locations WHERE status = 'ok'")[0][0] == 3
    assert d.stop() == 0


def test_naming_an_emptied_folder_confirms_its_files_are_gone(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    with d.client(timeout=60) as c:
        c.subscribe(["item.added"])
        gone = d.drop(d.samples / "gone.wav", "kick", seed=9)
        wait_for(c, lambda ev: any(e["path"] == str(gone) for e in named(ev, "item.added")))
    assert d.stop() == 0
    gone.unlink()
    d.start()
    eventually(lambda: json.loads(d.djml("status", "--json").stdout)["warnings"], timeout=30, what="pause")
    out = d.djml("scan", str(d.samples))
    assert out.returncode == 0, out.stderr
    eventually(lambda: query(d.db, "SELECT status FROM locations WHERE path = ?", str(gone)) == [("missing",)],
               what="the file marked missing")
    assert d.stop() == 0
