"""The scanner's walk: finds audio by extension, survives loops and unreadable folders."""

import os

import pytest

from djml.pipeline import FileStat, Settings, process_file
from djml.scan import WalkProblem, walk


def test_walk_finds_audio_and_ends_on_symlink_loops(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("one.WAV", "two.flac", "notes.txt", "cover.jpg", "three.mp3"):
        (tmp_path / "a" / name).write_bytes(b"x")
    (tmp_path / "a" / "b" / "deep.aiff").write_bytes(b"x")
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "back-up")
    os.symlink(tmp_path / "nowhere", tmp_path / "a" / "dangling.wav")
    found = [p for p in walk([tmp_path]) if not isinstance(p, WalkProblem)]
    names = sorted(os.path.basename(p) for p in found)
    assert names == ["dangling.wav", "deep.aiff", "one.WAV", "three.mp3", "two.flac"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder_is_a_problem_not_a_crash(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        problems = [p for p in walk([tmp_path]) if isinstance(p, WalkProblem)]
        assert problems and "permission denied" in problems[0].reason
    finally:
        locked.chmod(0o755)


def test_process_file_turns_every_problem_into_a_reason(tmp_path):
    settings = Settings()
    vanished = process_file(str(tmp_path / "gone.wav"), None, settings)
    assert vanished.error and "vanished" in vanished.error
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    assert "0 bytes" in process_file(str(empty), None, settings).error
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(os.urandom(2000))
    result = process_file(str(garbage), "sample", settings)
    assert result.error and result.analysis is None


def test_file_stat_fingerprint_changes_on_write(tmp_path):
    path = tmp_path / "f.wav"
    path.write_bytes(b"abc")
    before = FileStat.of(path)
    path.write_bytes(b"abcd")
    assert FileStat.of(path) != before
