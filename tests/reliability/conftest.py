"""Fixtures of the reliability suite (issue 13): daemons stopped by pid, a worker crash
hook, a small tmpfs. Plain helpers live in :mod:`rel_support`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemon_support import DaemonProcess
from rel_support import CRASH_MARK


@pytest.fixture
def make_daemon(tmp_path) -> Iterator[Callable[..., DaemonProcess]]:
    """``make_daemon(**config)`` → a configured, not yet started daemon; every daemon made
    is killed by pid at the end (with its workers) if the test left it running."""
    made: list[DaemonProcess] = []

    def make(extra_config: str = "", **config) -> DaemonProcess:
        d = DaemonProcess(tmp_path / "home", tmp_path / "music")
        d.home.mkdir(exist_ok=True)
        d.write_config(**config)
        if extra_config:
            with open(d.home / "config.toml", "a") as f:
                f.write(extra_config)
        made.append(d)
        return d

    yield make
    for d in made:
        if d.alive:
            d.kill9()


@pytest.fixture
def crash_hook(tmp_path, monkeypatch) -> str:
    """Make analysis workers die (SIGKILL, as a decoder segfault or the OOM killer would)
    when they open a file whose name contains :data:`CRASH_MARK`: a ``sitecustomize`` on
    PYTHONPATH installs an audit hook in worker processes only (the daemon or scan
    process itself is never hit). Returns the mark."""
    hook = tmp_path / "crash-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, signal, sys\n"
        "def _hook(event, args):\n"
        "    if event == 'open' and args and isinstance(args[0], (str, bytes)):\n"
        f"        if {CRASH_MARK!r} in os.fsdecode(args[0]):\n"
        "            import multiprocessing\n"
        "            if multiprocessing.parent_process() is not None:\n"
        "                os.kill(os.getpid(), signal.SIGKILL)\n"
        "sys.addaudithook(_hook)\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    return CRASH_MARK


@pytest.fixture
def mount_tmpfs() -> Iterator[Callable[[Path, str], Path]]:
    """``mount_tmpfs(folder, size)`` mounts a small tmpfs on ``folder`` (root on Linux
    only; skipped elsewhere); every mount is undone afterwards."""
    mounted: list[Path] = []

    def mount(folder: Path, size: str = "16m") -> Path:
        if os.geteuid() != 0 or not sys.platform.startswith("linux"):
            pytest.skip("mounting a tmpfs needs root on Linux")
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
