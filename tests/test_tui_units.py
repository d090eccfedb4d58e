"""Pure parts of the TUI: filter parsing, lazy paging, M3U8 export, preview decisions,
sparklines and bars, and the read-only label counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from djml.tui import chain, preview
from djml.tui.filters import Pager, parse_filter
from djml.tui.widgets.bars import bar, prediction_lines
from djml.tui.widgets.spark import spark


def test_parse_filter_fields_and_free_words():
    params = parse_filter("kind:track bpm:128-120 energy:7 key:Am genre:techno label:peak-time daft punk")
    assert params == {"kind": "track", "bpm": "128-120", "energy": "7", "key": "8A", "genre": "techno",
                      "label": "peak-time", "search": "daft punk"}


def test_parse_filter_compatible_keys_go_to_the_query_as_one_filter():
    assert parse_filter("key:Am~") == {"key": "8A~"}


@pytest.mark.parametrize("text, message", [("kind:loop", "track or sample"), ("bpm:fast", "range like 120-128"),
                                           ("energy:loud", "range like 6-8"),
                                           ("key:", "needs a value"), ("key:H#", "H#")])
def test_parse_filter_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_filter(text)


class FakeQuery:
    """query(limit, offset) over ``n`` rows."""

    def __init__(self, n: int):
        self.rows = [{"id": i} for i in range(1, n + 1)]
        self.calls: list[dict] = []

    def __call__(self, params: dict) -> dict:
        self.calls.append(params)
        rows = self.rows
        page = rows[params["offset"]:params["offset"] + params["limit"]]
        return {"items": page, "more": params["offset"] + params["limit"] < len(rows)}


def test_pager_fetches_one_page_at_a_time():
    fetch = FakeQuery(100_000)
    pager = Pager(fetch, {}, page=200)
    first = pager.next_page()
    assert [r["id"] for r in first] == list(range(1, 201))
    assert len(fetch.calls) == 1 and fetch.calls[0]["limit"] == 200   # never the whole library
    second = pager.next_page()
    assert second[0]["id"] == 201 and len(fetch.calls) == 2
    assert not pager.exhausted


def test_pager_reads_every_page_once_until_exhausted():
    fetch = FakeQuery(500)
    pager = Pager(fetch, {"key": "8A~"}, page=30)
    got = []
    while page := pager.next_page():
        got += page
    assert [r["id"] for r in got] == list(range(1, 501))
    assert [c["offset"] for c in fetch.calls] == list(range(0, 510, 30))
    assert all(c["key"] == "8A~" for c in fetch.calls)
    assert pager.exhausted and pager.loaded == 500 and pager.next_page() == []


def test_m3u8_export(tmp_path):
    tracks = [{"id": 1, "artist": "Anna", "title": "Night", "duration": 301.4, "path": "/m/a.flac"},
              {"id": 2, "artist": None, "title": None, "duration": None, "path": "/m/b kick.wav"}]
    path = chain.export(tracks, "set", cwd=tmp_path)
    assert path == tmp_path / "set.m3u8"
    assert path.read_text(encoding="utf-8") == (
        "#EXTM3U\n#EXTINF:301,Anna - Night\n/m/a.flac\n#EXTINF:-1,b kick.wav\n/m/b kick.wav\n")
    into_folder = chain.export(tracks, str(tmp_path), cwd=Path("/"))
    assert into_folder.parent == tmp_path and into_folder.name.startswith("djml-set-")


def test_m3u8_export_errors_lose_nothing(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        chain.export([], "x.m3u8", cwd=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        chain.export([{"id": 1, "path": "/a.wav"}], "nowhere/x.m3u8", cwd=tmp_path)
    with pytest.raises(ValueError, match="no known file path"):
        chain.export([{"id": 1, "path": None}], "x.m3u8", cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []


def _which(*installed):
    return lambda name: f"/usr/bin/{name}" if name in installed else None


def test_preview_explains_why_it_cannot_play(tmp_path):
    audio = tmp_path / "a.flac"
    audio.write_bytes(b"x")
    no_snd = tmp_path / "nosnd"
    p = preview.plan(str(audio), env={}, which=_which(), dev_snd=no_snd)
    assert p.argv is None and "no audio player is installed" in p.message
    p = preview.plan(str(audio), env={"SSH_CONNECTION": "1 2 3 4"}, which=_which("ffplay"), dev_snd=no_snd)
    assert p.argv is None and "no sound device" in p.message and "over SSH" in p.message
    p = preview.plan(str(tmp_path / "gone.wav"), env={}, which=_which("ffplay"), dev_snd=no_snd)
    assert p.argv is None and "missing" in p.message


def test_preview_picks_a_player_that_matches_the_sound_system(tmp_path):
    audio = tmp_path / "a.flac"
    audio.write_bytes(b"x")
    snd = tmp_path / "snd"
    snd.mkdir()
    (snd / "pcmC0D0p").touch()
    p = preview.plan(str(audio), env={}, which=_which("paplay", "aplay", "ffplay"), dev_snd=snd)
    assert p.argv[:2] == ["ffplay", "-nodisp"] and p.argv[-1] == str(audio)
    p = preview.plan(str(audio), env={}, which=_which("paplay", "aplay"), dev_snd=snd)
    assert p.argv is None  # paplay needs PulseAudio, aplay cannot play FLAC
    p = preview.plan(str(audio), env={"PULSE_SERVER": "unix:/x"}, which=_which("paplay"), dev_snd=tmp_path / "no")
    assert p.argv == ["paplay", str(audio)]
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"x")
    assert preview.plan(str(wav), env={}, which=_which("aplay"), dev_snd=snd).argv == ["aplay", "-q", str(wav)]


def test_spark_and_bars():
    assert spark([0.0, 0.5, 1.0], lo=0, hi=1) == "▁▅█"
    assert spark([None, 1.0], lo=0, hi=1) == " █"
    assert spark([]) == ""
    assert bar(0.5, 10) == "█████░░░░░" and bar(None, 4) == "░░░░" and bar(7, 3) == "███"
    text = prediction_lines([["kick", 0.75], ["snare", 0.2]], width=4).plain
    assert text == "kick   ███░ 0.75\nsnare  █░░░ 0.20"
    long = prediction_lines([["progressive house", 0.5], ["techno", 0.3]], width=4).plain
    assert long.splitlines()[0] == "progressive house ██░░ 0.50"   # whole, not "progress"
