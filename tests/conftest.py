"""Shared fixtures: an isolated DJML_HOME per test, a way to run the real `djml` command,
and small generated audio files with known answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DJML = str(Path(sys.executable).with_name("djml"))


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
