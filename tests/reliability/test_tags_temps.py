"""Issue 13.9: `kill -9` of `djml tags write` left hidden ``.NAME.djml-tmp.EXT`` copies
that the next scan imported. A real `djml tags write` is killed with SIGKILL while its
copy exists; the copy must never reach the library and must be cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from djml.scan import walk
from files_support import DJML, djml, env_for, leftovers, library_paths, scanned_library, text, write_track
from djml.daemon.watcher import is_audio


def _kill_mid_write(home: Path, music: Path, attempts: int = 8) -> list[str]:
    """Start `djml tags write`, SIGKILL it the moment a temporary copy shows up in
    ``music``; retry (undoing a finished batch) until a kill lands mid-write."""
    for _ in range(attempts):
        proc = subprocess.Popen([DJML, "tags", "write"], env=env_for(home), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if any(".djml-" in name for name in os.listdir(music)):
                    os.kill(proc.pid, signal.SIGKILL)
                    break
        finally:
            if proc.poll() is None and time.monotonic() >= deadline:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        found = leftovers(music)
        if proc.returncode == -signal.SIGKILL and found:
            return found
        djml(home, "scan")
        djml(home, "tags", "undo")
    raise AssertionError("no kill landed while a copy existed")


def test_a_killed_tags_write_leaves_nothing_a_scan_imports(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    tracks = scanned_library(home, music, count=6)
    found = _kill_mid_write(home, music)
    assert found, "the kill must have left a copy behind for this test to mean anything"
    # The walker never offers the copy as audio (the daemon's watcher neither) ...
    assert not [p for p in walk([music]) if isinstance(p, str) and ".djml-" in p]
    assert not any(is_audio(p) for p in found)
    # ... so the next scan imports no copy, and it deletes the leftover.
    scan = djml(home, "scan")
    assert scan.returncode in (0, 1), text(scan)
    assert sorted(library_paths(home)) == sorted(map(str, tracks))
    assert leftovers(music) == []


def test_tags_write_cleans_a_killed_writes_copy_first(tmp_path):
    """The next `tags write` deletes the leftover even when it writes other files."""
    home, music = tmp_path / "home", tmp_path / "music"
    tracks = scanned_library(home, music, count=6)
    found = _kill_mid_write(home, music)
    other = next(t for t in tracks if not any(t.stem in leftover for leftover in found))
    again = djml(home, "tags", "write", "--search", other.stem)
    assert again.returncode in (0, 1), text(again)
    assert leftovers(music) == []


def test_old_style_leftovers_are_ignored_and_cleaned(tmp_path):
    """Copies named by older djml versions (``.NAME.djml-tmp.EXT``), beside their original."""
    from djml.tagtemps import is_temporary

    home, music = tmp_path / "home", tmp_path / "music"
    tracks = scanned_library(home, music, count=2)
    old = music / f".{tracks[0].stem}.djml-tmp.wav"
    old.write_bytes(tracks[0].read_bytes())
    assert is_temporary(old.name)
    assert [p for p in walk([music]) if isinstance(p, str)] == sorted(map(str, tracks))
    djml(home, "scan", check=True)
    assert sorted(library_paths(home)) == sorted(map(str, tracks))
    assert djml(home, "tags", "write").returncode == 0
    assert not old.exists()


def test_sweep_removes_only_copies_of_dead_writers(tmp_path):
    from djml.tagtemps import is_temporary, register, sweep, temporary_for

    data, music = tmp_path / "data", tmp_path / "music"
    original = write_track(music / "a.wav", seconds=1.0)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = music / f".djml-tagwrite-{dead.pid}-a.wav"
    alive = music / f".djml-tagwrite-{os.getppid()}-a.wav"
    for path in (stale, alive):
        path.write_bytes(b"copy")
        register(data, path)
    assert temporary_for(original).parent == music and is_temporary(temporary_for(original).name)
    assert sweep(data) == [str(stale)]
    assert alive.exists() and original.exists()
    alive.unlink()
    assert sweep(data) == [] and (data / "tag-history" / "tag-temporaries").read_bytes() == b""
