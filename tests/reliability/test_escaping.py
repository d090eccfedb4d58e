"""Issue 13: file names (and tags) with terminal escape sequences were printed raw by
`ls`, `show`, `analyze` … — a full OSC 52 clipboard write reached the terminal. Every
human-readable output of every command escapes them; --json stays lossless JSON.

One library with hostile names in file names, folder names and tags is walked through
the commands, without and with a daemon; no output may hold a raw control character."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import mutagen.wave
from mutagen import id3

from djml import synth
from files_support import DJML, djml, text, write_track
from daemon_support import running_daemon

OSC52 = "\x1b]52;c;cHduZWQ=\x07"                   # "write 'pwned' to the clipboard"
CLEAR = "\x1b[2J\x1b[31m"                           # clear the screen, turn red
C1 = "\x9b2J"                                        # the 8-bit CSI form
RAW = re.compile(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


def _tag(path: Path, artist: str, title: str) -> None:
    audio = mutagen.wave.WAVE(path)
    audio.add_tags()
    audio.tags.add(id3.TPE1(encoding=3, text=[artist]))
    audio.tags.add(id3.TIT2(encoding=3, text=[title]))
    audio.save()


def _hostile_library(root: Path) -> dict[str, Path]:
    tracks, samples = root / f"tracks{OSC52}{CLEAR}", root / "samples"
    track = write_track(tracks / f"night{OSC52}bus.wav", bpm=124.0)
    _tag(track, f"artist{CLEAR}", f"title{OSC52}{C1}")
    plain = write_track(tracks / "plain.wav", bpm=126.0)
    samples.mkdir(parents=True)
    sample = samples / f"kick{CLEAR}.wav"
    staging = samples / "staging.wav"
    synth.write_wav(staging, synth.one_shot("kick"))
    os.replace(staging, sample)
    broken = tracks / f"broken{OSC52}.wav"
    broken.write_bytes(b"RIFF not really audio" * 10)
    return {"tracks": tracks, "samples": samples, "track": track, "plain": plain, "sample": sample,
            "broken": broken}


def _assert_safe(proc, what: str) -> None:
    for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        data = stream if isinstance(stream, bytes) else os.fsencode(stream)
        found = RAW.search(data)
        assert found is None, f"{what}: raw control {found.group()!r} in {name}: {data[:2000]!r}"


def _walk(run, paths: dict[str, Path], out: Path) -> dict[str, bytes]:
    track_id = _item_id(run, paths["track"])
    sample_id = _item_id(run, paths["sample"])
    commands = {
        "ls": ["ls"], "ls-failed": ["ls", "--failed"], "ls-samples": ["ls", "--kind", "sample"],
        "show-id": ["show", str(track_id)], "show-path": ["show", str(paths["track"]), "--all"],
        "show-text": ["show", "night"], "show-sample": ["show", str(sample_id)],
        "status": ["status"], "folders": ["folders"], "buckets": ["buckets"],
        "analyze": ["analyze", str(paths["track"]), str(paths["broken"])],
        "recommend": ["recommend", str(paths["plain"])], "recommend-seed": ["recommend", str(track_id)],
        "recommend-sample": ["recommend", str(sample_id)],
        "label": ["label", str(track_id), "peak-time"], "unlabel": ["unlabel", str(track_id)],
        "predict": ["predict", str(sample_id)],
        "export-m3u": ["export", "m3u", str(out / "m3u")],
        "export-rekordbox": ["export", "rekordbox", str(out / "rb.xml")],
        "tags-dry": ["tags", "write", "--dry-run"], "tags-write": ["tags", "write"],
        "tags-history": ["tags", "history"], "tags-undo": ["tags", "undo"],
        "scan-missing": ["scan", str(paths["tracks"] / f"gone{OSC52}.wav")],
    }
    outputs = {}
    for name, args in commands.items():
        proc = run(*args)
        assert "Traceback" not in text(proc), f"{name}: {text(proc)}"
        _assert_safe(proc, name)
        outputs[name] = proc.stdout + proc.stderr
    return outputs


def _item_id(run, path: Path) -> int:
    return json.loads(run("show", str(path), "--json").stdout)["id"]


def test_every_command_escapes_hostile_names_without_a_daemon(tmp_path):
    home = tmp_path / "home"
    paths = _hostile_library(tmp_path / "music")
    djml(home, "init", "--library", paths["tracks"], "--samples", paths["samples"], check=True)
    scan = djml(home, "scan")
    assert scan.returncode == 1                            # the broken file failed, named
    _assert_safe(scan, "scan")
    assert b"broken\\x1b]52;c;cHduZWQ=\\x07.wav" in scan.stdout + scan.stderr
    outputs = _walk(lambda *a: djml(home, *a), paths, tmp_path)
    assert b"night\\x1b]52;c;cHduZWQ=\\x07bus.wav" in outputs["show-path"]
    assert b"artist\\x1b[2J\\x1b[31m" in outputs["ls"] and b"\\x9b2J" in outputs["show-id"]
    # Machine output is lossless: the exact names, as JSON.
    rows = [json.loads(line) for line in djml(home, "ls", "--json", check=True).stdout.splitlines()]
    assert str(paths["track"]) in {r["path"] for r in rows}
    assert f"title{OSC52}{C1}" in {r.get("title") for r in rows}
    shown = json.loads(djml(home, "show", str(paths["track"]), "--json", check=True).stdout)
    assert shown["path"] == str(paths["track"])


def test_every_command_escapes_hostile_names_through_the_daemon(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    paths = _hostile_library(tmp_path / "elsewhere")
    with running_daemon(home, tmp_path / "music") as d:
        # into the daemon's folders (music/tracks, music/samples) while it watches
        tracks = d.tracks / paths["tracks"].name
        os.replace(paths["tracks"], tracks)
        os.replace(paths["sample"], d.samples / paths["sample"].name)
        moved = {"tracks": tracks, "samples": d.samples, "sample": d.samples / paths["sample"].name,
                 **{key: tracks / paths[key].name for key in ("track", "plain", "broken")}}
        deadline = time.monotonic() + 120
        while d.count("SELECT COUNT(*) FROM items") < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert d.count("SELECT COUNT(*) FROM items") == 3

        def run(*args):
            return subprocess.run([DJML, *args], capture_output=True, env=d.env, timeout=240)

        outputs = _walk(run, moved, tmp_path)
        assert b"night\\x1b]52;c;cHduZWQ=\\x07bus.wav" in outputs["show-path"]
        assert b"artist\\x1b[2J\\x1b[31m" in outputs["ls"]
    assert RAW.search(d.log.read_bytes()) is None, "the daemon log holds a raw control character"


def test_the_tui_shows_hostile_names_escaped(tmp_path, monkeypatch):
    """Library, recommendations and status screens with hostile names, genres and failed
    paths: what the terminal would get (the screenshot) has no control character, and a
    name's brackets are text, not markup."""
    import asyncio

    import tui_fakes
    from djml.config import from_dict
    from djml.tui.app import DjmlApp

    hostile = f"Ann{CLEAR} - Night [bold]{OSC52}{C1}"
    items = [dict(i) for i in tui_fakes.ITEMS]
    items[0].update(artist=f"Ann{CLEAR}", title=f"Night [bold]{OSC52}{C1}", genre=f"techno{CLEAR}",
                    path=f"/music/tracks/{hostile}.wav")
    items[4].update(path=f"/music/samples/kick{OSC52}.wav", label=f"kick{CLEAR}")
    recommend = [dict(r, artist=f"Bo{CLEAR}", title=f"Lantern{OSC52}") for r in tui_fakes.RECOMMEND]
    failed = [dict(f, path=f"/music/tracks/broken{OSC52}.mp3", error=f"bad{CLEAR}") for f in tui_fakes.FAILED]
    monkeypatch.setattr(tui_fakes, "ITEMS", items)
    monkeypatch.setattr(tui_fakes, "RECOMMEND", recommend)
    monkeypatch.setattr(tui_fakes, "FAILED", failed)
    config = from_dict({"data_dir": str(tmp_path / "data")}, tmp_path / "config.toml")

    async def screens() -> list[str]:
        shots = []
        for start, keys in (("library", ()), ("library", ("enter",)), ("status", ())):
            app = DjmlApp(config, link=tui_fakes.FakeLink(), start=start)
            async with app.run_test(size=(160, 40)) as pilot:
                await pilot.pause(0.3)
                for key in keys:
                    await pilot.press(key)
                    await pilot.pause(0.5)
                shots.append(app.export_screenshot())
        return shots

    library, recommendations, status = asyncio.run(screens())
    for name, svg in (("library", library), ("recommend", recommendations), ("status", status)):
        found = re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", svg)
        assert found is None, f"{name}: raw {found.group()!r} on screen"
    assert "x1b]52;c;cHduZWQ=" in library and "[bold]" in library and "techno\\x1b[2J" in library
    assert "Lantern\\x1b]52" in recommendations and "Night&#160;[bold]" in recommendations.replace(" ", "&#160;")
    assert "broken\\x1b]52" in status
