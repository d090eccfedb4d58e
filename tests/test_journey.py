"""A DJ's first day, scripted: real files in six formats (made by ffmpeg, tagged the way
converters and DJ software tag them), a real daemon, `djml` commands as typed in a shell,
and the TUI in tmux at 80×24 and 120×40. Asserts on the screen text and the database.

What it walks through (issue 14): help opens and closes on every screen at both sizes;
AIFF and WAV tags are read; relative paths work while the daemon runs; `--bpm 128`
matches what the listing shows; file names are searchable; labels, undo and buckets from
the CLI and the TUI are one list; exports hold the user's labels unless asked for
guesses; decoder chatter stays out of the log and the terminal.

One module-scoped daemon serves the whole walk (the expensive part is analysis); each
step is its own test, in order. Formats whose encoder this ffmpeg lacks are skipped with
the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon_support import named, running_daemon, wait_for
from djml import keys, synth

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed"),
]
DJML = str(Path(sys.executable).with_name("djml"))
# (file, artist, title, genre, bpm, key, ffmpeg encoder, how its tags get written)
TRACKS = [
    ("House/Kilo Tape - Night Bus.mp3", "Kilo Tape", "Night Bus", "House", 122, "Em", "libmp3lame", "ffmpeg"),
    ("House/Low Sun - Morning Drift.m4a", "Low Sun", "Morning Drift", "Deep House", 118, "Am", "aac", "ffmpeg"),
    ("Techno/Ironclad - Peak Stomper.aiff", "Ironclad", "Peak Stomper", "Metal", 128, "Fm", "pcm_s16be", "id3"),
    ("Techno/Ironclad - Strobe Logic.flac", "Ironclad", "Strobe Logic", "Techno", 130, "Cm", "flac", "ffmpeg"),
    ("Techno/Subfield - Concrete Rain.wav", "Subfield", "Concrete Rain", "Dubstep", 140, "F#m", "pcm_s16le", "id3"),
    ("Downtempo/Tape Echo - Last Call.opus", "Tape Echo", "Last Call", "Downtempo", 96, "G", "libopus", "ffmpeg"),
    ("Unsorted/DirtyLove.mp3", None, None, None, 124, "Gm", "libmp3lame", None),
]
SAMPLES = [("Kicks/BD_Hard_01.wav", "kick", 1), ("Kicks/BD_Deep_02.wav", "kick", 2),
           ("Snares/SD_Crack_01.wav", "snare", 3), ("Snares/SD_Tight_02.wav", "snare", 4),
           ("Unsorted/hit_07.wav", "kick", 5), ("Unsorted/hit_08.wav", "hihat", 6)]
DAMAGED = b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x00" + bytes(range(256)) * 3) * 40


def _encoders() -> set[str]:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return {line.split()[1] for line in out.splitlines() if len(line.split()) > 1 and line.startswith(" A")}


def _make_track(path: Path, staging: Path, entry: tuple, encoders: set[str]) -> str | None:
    """Write one track (None if made, else why it was skipped)."""
    name, artist, title, genre, bpm, key, encoder, tagger = entry
    if encoder not in encoders:
        return f"{Path(name).suffix}: this ffmpeg has no {encoder} encoder"
    wav = staging / (Path(name).stem + ".src.wav")
    synth.write_wav(wav, synth.drum_track(bpm, keys.parse(key), 12.0, seed=bpm))
    args = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", encoder]
    if tagger == "ffmpeg":
        args += ["-metadata", f"artist={artist}", "-metadata", f"title={title}", "-metadata", f"genre={genre}"]
    tmp = staging / Path(name).name
    subprocess.run([*args, str(tmp)], check=True)
    if tagger == "id3":  # what rekordbox / Traktor / Mp3tag write into AIFF and WAV
        from mutagen import File, id3

        audio = File(tmp)
        if audio.tags is None:
            audio.add_tags()
        for frame in (id3.TPE1(encoding=3, text=[artist]), id3.TIT2(encoding=3, text=[title]),
                      id3.TCON(encoding=3, text=[genre])):
            audio.tags.add(frame)
        audio.save()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, path)   # finished files arrive whole, as a copier's rename does
    return None


class Journey:
    def __init__(self, daemon, made: dict[str, Path], skipped: list[str]):
        self.d, self.made, self.skipped = daemon, made, skipped
        self.ids: dict[str, int] = {}

    def djml(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([DJML, *args], capture_output=True, text=True, env=self.d.env, cwd=cwd, timeout=120)

    def db(self, sql: str, *params) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.d.db}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    home, music = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("music")
    with running_daemon(home, music, settle=0.3) as d:
        staging = music / "staging"
        staging.mkdir()
        encoders = _encoders()
        made, skipped = {}, []
        with d.client(timeout=120) as c:
            c.subscribe(["item.added", "item.failed"])
            for entry in TRACKS:
                why = _make_track(d.tracks / entry[0], staging, entry, encoders)
                if why:
                    skipped.append(why)
                else:
                    made[entry[0]] = d.tracks / entry[0]
            for name, kind, seed in SAMPLES:
                made[name] = d.drop(d.samples / name, kind, seed=seed)
            bad = staging / "broken.mp3"
            bad.write_bytes(DAMAGED)
            os.replace(bad, d.tracks / "Unsorted" / "broken.mp3")
            want = {str(p) for p in made.values()}
            events = wait_for(c, lambda ev: want <= {e["path"] for e in named(ev, "item.added")}
                              and any(e["path"].endswith("broken.mp3") for e in named(ev, "item.failed")),
                              timeout=240)
        j = Journey(d, made, skipped)
        j.ids = {e["path"]: e["item_id"] for e in named(events, "item.added")}
        # predictions (folder labels, the shipped sample model) follow in a batch
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and d.count(
                "SELECT COUNT(*) FROM predictions WHERE task = 'sample_type'") < len(SAMPLES):
            time.sleep(0.3)
        yield j


def _id(j: Journey, name: str) -> int:
    return j.ids[str(j.made[name])]


def test_tags_of_every_format_are_read_aiff_and_wav_included(journey):
    j = journey
    for name, artist, title, genre, *_ in TRACKS:
        if name not in j.made or artist is None:
            continue
        row = j.db("SELECT artist, title, genre FROM items WHERE id = ?", _id(j, name))[0]
        assert row == (artist, title, genre), name
    assert any(n.endswith((".aiff", ".wav")) for n in j.made if n.startswith(("House", "Techno")))


def test_relative_paths_work_while_the_daemon_runs(journey):
    j = journey
    name = next(n for n in j.made if n.endswith(".aiff")) if any(n.endswith(".aiff") for n in j.made) else \
        "House/Kilo Tape - Night Bus.mp3"
    cwd = j.d.tracks / Path(name).parent
    local = f"./{Path(name).name}"
    shown = j.djml("show", local, "--json", cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == _id(j, name)
    rec = j.djml("recommend", local, "--json", "--key", "any", "--bpm-tolerance", "50", cwd=cwd)
    assert rec.returncode == 0, rec.stderr
    rows = [json.loads(line) for line in rec.stdout.splitlines()]
    assert rows and all(r["seed"]["id"] == _id(j, name) for r in rows)
    text = j.djml("recommend", local, "-n", "2", cwd=cwd)
    assert text.stdout.startswith(f"After #{_id(j, name)} ")


def test_one_bpm_matches_what_the_listing_shows(journey):
    j = journey
    for name, *_, bpm, _key, _enc, _tag in TRACKS:
        if name not in j.made:
            continue
        (stored,) = j.db("SELECT bpm FROM analyses WHERE item_id = ?", _id(j, name))[0]
        if stored is None:
            continue
        shown = round(stored)
        listed = j.djml("ls", "--bpm", str(shown), "--json")
        assert _id(j, name) in {json.loads(line)["id"] for line in listed.stdout.splitlines()}, (name, stored)


def test_file_and_folder_names_are_searchable(journey):
    j = journey
    kicks = j.djml("ls", "--search", "kick", "--json")
    found = {json.loads(line)["id"] for line in kicks.stdout.splitlines()}
    assert {_id(j, "Kicks/BD_Hard_01.wav"), _id(j, "Kicks/BD_Deep_02.wav")} <= found
    if "Unsorted/DirtyLove.mp3" in j.made:
        shown = j.djml("show", "DirtyLove", "--json")
        assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == _id(j, "Unsorted/DirtyLove.mp3")


def test_cli_labels_undo_and_buckets_through_the_daemon(journey):
    j = journey
    bus = _id(j, "House/Kilo Tape - Night Bus.mp3")
    typo = j.djml("label", "night bus", "peak-tme")
    assert typo.returncode == 2 and "did you mean 'peak-time'" in typo.stderr
    done = j.djml("label", "kilo tape night bus", "peak-time")
    assert done.returncode == 0 and "bucket 'peak-time'" in done.stdout, done.stderr
    assert j.db("SELECT label FROM labels WHERE item_id = ? AND undone_at IS NULL", bus) == [("peak-time",)]
    assert "undid bucket 'peak-time'" in j.djml("unlabel", str(bus)).stdout
    assert j.djml("label", str(bus), "peak-time").returncode == 0
    listing = j.djml("buckets").stdout
    assert "peak-time" in listing and "1 labelled" in listing
    # a sample's folder label undone from the CLI stays undone
    deep = _id(j, "Kicks/BD_Deep_02.wav")
    assert "undid sample_type 'kick'" in j.djml("unlabel", str(deep)).stdout


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_screen(session: str, text: str, timeout: float = 30.0, gone: bool = False) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = _screen(session)
        if (text in screen) != gone:
            return screen
        time.sleep(0.15)
    raise AssertionError(f"{text!r} {'stayed' if gone else 'never appeared'}; screen:\n{_screen(session)}")


def _keys(session: str, *keys: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *keys], check=True)


def _type(session: str, text: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, "-l", text], check=True)


def _tui(j: Journey, session: str, *args: str, size: tuple[int, int] = (80, 24)) -> None:
    env = f"DJML_HOME={j.d.home} NO_COLOR=1 TERM=xterm-256color"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]),
                    f"{env} {DJML} {' '.join(args)}; echo EXIT=$?; sleep 60"], check=True)


SCREENS = [("R", "Review ·"), ("L", "Library ·"), ("M", "Recommendations"), ("S", "Daemon pid")]


def test_help_opens_and_closes_on_every_screen_at_80x24_and_120x40(journey):
    j = journey
    session = f"djml-journey-help-{os.getpid()}"
    _tui(j, session, "tui")
    try:
        _wait_screen(session, "to review")
        for size in ((80, 24), (120, 40)):
            _tmux("resize-window", "-t", session, "-x", str(size[0]), "-y", str(size[1]))
            for key, marker in SCREENS:
                _keys(session, key)
                _wait_screen(session, marker)
                _keys(session, "?")
                screen = _wait_screen(session, "Everywhere")
                assert "Esc, q or ? closes this help" in screen, (size, key, screen)   # not cut off
                _keys(session, "Escape")
                _wait_screen(session, "Everywhere", gone=True)
                assert marker in _screen(session)
        _keys(session, "q")
        assert "EXIT=0" in _wait_screen(session, "EXIT=")
    finally:
        _tmux("kill-session", "-t", session)


def test_a_bucket_made_in_the_tui_exists_everywhere(journey):
    j = journey
    drift = next((n for n in j.made if "Morning Drift" in n), None) or "Techno/Ironclad - Strobe Logic.flac"
    words = Path(drift).stem.split(" - ")[1]
    session = f"djml-journey-label-{os.getpid()}"
    _tui(j, session, "review", "--task", "buckets")
    try:
        _wait_screen(session, "to review")
        _keys(session, "/")
        _wait_screen(session, "filter the queue")
        _type(session, words.lower())
        _keys(session, "Enter")
        _wait_screen(session, f"filter “{words.lower()}”")
        _keys(session, "e")
        _wait_screen(session, "new label for")
        _type(session, "after-hours")
        _keys(session, "Enter")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not j.db(
                "SELECT 1 FROM labels WHERE item_id = ? AND label = 'after-hours'", _id(j, drift)):
            time.sleep(0.2)
        assert j.db("SELECT task, source FROM labels WHERE item_id = ? AND label = 'after-hours'", _id(j, drift)) \
            == [("bucket", "user")], _screen(session)
        _keys(session, "q")
    finally:
        _tmux("kill-session", "-t", session)
    assert "after-hours" in j.djml("buckets").stdout


def test_exports_hold_the_users_labels_unless_guesses_are_asked_for(journey, tmp_path):
    j = journey
    out = tmp_path / "lists"
    assert j.djml("export", "m3u", str(out)).returncode == 0
    entries = lambda path: [x for x in path.read_text().splitlines() if x and not x.startswith("#")]  # noqa: E731
    peak = entries(out / "buckets" / "peak-time.m3u8")
    assert len(peak) == 1 and "Night Bus" in peak[0]   # the one track labelled peak-time
    kick = "\n".join(entries(out / "samples" / "kick.m3u8"))
    assert "BD_Hard_01.wav" in kick and "hit_0" not in kick   # the model's guesses stay out
    assert "BD_Deep_02.wav" not in kick   # its folder label was undone
    guessed = tmp_path / "guessed"
    proc = j.djml("export", "m3u", str(guessed), "--predicted", "--min-confidence", "0")
    assert proc.returncode == 0 and "model guesses" in proc.stdout
    for name in ("Unsorted/hit_07.wav", "Unsorted/hit_08.wav"):
        (guess,) = j.db("SELECT label FROM predictions WHERE item_id = ? AND task = 'sample_type'", _id(j, name))[0]
        mine = out / "samples" / f"{guess}.m3u8"
        assert not mine.exists() or Path(name).name not in mine.read_text()
        assert Path(name).name in (guessed / "samples" / f"{guess}.m3u8").read_text()


def test_decoder_chatter_stays_out_of_the_log_and_the_terminal(journey):
    j = journey
    log = j.d.log.read_text(errors="replace")
    assert "broken.mp3" in log or j.db("SELECT COUNT(*) FROM locations WHERE status = 'failed'")[0][0] >= 1
    for noise in ("libmpg123", "Trying to resync", "it/s]"):
        assert noise not in log, noise
    analysed = j.djml("analyze", str(j.d.tracks / "Unsorted" / "broken.mp3"))
    assert analysed.returncode == 1 and "resync" not in analysed.stderr and "libmpg123" not in analysed.stderr


def test_an_always_failing_file_is_not_retried_until_touched(journey):
    j = journey
    broken = j.d.tracks / "Unsorted" / "broken.mp3"
    before = j.db("SELECT last_seen FROM locations WHERE path = ?", str(broken))
    with j.d.client() as c:
        c.subscribe(["item.failed"])
        c.call("scan")
        with pytest.raises(AssertionError):   # no new attempt while the file is unchanged
            wait_for(c, lambda ev: any(e["path"] == str(broken) for e in named(ev, "item.failed")), timeout=5)
        assert j.db("SELECT last_seen FROM locations WHERE path = ?", str(broken)) == before
        os.utime(broken)
        c.call("scan")
        wait_for(c, lambda ev: any(e["path"] == str(broken) for e in named(ev, "item.failed")), timeout=30)


def test_skipped_formats_are_reported(journey):
    """Not a check of djml: a note in the test report when this ffmpeg lacks an encoder."""
    if journey.skipped:
        pytest.skip("; ".join(journey.skipped))
