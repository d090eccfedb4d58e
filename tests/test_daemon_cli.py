"""The CLI with and without a daemon: start/stop/status, and ls/show/status/scan giving the
same answers whether they read the library file or ask the daemon."""

from __future__ import annotations

import json
import os
import time

import pytest

from daemon_support import DaemonProcess
from djml.client import RemoteError
from djml.daemon.main import running_pid


@pytest.fixture
def setup(tmp_path):
    d = DaemonProcess(tmp_path / "home", tmp_path / "music")
    d.home.mkdir()
    d.write_config(settle=0.3)
    yield d
    pid = running_pid(d.home / "data" / "daemon.pid")
    if pid is not None:  # a background daemon this test started
        d.djml("daemon", "stop")
    if d.alive:
        d.kill9()


def test_start_status_stop_in_the_background(setup):
    d = setup
    status = d.djml("daemon", "status")
    assert status.returncode == 3 and "not running" in status.stdout
    assert "daemon not running" not in d.djml("status").stdout  # no library yet: clear error
    started = d.djml("daemon", "start")
    assert started.returncode == 0, started.stderr
    pid = running_pid(d.home / "data" / "daemon.pid")
    assert pid is not None and f"pid {pid}" in started.stdout
    assert "already running" in d.djml("daemon", "start").stdout
    status = d.djml("daemon", "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["pid"] == pid
    out = d.djml("status").stdout
    assert "daemon:   running" in out and "queue:" in out and "library:" in out
    stopped = d.djml("daemon", "stop")
    assert stopped.returncode == 0 and f"stopped (pid {pid})" in stopped.stdout
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()
    assert "not running" in d.djml("daemon", "stop").stdout
    offline = d.djml("status")
    assert offline.returncode == 0 and "daemon:   not running" in offline.stdout
    assert (d.home / "data" / "daemon.log").read_text().count("ready:") == 1


def test_stop_never_signals_a_process_that_is_not_our_daemon(setup):
    d = setup
    pid_file = d.home / "data" / "daemon.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{os.getpid()}\n")  # stale file naming a live stranger (this test)
    result = d.djml("daemon", "stop")
    assert result.returncode == 0 and "not running" in result.stdout


def test_ls_show_status_scan_are_the_same_through_the_daemon(setup):
    d = setup
    for i, kind in enumerate(["kick", "hihat", "clap"]):
        d.drop(d.samples / f"{kind}.wav", kind, seed=700 + i)
    assert d.djml("scan", "-q").returncode == 0
    commands = [("ls", "--json"), ("ls",), ("ls", "--kind", "sample", "--limit", "2"),
                ("ls", "--json", "--sort", "name", "--desc"), ("ls", "--sort", "energy", "--limit", "2"),
                ("show", "1", "--json"),
                ("show", str(d.samples / "hihat.wav")), ("ls", "--failed")]
    offline = {cmd: d.djml(*cmd) for cmd in commands}
    assert all(r.returncode == 0 for r in offline.values()), offline
    d.start()
    with d.client() as c:
        c.call("status")
        with pytest.raises(RemoteError, match=r"unknown sort 'tempo': choose one of id, added.*\(invalid_params\)"):
            c.call("query", sort="tempo")
    online = {cmd: d.djml(*cmd) for cmd in commands}
    for cmd in commands:
        assert online[cmd].stdout == offline[cmd].stdout, cmd
        assert online[cmd].returncode == offline[cmd].returncode
    assert "no item matches" in d.djml("show", "999").stderr
    assert "daemon:   running" in d.djml("status").stdout
    # scan goes through the daemon: it queues, the daemon analyses
    d.drop(d.samples / "extra" / "snare.wav", "snare", seed=799)
    scanned = d.djml("scan", str(d.samples))
    assert scanned.returncode == 0 and "The daemon is running" in scanned.stderr
    deadline = time.monotonic() + 60
    while d.count("SELECT COUNT(*) FROM items") < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert d.count("SELECT COUNT(*) FROM items") == 4
    refused = d.djml("scan", "/etc")
    assert refused.returncode == 2 and "outside the configured folders" in refused.stderr
    assert d.stop() == 0
