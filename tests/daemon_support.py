"""Helpers for the daemon tests: a real `djml daemon run` subprocess on a temp DJML_HOME.

Every daemon started here is stopped by pid in the fixture finaliser (SIGTERM, then
SIGKILL), never by name, so no test leaves a process behind.
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from djml import synth
from djml.client import Client, DaemonNotRunning

DJML = str(Path(sys.executable).with_name("djml"))
_drops = itertools.count()


class DaemonProcess:
    def __init__(self, home: Path, music: Path):
        self.home = home
        self.music = music
        self.tracks = music / "tracks"
        self.samples = music / "samples"
        self.socket = home / "data" / "djml.sock"
        self.db = home / "data" / "library.db"
        self.log = home / "daemon-test.log"
        self.proc: subprocess.Popen | None = None

    def write_config(self, settle: float = 0.5, workers: int = 1, polling: bool = False,
                     embed_text: bool = False) -> None:
        """Text embeddings are off by default here: loading the sentence model costs ~10 s
        per daemon; the test that checks them turns them on."""
        self.tracks.mkdir(parents=True, exist_ok=True)
        self.samples.mkdir(parents=True, exist_ok=True)
        (self.home / "config.toml").write_text(
            f'library = ["{self.tracks}"]\nsamples = ["{self.samples}"]\nworkers = {workers}\n'
            f"settle_seconds = {settle}\npolling = {'true' if polling else 'false'}\n"
            f"embed_text = {'true' if embed_text else 'false'}\n"
        )

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DJML_HOME": str(self.home), "NO_COLOR": "1", "COLUMNS": "200"}

    def start(self, timeout: float = 60) -> "DaemonProcess":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([DJML, "daemon", "run", "--log-level", "DEBUG"], env=self.env,
                                         stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                Client(self.socket, timeout=5).close()
                return self
            except DaemonNotRunning:
                time.sleep(0.05)
        raise AssertionError("daemon did not answer in time:\n" + self.log.read_text()[-3000:])

    def drop(self, path: Path, kind: str = "kick", seed: int = 0) -> Path:
        """A short sample with unique audio (the seed changes the content), written outside
        the watched folders and renamed in, the way downloaders and copiers finish a file."""
        staging = self.music / "staging"
        staging.mkdir(exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = staging / f"drop-{next(_drops)}.wav"   # libsndfile cannot create every name
        synth.write_wav(tmp, synth.one_shot(kind, seed=seed))
        os.replace(tmp, path)
        return path

    def client(self, timeout: float = 30) -> Client:
        return Client(self.socket, timeout=timeout)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self._kill_workers(signal.SIGKILL)
        self.proc.kill()
        self.proc.wait(timeout=10)

    def _kill_workers(self, sig: int) -> None:
        """Worker processes of the daemon we started (its session), by pid."""
        assert self.proc is not None
        for pid in children(self.proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError("daemon ignored SIGTERM")

    def count(self, sql: str, *args) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return conn.execute(sql, args).fetchone()[0]
        finally:
            conn.close()

    def djml(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([DJML, *args], capture_output=True, text=True, env=self.env, timeout=timeout)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def wait_for(client: Client, predicate, timeout: float = 60.0) -> list[tuple[str, dict]]:
    """Collect events until ``predicate(events)`` is true; fails with what was seen."""
    seen: list[tuple[str, dict]] = []
    deadline = time.monotonic() + timeout
    while not predicate(seen):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; events seen: {seen}")
        try:
            seen.append(client.next_event(timeout=left))
        except TimeoutError:
            continue
    return seen


def named(events: list[tuple[str, dict]], name: str) -> list[dict]:
    return [data for event, data in events if event == name]


@contextmanager
def running_daemon(home: Path, music: Path, extra_config: str = "", **config) -> Iterator[DaemonProcess]:
    """A started daemon that is stopped by pid afterwards (SIGKILL if SIGTERM fails), and
    whose log must not contain a traceback."""
    d = DaemonProcess(home, music)
    d.write_config(**config)
    if extra_config:
        with open(home / "config.toml", "a") as f:
            f.write(extra_config)
    d.start()
    try:
        yield d
        assert d.stop() == 0, d.log.read_text()[-3000:]
    finally:
        if d.alive:
            d.kill9()
    assert "Traceback" not in d.log.read_text(), d.log.read_text()[-5000:]
