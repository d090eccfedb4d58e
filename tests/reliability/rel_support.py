"""Helpers of the reliability suite (issue 13): a real daemon or a real `djml scan`
on a temp DJML_HOME, generated audio, hostile files, and process and fault tools.

Every process started here is stopped by pid (never by name); faults are real: a worker
killed by a signal, a lowered fd limit on the daemon's pid (prlimit), a full tmpfs.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from daemon_support import DJML, children
from djml import synth

CRASH_MARK = "crash-me"


def eventually(predicate: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def query(db: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def write_db(db: Path, sql: str, *args) -> None:
    """Change the library directly (only while no daemon runs), e.g. to recreate the state
    a kill leaves behind."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def sample(path: Path, kind: str = "kick", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    synth.write_wav(path, synth.one_shot(kind, seed=seed))
    return path


def wav_header(path: Path, *, rate: int, channels: int, data_bytes: int, bits: int = 16,
               fmt: int = 1) -> Path:
    """A WAV whose header says what the caller wants (a header bomb), with ``data_bytes``
    of quiet noise as its data."""
    block = channels * bits // 8
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, fmt, channels, rate, rate * block, block, bits)
    header += b"data" + struct.pack("<I", data_bytes)
    noise = (np.random.default_rng(1).standard_normal(data_bytes // 2) * 300).astype("<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + noise[:data_bytes])
    return path


def float_wav(path: Path, values: np.ndarray, rate: int = 44100) -> Path:
    """A 32-bit float WAV holding exactly ``values`` (NaN and inf included)."""
    data = values.astype("<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32)
    header += b"data" + struct.pack("<I", len(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + data)
    return path


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_djml(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """`djml ARGS` as a user runs it. On a timeout the command and every process it
    started are killed by pid before failing: a regression (say a worker that outlives
    its parent, eating memory on a header bomb) must not outlive the test either."""
    env = {**os.environ, "DJML_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([DJML, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        family = descendants(proc.pid)
        proc.kill()
        kill_all(family)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def descendants(pid: int) -> list[int]:
    """Children, grandchildren … of ``pid`` (from /proc)."""
    found, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        found += kids
        todo += kids
    return found


def init_library(home: Path, tracks: Path, samples: Path, extra: str = "") -> None:
    """A config with these folders (written directly: the suite tests scan, not init)."""
    home.mkdir(parents=True, exist_ok=True)
    tracks.mkdir(parents=True, exist_ok=True)
    samples.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'library = ["{tracks}"]\nsamples = ["{samples}"]\nworkers = 1\n{extra}')


def lower_fd_limit(pid: int, soft: int) -> tuple[int, int]:
    """Lower the soft RLIMIT_NOFILE of a running process; returns the old limits."""
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, old[1]))
    return old


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def fill_disk(path: Path, leave: int = 0) -> Path:
    """Fill the file system of ``path`` to the last block with one file at ``path``, then
    give back ``leave`` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512):
            block = b"\0" * size
            try:
                while True:
                    os.write(fd, block)
            except OSError:
                pass
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return path
