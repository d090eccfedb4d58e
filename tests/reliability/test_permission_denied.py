"""Issue 17: permission-denied paths were never tested, because CI runs as root (root reads
every file). Here the `djml` child runs without the capabilities that bypass file modes
(files_support.unprivileged), so an unreadable file or folder and a read-only file are
met for real: a scan reports them and goes on, `tags write` leaves them as they are."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from djml.interop.tagio import TagFile
from files_support import djml, library_paths, scanned_library, text, unprivileged, write_track


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_scan_reports_an_unreadable_file_and_folder_and_imports_the_rest(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    readable = write_track(music / "open.wav", seconds=2.0)
    locked = write_track(music / "locked.wav", seconds=2.0, bpm=130.0)
    hidden = write_track(music / "closed" / "inside.wav", seconds=2.0, bpm=126.0)
    djml(home, "init", "--library", music, check=True)
    os.chmod(locked, 0)
    os.chmod(music / "closed", 0)
    try:
        probe = djml(home, "analyze", locked, text=True, **unprivileged())
        assert probe.returncode != 0 and "not readable" in text(probe)   # the child obeys modes
        proc = djml(home, "scan", text=True, **unprivileged())
        assert proc.returncode == 1, text(proc)
        out = text(proc)
        assert "Traceback" not in out
        assert "locked.wav" in out and "closed" in out and out.count("ermission denied") >= 2
        assert library_paths(home) == [str(readable)]
        failed = djml(home, "ls", "--failed", "--json", text=True, check=True, **unprivileged())
        reasons = {row["path"]: row.get("error") or row.get("reason") for row in map(json.loads, failed.stdout.splitlines())}
        assert "permission denied" in (reasons.get(str(locked)) or "").lower()
    finally:
        os.chmod(music / "closed", 0o755)
        os.chmod(locked, 0o644)
    again = djml(home, "scan", text=True, **unprivileged())
    assert again.returncode == 0, text(again)
    assert sorted(library_paths(home)) == sorted(map(str, (readable, locked, hidden)))


@pytest.mark.parametrize("protect", ["file", "folder"])
def test_tags_write_leaves_a_read_only_file_alone(tmp_path, protect):
    home, music = tmp_path / "home", tmp_path / "music"
    tracks = scanned_library(home, music / "crate", count=2)
    target = tracks[0]
    before = _sha(target)
    protected = target if protect == "file" else target.parent
    mode = 0o444 if protect == "file" else 0o555
    os.chmod(protected, mode)
    try:
        proc = djml(home, "tags", "write", text=True, **unprivileged())
        assert proc.returncode == 1, text(proc)
        assert f"refused {target}" in proc.stderr and "read-only" in proc.stderr, proc.stderr
        assert _sha(target) == before
        assert not [p for p in os.listdir(target.parent) if ".djml-" in p]
        if protect == "file":
            assert TagFile(tracks[1]).get("bpm")           # the writable one was written
    finally:
        os.chmod(protected, 0o755 if protect == "folder" else 0o644)
