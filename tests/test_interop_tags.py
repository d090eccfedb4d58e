"""Tag write-back and undo on real files in every format soundfile can write, scanned into a
real library by the real analyser; plus the CLI end to end (scan → export → import → tags)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import soundfile as sf

from djml import config as config_mod
from djml import db, keys, synth
from djml.analysis.decode import Decoder, probe
from djml.interop.collect import collect
from djml.interop.tagio import TagError, TagFile, format_bpm, format_gain, format_peak
from djml.interop.tagwrite import FileChange, _rewrite, batches, mp4_audio_bytes, tags_undo, tags_write
from djml.library import Library
from djml.query import Filters
from djml.scan import scan

# suffix -> soundfile (format, subtype, sample rate)
FORMATS = {
    ".mp3": ("MP3", "MPEG_LAYER_III", 44100),
    ".flac": ("FLAC", "PCM_16", 44100),
    ".ogg": ("OGG", "VORBIS", 44100),
    ".opus": ("OGG", "OPUS", 48000),
    ".aiff": ("AIFF", "PCM_16", 44100),
    ".wav": ("WAV", "PCM_16", 44100),
}
TEMPLATE = "{camelot} · energy {energy} · {bucket}"


def _write(path, seconds=6.0, bpm=124.0, key=21, sr=44100, fmt="WAV", subtype="PCM_16"):
    y = synth.drum_track(bpm, key, seconds, sr=sr)
    sf.write(str(path), np.stack([y, y], axis=1), sr, format=fmt, subtype=subtype)


def _hash(path) -> str:
    decoder = Decoder(path, target_sr=probe(path).sample_rate)
    for _ in decoder.blocks():
        pass
    return decoder.audio_hash


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """One file per format plus one outside the configured folders, scanned once."""
    base = tmp_path_factory.mktemp("tags")
    music, outside = base / "Música #1", base / "elsewhere"
    music.mkdir()
    outside.mkdir()
    for n, (suffix, (fmt, subtype, sr)) in enumerate(FORMATS.items()):
        _write(music / f"track {n} & co{suffix}", bpm=120.0 + 2 * n, sr=sr, fmt=fmt, subtype=subtype)
    _write(outside / "stray.wav")
    cfg = config_mod.from_dict({"library": [str(music)], "data_dir": str(base / "data"), "workers": 2,
                                "tag_template": TEMPLATE}, base / "config.toml")
    library = Library(db.connect(cfg.db_path))
    summary = scan(cfg, library, [music, outside])
    assert summary.failed == [] and summary.new == len(FORMATS) + 1
    return cfg, library, music, outside


@pytest.fixture
def lib(scanned, tmp_path):
    """A private copy of the scanned library and files (tests modify both)."""
    cfg, library, music, outside = scanned
    root = tmp_path / "copy"
    shutil.copytree(music.parent, root, copy_function=shutil.copy2)
    # Relocate: the copy's paths differ, so rewrite locations to point at the copied files.
    new_cfg = config_mod.from_dict({"library": [str(root / music.name)], "data_dir": str(root / "data"),
                                    "tag_template": TEMPLATE}, root / "config.toml")
    conn = db.connect(new_cfg.db_path)
    conn.execute("UPDATE locations SET path = replace(path, ?, ?)", (str(music.parent), str(root)))
    copied = Library(conn)
    for loc in conn.execute("SELECT path FROM locations").fetchall():
        copied.record_tag_write(loc["path"], {})     # the copy has new inodes and times
    return new_cfg, copied, root / music.name, root / outside.name


def _tracks(library, **filters):
    return collect(library.conn, Filters(**filters)).tracks


def test_write_verify_rescan_undo_every_format(lib):
    cfg, library, music, _ = lib
    tracks = _tracks(library, kind="track")
    inside = [t for t in tracks if t.path.startswith(str(music))]
    assert len(inside) == len(FORMATS)
    library.set_label(inside[0].item_id, "bucket", "peak-time")
    library.set_label(inside[1].item_id, "genre", "Acid Techno")
    os.chmod(inside[0].path, 0o640)
    before = {t.path: (_hash(t.path), TagFile(t.path)) for t in inside}
    outcome = tags_write(library, cfg, _tracks(library, kind="track"))
    assert [p for p, _ in outcome.refused] == [t.path for t in tracks if t not in inside]
    assert len(outcome.written) == len(FORMATS) and outcome.batch
    for t in _tracks(library, kind="track"):
        if t.path not in before:
            continue
        tags = TagFile(t.path)
        # ID3 TBPM and MP4 tmpo hold whole BPM (what DJ software reads there); the rest two decimals
        assert tags.get("bpm") == format_bpm(t.bpm, tags.system)
        assert float(tags.get("bpm")) == pytest.approx(t.bpm, abs=0.5)
        assert keys.parse(tags.get("key")) == t.key and tags.get("key") == keys.id3(t.key)
        expected_comment = " · ".join(x for x in [keys.camelot(t.key), f"energy {round(t.energy)}", t.bucket] if x)
        assert tags.get("comment") == expected_comment
        # ReplayGain 2.0 from the BS.1770 loudness; Opus has its own R128 field and no peak
        assert t.lufs is not None and t.true_peak_db is not None
        assert tags.get("replaygain_track_gain") == format_gain(t.lufs, opus=tags.opus)
        assert tags.get("replaygain_track_peak") == (None if tags.opus else format_peak(t.true_peak_db))
        assert _hash(t.path) == before[t.path][0]                       # audio untouched
        row = library.conn.execute("SELECT i.audio_hash, i.tag_key FROM items i WHERE i.id = ?",
                                   (t.item_id,)).fetchone()
        assert row["audio_hash"] == before[t.path][0] and row["tag_key"] == keys.id3(t.key)
    assert TagFile(inside[1].path).get("genre") == "Acid Techno"
    assert TagFile(inside[0].path).get("comment").endswith("peak-time")
    assert os.stat(inside[0].path).st_mode & 0o777 == 0o640
    assert not list(music.glob(".*djml-tmp*")) and not list(music.glob(".djml-tagwrite-*"))
    # The library knows the new stat: a rescan reads nothing and keeps every identity.
    summary = scan(cfg, library, [music])
    assert summary.unchanged == len(FORMATS) and summary.new == summary.updated == 0
    # Writing again changes nothing.
    again = tags_write(library, cfg, [t for t in _tracks(library, kind="track") if t.path in before])
    assert again.written == [] and again.unchanged == len(FORMATS) and again.batch is None
    # Undo restores the previous values (absent fields become absent again).
    undone = tags_undo(library, cfg)
    assert undone.batch == outcome.batch and len(undone.written) == len(FORMATS)
    for path, (audio, old_tags) in before.items():
        now = TagFile(path)
        for name in ("bpm", "key", "genre", "comment", "replaygain_track_gain", "replaygain_track_peak"):
            assert now.get(name) == old_tags.get(name), (path, name)
        assert _hash(path) == audio
    assert batches(cfg)[0]["undone"]
    assert scan(cfg, library, [music]).unchanged == len(FORMATS)
    with pytest.raises(TagError, match="nothing to undo"):
        tags_undo(library, cfg)


def test_undo_keeps_newer_edits_and_refuses_changed_files(lib):
    cfg, library, music, _ = lib
    flac = next(t for t in _tracks(library, kind="track") if t.path.endswith(".flac"))
    tags_write(library, cfg, [flac])
    edited = TagFile(flac.path)
    edited.set("key", "Gm")
    edited.save()
    library.record_tag_write(flac.path, {"key": "Gm"})
    undone = tags_undo(library, cfg)
    assert any("key was changed" in reason for _, reason in undone.refused)
    after = TagFile(flac.path)
    assert after.get("key") == "Gm" and after.get("bpm") is None
    # A file modified behind djml's back (new mtime) is refused until rescanned.
    os.utime(flac.path, ns=(1, 1))
    outcome = tags_write(library, cfg, [flac])
    assert outcome.refused and "since the last scan" in outcome.refused[0][1]


def test_failed_verification_leaves_the_original_untouched(lib):
    cfg, library, music, _ = lib
    wav = next(t for t in _tracks(library, kind="track") if t.path.endswith(".wav"))
    original = open(wav.path, "rb").read()
    change = FileChange(wav.item_id, wav.path, {"key": (None, "Am")})
    with pytest.raises(TagError, match="audio hash"):
        _rewrite(library, cfg, wav.path, change, None, verify=True, expected_hash="0" * 32)
    assert open(wav.path, "rb").read() == original
    assert not list(music.glob(".*djml-tmp*")) and not list(music.glob(".djml-tagwrite-*"))


def test_replaygain_values():
    assert format_gain(-8.0) == "-10.00 dB" and format_gain(-20.5) == "2.50 dB"
    assert format_gain(-8.0, opus=True) == str(-15 * 256)      # R128_TRACK_GAIN: to -23 LUFS, Q7.8
    assert format_peak(0.0) == "1.000000" and format_peak(-6.0) == "0.501187"


def test_replaygain_fields_in_id3_read_any_case_and_are_replaced(tmp_path):
    from mutagen import id3

    path = tmp_path / "a.mp3"
    _write(path, fmt="MP3", subtype="MPEG_LAYER_III")
    tags = TagFile(path)
    tags.file.tags.add(id3.TXXX(encoding=3, desc="replaygain_track_gain", text=["-3.00 dB"]))
    tags.save()
    tags = TagFile(path)
    assert tags.get("replaygain_track_gain") == "-3.00 dB"       # another tool's lower-case frame
    tags.set("replaygain_track_gain", "-9.12 dB")
    tags.set("replaygain_track_peak", "0.977237")
    tags.save()
    frames = id3.ID3(path).getall("TXXX")
    assert sorted((f.desc, f.text[0]) for f in frames) == [("REPLAYGAIN_TRACK_GAIN", "-9.12 dB"),
                                                           ("REPLAYGAIN_TRACK_PEAK", "0.977237")]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg makes the M4A")
def test_replaygain_fields_in_mp4_freeform(tmp_path):
    import subprocess

    from mutagen.mp4 import MP4

    wav, m4a = tmp_path / "a.wav", tmp_path / "a.m4a"
    _write(wav)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    tags = TagFile(m4a)
    tags.set("replaygain_track_gain", "-9.12 dB")
    tags.set("replaygain_track_peak", "0.977237")
    tags.save()
    raw = MP4(m4a).tags
    assert bytes(raw["----:com.apple.iTunes:replaygain_track_gain"][0]) == b"-9.12 dB"
    assert TagFile(m4a).get("replaygain_track_peak") == "0.977237"
    tags = TagFile(m4a)
    tags.set("replaygain_track_gain", None)                      # what undo does
    tags.save()
    assert TagFile(m4a).get("replaygain_track_gain") is None


def test_mp4_audio_bytes_reads_mdat_payloads(tmp_path):
    def atom(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(payload), kind) + payload

    a = tmp_path / "a.m4a"
    a.write_bytes(atom(b"ftyp", b"M4A ") + atom(b"moov", b"x" * 20) + atom(b"mdat", b"AUDIO"))
    b = tmp_path / "b.m4a"
    b.write_bytes(atom(b"ftyp", b"M4A ") + atom(b"mdat", b"AUDIO") + atom(b"moov", b"y" * 99))
    assert mp4_audio_bytes(a) == mp4_audio_bytes(b) == b"AUDIO"
    b.write_bytes(atom(b"ftyp", b"M4A ") + struct.pack(">I4s", 4, b"moov"))
    with pytest.raises(TagError, match="corrupt MP4"):
        mp4_audio_bytes(b)


def test_cli_scan_export_import_tags(run_djml, djml_home, tmp_path):
    music = tmp_path / "My Tracks"
    music.mkdir()
    names = ["a b #1.flac", "ß 100%.wav"]
    for n, name in enumerate(names):
        fmt = "FLAC" if name.endswith(".flac") else "WAV"
        _write(music / name, bpm=122.0 + 4 * n, key=21 - n, fmt=fmt)
    (djml_home / "config.toml").write_text(
        f'library = ["{music}"]\nworkers = 2\n[playlist_buckets]\n"Bangers" = "peak-time"\n', encoding="utf-8")
    run_djml("scan", "-q", check=True)
    out = tmp_path / "djml.xml"
    result = run_djml("export", "rekordbox", str(out), check=True)
    assert "Exported 2 item(s)" in result.stdout
    coll = ET.parse(out).getroot().find("COLLECTION")
    assert {el.get("Location") for el in coll.findall("TRACK")} == {
        "file://localhost" + str(music).replace(" ", "%20") + "/a%20b%20%231.flac",
        "file://localhost" + str(music).replace(" ", "%20") + "/%C3%9F%20100%25.wav"}
    # A "Bangers" playlist in the exported file becomes bucket labels on import.
    first_id = next(el.get("TrackID") for el in coll.findall("TRACK") if el.get("Location").endswith("%231.flac"))
    text = out.read_text(encoding="utf-8").replace(
        '<NODE Type="0" Name="djml"',
        f'<NODE Type="1" Name="Bangers" KeyType="0" Entries="1"><TRACK Key="{first_id}"/></NODE>'
        '<NODE Type="0" Name="djml"')
    out.write_text(text, encoding="utf-8")
    imported = run_djml("import", "rekordbox", str(out), check=True)
    assert "recorded 1 bucket label(s)" in imported.stdout
    shown = run_djml("ls", "--label", "peak-time", "--json", check=True)
    assert len(shown.stdout.splitlines()) == 1
    dry = run_djml("tags", "write", "--dry-run", check=True)
    assert "2 file(s) would change" in dry.stdout
    written = run_djml("tags", "write", check=True)
    assert "2 file(s) changed" in written.stdout
    facts = {os.path.basename(json.loads(line)["path"]): json.loads(line)
             for line in run_djml("ls", "--json", check=True).stdout.splitlines()}
    for name in names:       # ReplayGain from the scan's BS.1770 loudness, in the file
        tags = TagFile(music / name)
        assert tags.get("replaygain_track_gain") == format_gain(facts[name]["lufs"])
        assert tags.get("replaygain_track_peak") == format_peak(facts[name]["true_peak_db"])
    nml = tmp_path / "djml.nml"
    run_djml("export", "traktor", str(nml), check=True)
    gains = {e.find("LOCATION").get("FILE"): e.find("LOUDNESS") for e in ET.parse(nml).getroot().iter("ENTRY")
             if e.find("LOCATION") is not None}
    assert float(gains[names[0]].get("ANALYZED_DB")) == pytest.approx(-18 - facts[names[0]]["lufs"], abs=1e-4)
    assert run_djml("tags", "history", check=True).stdout.count("2 file(s)") == 1
    assert "2 file(s) restored" in run_djml("tags", "undo", check=True).stdout
    bad = run_djml("import", "traktor", str(out))
    assert bad.returncode == 1 and "expected a <NML> document" in bad.stderr
    m3u_dir = tmp_path / "lists"
    run_djml("export", "m3u", str(m3u_dir), "--relative", check=True)
    assert os.path.relpath(music / names[0], m3u_dir / "buckets") in (
        m3u_dir / "buckets" / "peak-time.m3u8").read_text(encoding="utf-8").splitlines()
