"""Early analysis on a real daemon: files analysed while they settle are stored only if
they did not change, a file still open for writing is never analysed early, and a kill
while results are held loses nothing (djml.daemon.early)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from daemon_support import named, running_daemon, wait_for
from djml import synth
from djml.pipeline import Settings, process_file

SETTLE = 3.0   # long enough for an early analysis and a rewrite before the file settles


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with running_daemon(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("music"), settle=SETTLE) as d:
        with d.client() as c:           # start the worker once: the tests time the settle, not its start
            c.subscribe(["item.added"])
            first = d.drop(d.samples / "warm" / "first.wav", "kick", seed=1)
            wait_for(c, lambda ev: str(first) in stored_paths(ev))
        yield d


def stored_paths(events) -> set[str]:
    return {data["path"] for name in ("item.added", "item.updated") for data in named(events, name)}


def one_shot(folder: Path, name: str, kind: str, seed: int) -> tuple[bytes, str]:
    """The bytes of a one-shot and the audio hash the daemon will store for them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    synth.write_wav(path, synth.one_shot(kind, seed=seed))
    result = process_file(str(path), "sample", Settings())
    assert result.analysis is not None
    return path.read_bytes(), result.analysis.audio_hash


def early_counts(client) -> dict[str, int]:
    return client.call("status")["queue"]["early"]


def wait_early(client, predicate, within: float) -> dict[str, int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        counts = early_counts(client)
        if predicate(counts):
            return counts
        time.sleep(0.05)
    raise AssertionError(f"early counts never got there: {early_counts(client)}")


def hashes_at(daemon, path: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(f"file:{daemon.db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT i.audio_hash FROM locations l JOIN items i ON i.id = l.item_id"
                            " WHERE l.path = ?", (str(path),)).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


def test_a_file_rewritten_while_settling_is_stored_with_its_new_content(daemon):
    staging = daemon.music / "early-staging"
    old, old_hash = one_shot(staging, "old.wav", "kick", seed=501)
    new, new_hash = one_shot(staging, "new.wav", "clap", seed=502)
    target = daemon.samples / "rewrite" / "shot.wav"
    target.parent.mkdir(parents=True)
    with daemon.client() as c:
        c.subscribe(["item.added", "item.updated", "item.failed"])
        before = early_counts(c)
        dropped = time.monotonic()
        os.replace(staging / "old.wav", target)
        wait_early(c, lambda n: n["held"] >= 1, within=SETTLE - 1.0)   # the old bytes were analysed
        assert time.monotonic() - dropped < SETTLE - 0.5                 # and it has not settled yet
        with open(target, "wb") as out:                                  # rewritten in place
            out.write(new)
        events = wait_for(c, lambda ev: str(target) in stored_paths(ev))
        events += list(c.events(timeout=1.0))
        after = early_counts(c)
    stores = [d for name in ("item.added", "item.updated", "item.failed") for d in named(events, name)
              if d["path"] == str(target)]
    assert len(stores) == 1, stores                          # stored once, after the settle
    assert hashes_at(daemon, target) == [new_hash]
    assert daemon.count("SELECT COUNT(*) FROM items WHERE audio_hash = ?", old_hash) == 0
    assert after["redone"] >= before["redone"] + 1           # the old result was thrown away
    assert old != new


def test_a_file_still_being_written_is_not_analysed_early(daemon):
    staging = daemon.music / "early-staging"
    data, full_hash = one_shot(staging, "growing.wav", "snare", seed=601)
    target = daemon.samples / "growing" / "shot.wav"
    target.parent.mkdir(parents=True)
    with daemon.client() as c:
        c.subscribe(["item.added", "item.updated", "item.failed"])
        before = early_counts(c)
        with open(target, "wb") as out:
            out.write(data[: len(data) // 2])
            out.flush()
            early_seen = []
            deadline = time.monotonic() + SETTLE + 0.5        # still longer than the settle, never closed
            while time.monotonic() < deadline:
                counts = early_counts(c)
                early_seen.append(counts["pending"] + counts["held"] - before["pending"] - before["held"])
                time.sleep(0.1)
            assert max(early_seen) == 0
            assert str(target) not in stored_paths(list(c.events(timeout=0.1)))
            out.write(data[len(data) // 2:])
        events = wait_for(c, lambda ev: str(target) in stored_paths(ev))
    assert hashes_at(daemon, target) == [full_hash]
    assert not [d for d in named(events, "item.failed") if d["path"] == str(target)]


def test_kill_9_while_early_results_are_held_loses_nothing(tmp_path):
    (tmp_path / "home").mkdir()
    with running_daemon(tmp_path / "home", tmp_path / "music", settle=SETTLE) as d:
        staging = d.music / "early-staging"
        shots = [one_shot(staging, f"s{i}.wav", "hihat", seed=700 + i) for i in range(3)]
        targets = [d.samples / "killed" / f"s{i}.wav" for i in range(3)]
        targets[0].parent.mkdir(parents=True)
        with d.client() as c:
            for i, target in enumerate(targets):
                os.replace(staging / f"s{i}.wav", target)
            wait_early(c, lambda n: n["held"] >= 1, within=SETTLE - 0.5)
        assert d.count("SELECT COUNT(*) FROM items") == 0    # held in memory only
        d.kill9()
        d.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(hashes_at(d, t) for t in targets):
            time.sleep(0.1)
        assert [hashes_at(d, t) for t in targets] == [[h] for _, h in shots]


def test_status_shows_the_early_counts(daemon):
    """`djml status` prints the counts the status call returns (queue.early)."""
    import re

    with daemon.client() as c:
        counts = early_counts(c)
    out = daemon.djml("status")
    assert out.returncode == 0, out.stderr
    line = re.search(r"^early: +(\d+) analysed while settling and kept, (\d+) analysed again", out.stdout, re.M)
    assert line is not None, out.stdout
    assert (int(line[1]), int(line[2])) == (counts["used"], counts["redone"])
