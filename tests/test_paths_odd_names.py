"""File names that are not valid UTF-8 (disks copied from old Windows, Samba, FAT) and
names with control characters: stored losslessly, shown escaped, never stopping a loop."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from djml import db, synth
from djml.library import Library
from djml.pipeline import FileStat
from djml.safetext import display, dumps
from daemon_support import running_daemon

BAD = os.fsdecode(b"m_bad_\xff.wav")          # byte 0xff is not UTF-8
NASTY = "osc\x1b]52;c;aGk=\x07.wav"               # an OSC 52 clipboard write in a name


def _eventually(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def _write(folder: Path, name: str, kind: str = "kick", seed: int = 0) -> Path:
    """libsndfile cannot even create such a name: write, then rename."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / f".staging-{seed}.wav"
    synth.write_wav(plain, synth.one_shot(kind, seed=seed))
    path = folder / name
    os.replace(plain, path)
    return path


@pytest.mark.parametrize("text", [BAD, "Café – Ünïcode", "\U0010ff80 and \U0010ff7f", "plain", ""])
def test_stored_text_round_trips_and_is_valid_utf8(text):
    stored = db.to_db_text(text)
    stored.encode("utf-8")                                   # SQLite can hold it
    assert db.from_db_text(stored) == text


def test_library_keeps_an_undecodable_path_exactly(tmp_path):
    path = str(_write(tmp_path / "music", BAD))
    conn = db.connect(tmp_path / "library.db")
    library = Library(conn)
    library.enqueue([path])
    library.record_failure(path, FileStat.of(path), "test")
    known = library.locations_under([tmp_path / "music"])
    assert list(known) == [path]
    assert os.path.exists(next(iter(known)))
    assert conn.execute("SELECT path FROM jobs").fetchone()["path"] == path
    conn.close()
    # what another SQLite reader sees is valid UTF-8 text, not an error
    raw = sqlite3.connect(tmp_path / "library.db").execute("SELECT path FROM locations").fetchone()[0]
    assert raw.endswith(".wav") and raw != path


def test_display_escapes_bytes_and_control_characters():
    assert display(BAD) == "m_bad_\\xff.wav"
    assert display(NASTY) == "osc\\x1b]52;c;aGk=\\x07.wav"
    assert display("Café") == "Café"
    assert json.loads(dumps({"p": BAD}))["p"] == BAD


def test_scan_imports_everything_next_to_an_undecodable_name(run_djml, djml_home, tmp_path):
    samples = tmp_path / "samples"
    for i in range(3):
        _write(samples, f"ok_{i}.wav", seed=i)
    bad = _write(samples, BAD, seed=10)
    nasty = _write(samples, NASTY, seed=11)
    run_djml("init", "--samples", samples, check=True)
    scan = run_djml("scan", check=True)
    assert "5 new" in scan.stdout + scan.stderr
    listing = run_djml("ls", check=True).stdout
    assert "m_bad_\\xff.wav" in listing
    assert "\x1b" not in listing and "\x07" not in listing
    rows = [json.loads(line) for line in run_djml("ls", "--json", check=True).stdout.splitlines()]
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in [*samples.glob("ok_*"), bad, nasty])
    shown = run_djml("show", str(bad), "--json", check=True)
    assert json.loads(shown.stdout)["path"] == str(bad)
    assert run_djml("scan", check=True).returncode == 0      # a rescan finds it unchanged


def test_daemon_imports_everything_next_to_an_undecodable_name(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    home.mkdir()
    with running_daemon(home, music) as d:
        d.drop(d.samples / BAD, seed=1)
        for i in range(3):
            d.drop(d.samples / f"after_{i}.wav", seed=2 + i)
        _eventually(lambda: d.count("SELECT COUNT(*) FROM items") == 4)
        listing = d.djml("ls")
        assert listing.returncode == 0 and "m_bad_\\xff.wav" in listing.stdout
        rows = [json.loads(line) for line in d.djml("ls", "--json").stdout.splitlines()]
        assert str(d.samples / BAD) in {r["path"] for r in rows}
        d.stop()
        # start-up reconcile with the name already in the library, and a new file since
        d.drop(d.samples / "while_down.wav", seed=9)
        d.start()
        _eventually(lambda: d.count("SELECT COUNT(*) FROM items") == 5)
        with d.client() as client:
            status = client.call("status")
        assert status["queue"]["failures"] == 0
