"""Shared fixtures: an isolated DJML_HOME per test, a way to run the real `djml` command,
and small generated audio files with known answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DJML = str(Path(sys.executable).with_name("djml"))


@pytest.fixture(scope="session", autouse=True)
def own_tmux_server():
    """A tmux server per test process (TMUX_TMPDIR): parallel workers that start tmux at the
    same moment would otherwise race for the one default socket, and a session can end up on
    a server that exits under it."""
    folder = tempfile.mkdtemp(prefix="djml-tmux-")
    old = os.environ.get("TMUX_TMPDIR")
    os.environ["TMUX_TMPDIR"] = folder
    # A server exits when its last session ends; a test that starts a session just then can
    # land on the exiting server and lose its TUI. One idle session keeps this process's
    # server up until the end; kill-server then stops only this server (our own socket).
    tmux = shutil.which("tmux")
    if tmux:
        subprocess.run([tmux, "new-session", "-d", "-s", "djml-keepalive", "sleep 86400"], check=False)
    yield
    if tmux:
        subprocess.run([tmux, "kill-server"], capture_output=True, check=False)
    if old is None:
        os.environ.pop("TMUX_TMPDIR", None)
    else:
        os.environ["TMUX_TMPDIR"] = old
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def djml_home(tmp_path, monkeypatch) -> Path:
    """Everything djml writes goes below this folder (config, data, socket)."""
    home = tmp_path / "djml-home"
    home.mkdir()
    monkeypatch.setenv("DJML_HOME", str(home))
    monkeypatch.delenv("DJML_CONFIG", raising=False)
    return home


@pytest.fixture
def run_djml(djml_home):
    """Run the installed `djml` console script in a subprocess, as a user would."""

    def run(*args: str, check: bool | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
        env = {**os.environ, "DJML_HOME": str(djml_home), "NO_COLOR": "1", "COLUMNS": "200"}
        proc = subprocess.run([DJML, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"djml {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run
