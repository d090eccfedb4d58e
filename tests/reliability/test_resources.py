"""Issue 13.5: after resource errors (too many open files, disk full) the queue backs off
and resumes by itself once they clear, with the reason shown in `djml status`; no file
is failed for the machine's fault."""

from __future__ import annotations

import json
import os
import resource

from daemon_support import named, wait_for
from rel_support import eventually, fill_disk, lower_fd_limit, open_fds, query


def _warnings(d) -> list[str]:
    out = d.djml("status", "--json", timeout=60)
    return json.loads(out.stdout).get("warnings", []) if out.returncode == 0 else []


def test_fd_exhaustion_pauses_the_queue_and_it_resumes_by_itself(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    pid = d.proc.pid
    with d.client() as c:
        c.subscribe(["item.added"])
        d.drop(d.samples / "first.wav", "kick", seed=1)
        wait_for(c, lambda ev: bool(named(ev, "item.added")))
    assert d.stop() == 0
    d.start()                                  # no workers started yet: they need new fds
    pid = d.proc.pid
    eventually(lambda: "running" in d.djml("status").stdout, what="the daemon up")
    old = lower_fd_limit(pid, open_fds(pid) + 3)
    try:
        paths = [d.drop(d.samples / f"s{i}.wav", "tom", seed=10 + i) for i in range(3)]
        paused = eventually(lambda: [w for w in _warnings(d) if "too many open files" in w], timeout=60,
                            what="the pause reason in status")
        assert "resumes by itself" in paused[0]
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    eventually(lambda: query(d.db, "SELECT COUNT(*) FROM items")[0][0] == 4, timeout=90, what="the import")
    eventually(lambda: not _warnings(d), timeout=30, what="the warning to clear")
    assert query(d.db, "SELECT COUNT(*) FROM locations WHERE status = 'failed'")[0][0] == 0
    assert all(query(d.db, "SELECT status FROM locations WHERE path = ?", str(p)) == [("ok",)] for p in paths)
    assert d.stop() == 0
    assert "Traceback" not in d.log.read_text()


def test_a_full_disk_pauses_the_queue_and_it_resumes_by_itself(make_daemon, mount_tmpfs):
    d = make_daemon(settle=0.3)
    mount_tmpfs(d.home / "data", "24m")
    d.start()
    with d.client() as c:
        c.subscribe(["item.added"])
        d.drop(d.samples / "first.wav", "kick", seed=1)
        wait_for(c, lambda ev: bool(named(ev, "item.added")))
    filler = fill_disk(d.home / "data" / "filler")
    paths = [d.drop(d.samples / f"s{i}.wav", "tom", seed=20 + i) for i in range(3)]
    try:
        eventually(lambda: [w for w in _warnings(d) if "disk full" in w], timeout=60,
                   what="'disk full' in status")
    finally:
        os.unlink(filler)
    eventually(lambda: query(d.db, "SELECT COUNT(*) FROM items")[0][0] == 4, timeout=90, what="the import")
    eventually(lambda: not _warnings(d), timeout=30, what="the warning to clear")
    assert query(d.db, "SELECT COUNT(*) FROM locations WHERE status = 'failed'")[0][0] == 0
    assert all(query(d.db, "SELECT status FROM locations WHERE path = ?", str(p)) == [("ok",)] for p in paths)
    assert d.stop() == 0
