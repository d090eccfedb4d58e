"""Symbolic links inside watched folders never let djml read outside them: not through a
scan, the watcher, the start-up reconcile, a protocol ``scan``, nor a file swapped for a
link after it was checked. Links into another configured folder are followed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from djml import confine, synth
from djml.scan import WalkProblem, walk
from daemon_support import running_daemon


def _outside_wav(tmp_path: Path) -> Path:
    """Real audio outside every configured folder: refused for where it is, not for what."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    path = outside / "secret.wav"
    synth.write_wav(path, synth.one_shot("snare", seed=99))
    return path


def _eventually(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_walk_reports_links_that_leave_the_allowed_folders(tmp_path):
    root = tmp_path / "samples"
    root.mkdir()
    synth.write_wav(root / "kick.wav", synth.one_shot("kick", seed=1))
    (root / "passwd.wav").symlink_to("/etc/passwd")
    (root / "elsewhere").symlink_to(_outside_wav(tmp_path).parent, target_is_directory=True)
    found = list(walk([root], confine.real_roots([root])))
    paths = [x for x in found if isinstance(x, str)]
    problems = {Path(x.path).name: x.reason for x in found if isinstance(x, WalkProblem)}
    assert paths == [str(root / "kick.wav")]
    assert set(problems) == {"passwd.wav", "elsewhere"}
    assert "outside the configured folders" in problems["passwd.wav"]


def test_scan_refuses_a_link_out_and_follows_one_into_another_configured_folder(run_djml, tmp_path):
    tracks, samples = tmp_path / "tracks", tmp_path / "samples"
    tracks.mkdir()
    samples.mkdir()
    synth.write_wav(samples / "kick.wav", synth.one_shot("kick", seed=1))
    (samples / "passwd.wav").symlink_to("/etc/passwd")
    (samples / "secret.wav").symlink_to(_outside_wav(tmp_path))
    (tracks / "linked-kick.wav").symlink_to(samples / "kick.wav")     # inside: fine
    run_djml("init", "--library", tracks, "--samples", samples, check=True)
    scan = run_djml("scan")
    assert scan.returncode == 1
    out = scan.stdout + scan.stderr
    assert out.count("outside the configured folders") == 2
    listing = run_djml("ls", "--json", check=True).stdout
    assert "secret" not in listing and "passwd" not in listing
    assert "kick.wav" in listing


def test_a_checked_file_swapped_for_a_link_is_not_read(tmp_path):
    root = tmp_path / "samples"
    root.mkdir()
    path = root / "loop.wav"
    synth.write_wav(path, synth.one_shot("kick", seed=1))
    original = path.read_bytes()
    secret = _outside_wav(tmp_path)
    allowed = confine.real_roots([root])
    with confine.opened(str(path), allowed) as source:
        path.unlink()
        path.symlink_to(secret)                          # the swap, after the check
        assert Path(source).read_bytes() == original     # still the file that passed
    with pytest.raises(confine.Refused, match="outside the configured folders"):
        with confine.opened(str(path), allowed):
            pass


def test_a_folder_swapped_between_check_and_open_is_caught(tmp_path, monkeypatch):
    root = tmp_path / "samples"
    (root / "pack").mkdir(parents=True)
    secret = _outside_wav(tmp_path)
    (root / "pack").rmdir()
    (root / "pack").symlink_to(secret.parent, target_is_directory=True)
    target = root / "pack" / "secret.wav"
    # the check saw a plain folder (as it was a moment ago); the open goes through the link
    monkeypatch.setattr(confine, "check", _check_once_pretending(confine.check, str(target)))
    with pytest.raises(confine.Refused, match="outside"):
        with confine.opened(str(target), confine.real_roots([root])):
            pass


def _check_once_pretending(real_check, path: str):
    calls = []

    def check(p, allowed, refused=()):
        calls.append(p)
        if len(calls) == 1:
            return os.path.realpath(path)      # what the swap made it: outside
        return real_check(p, allowed, refused)
    return check


def test_data_folder_is_never_read_as_audio(tmp_path):
    root = tmp_path / "music"
    data = root / "djml-data"
    data.mkdir(parents=True)
    synth.write_wav(data / "x.wav", synth.one_shot("kick", seed=1))
    with pytest.raises(confine.Refused, match="data folder"):
        with confine.opened(str(data / "x.wav"), confine.real_roots([root]), confine.real_roots([data])):
            pass


def test_daemon_refuses_links_out_on_every_path(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    home.mkdir()
    secret = _outside_wav(tmp_path)
    with running_daemon(home, music) as d:
        d.drop(d.samples / "kick.wav", seed=1)
        (d.samples / "passwd.wav").symlink_to("/etc/passwd")              # watcher path
        _eventually(lambda: d.count("SELECT COUNT(*) FROM locations WHERE status = 'failed'") == 1
                    and d.count("SELECT COUNT(*) FROM items") == 1)
        with d.client() as client:
            (d.samples / "secret.wav").symlink_to(secret)
            client.call("scan")                                            # protocol scan {}
            _eventually(lambda: d.count("SELECT COUNT(*) FROM locations WHERE status = 'failed'") == 2)
            failed = {Path(f["path"]).name: f["error"] for f in client.call("failed")}
        assert set(failed) == {"passwd.wav", "secret.wav"}
        assert all("outside the configured folders" in e for e in failed.values())
        assert d.count("SELECT COUNT(*) FROM items") == 1
        d.stop()
        (d.samples / "later.wav").symlink_to(secret.parent / "secret.wav")  # start-up reconcile
        d.start()
        _eventually(lambda: d.count("SELECT COUNT(*) FROM locations WHERE status = 'failed'") == 3)
        assert d.count("SELECT COUNT(*) FROM items") == 1
