"""Issue 13.8: `kill -9` of `djml scan` (or of the daemon) leaves no worker or
resource-tracker process behind."""

from __future__ import annotations

import os
import signal
import subprocess

from daemon_support import DJML, named, wait_for
from rel_support import alive, children, eventually, init_library, kill_all, sample


def test_killed_scan_leaves_no_workers(tmp_path):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples, extra="")
    (home / "config.toml").write_text((home / "config.toml").read_text().replace("workers = 1", "workers = 2"))
    for i in range(40):
        sample(samples / f"s{i:02d}.wav", "perc", seed=i)
    env = {**os.environ, "DJML_HOME": str(home)}
    scan = subprocess.Popen([DJML, "scan", "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        workers = eventually(lambda: len(children(scan.pid)) >= 2 and children(scan.pid), timeout=60,
                             what="scan workers")
    finally:
        scan.kill()
        scan.wait()
    try:
        eventually(lambda: not any(alive(pid) for pid in workers), timeout=10, what="workers to exit")
        # the caller's stdout is no longer held open by anything
        assert scan.stdout.read() is not None
    finally:
        kill_all([pid for pid in workers if alive(pid)])


def test_killed_daemon_leaves_no_workers(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    with d.client() as c:
        c.subscribe(["item.added"])
        d.drop(d.samples / "k.wav", "kick", seed=1)
        wait_for(c, lambda ev: bool(named(ev, "item.added")))
    workers = children(d.proc.pid)
    assert workers
    os.kill(d.proc.pid, signal.SIGKILL)       # only the daemon: its workers must follow
    d.proc.wait()
    try:
        eventually(lambda: not any(alive(pid) for pid in workers), timeout=10, what="workers to exit")
    finally:
        kill_all([pid for pid in workers if alive(pid)])
