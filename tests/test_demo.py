"""`djml demo`: it runs end to end, never touches the user's own library, and a demo
track without a BPM does not crash the truth table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from djml import db
from djml.commands.setup import _truth_table
from djml.demo import DemoTrack
from djml.library import Library
from library_support import add_item

DJML = str(Path(sys.executable).with_name("djml"))


def test_demo_in_a_fresh_home_scans_and_shows_the_truth(run_djml, djml_home):
    proc = run_djml("demo", "--tracks", "2")
    assert proc.returncode == 0, proc.stderr
    assert "Demo tracks: made with → found by djml" in proc.stdout and "Unsorted samples" in proc.stdout
    assert "Wrote config" in proc.stderr and (djml_home / "config.toml").exists()
    listing = run_djml("ls", "--kind", "track", check=True)
    assert len(listing.stdout.splitlines()) == 2


def test_demo_leaves_the_users_library_alone(tmp_path):
    """After `djml init` for real music, `djml demo` (no DJML_HOME) used to scan its 55
    files into the user's library."""
    music = tmp_path / "Music"
    music.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DJML_HOME", "DJML_CONFIG")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_DATA_HOME=str(tmp_path / "xdg-data"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"), NO_COLOR="1", COLUMNS="120")
    (tmp_path / "run").mkdir()
    run = lambda *a: subprocess.run([DJML, *a], capture_output=True, text=True, env=env, timeout=240)  # noqa: E731
    assert run("init", "--library", str(music)).returncode == 0
    user_config = (tmp_path / "xdg-config" / "djml" / "config.toml").read_text()
    proc = run("demo", "--tracks", "1")
    assert proc.returncode == 0, proc.stderr
    demo_home = tmp_path / "xdg-data" / "djml-demo"
    assert f"export DJML_HOME={demo_home}" in proc.stderr
    assert (tmp_path / "xdg-config" / "djml" / "config.toml").read_text() == user_config
    assert "The library is empty" in run("ls").stdout   # the user's library: nothing added
    assert (demo_home / "data" / "library.db").exists() and (demo_home / "demo-music" / "tracks").is_dir()


def test_truth_table_shows_a_track_without_bpm(tmp_path):
    library = Library(db.connect(tmp_path / "library.db"))
    add_item(library, tmp_path, 1, bpm=None, key=None, artist="Low Sun", title="Morning Drift", name="t.flac")
    table = _truth_table(library.conn, [DemoTrack(tmp_path / "t.flac", 118.0, 9)])
    assert table.row_count == 1   # "—" where djml found no BPM, instead of a TypeError


def test_running_the_demo_again_reuses_its_home(run_djml, djml_home):
    run_djml("demo", "--tracks", "1", "--no-scan", check=True)
    again = run_djml("demo", "--tracks", "1", "--no-scan", check=True)
    assert "its own home" not in again.stderr and not (djml_home / "djml-demo").exists()
