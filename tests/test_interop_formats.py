"""rekordbox XML, Traktor NML and M3U8: structure checked with independent readers
(xml.etree against the documented structure, pyrekordbox's XML reader), then imported back.

Items are stored through the real writer (Library.record_result) with Analysis records
whose BPM/key are known, so these tests need no audio decoding and run in milliseconds;
tests/test_interop_tags.py covers real audio files end to end.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from djml import config as config_mod
from djml import configfile
from djml import db, keys
from djml.analysis.result import Analysis
from djml.interop import m3u, rekordbox, traktor
from djml.interop.collect import collect, group_playlists
from djml.interop.importer import import_collection
from djml.interop.model import PathMap, file_url_to_path, path_to_file_url
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.query import Filters
from djml.tags import Tags

# Names that break naive URL/XML/playlist handling: spaces, Unicode, '#', '%', '&', '+'.
TRACKS = [
    ("warm one.wav", 118.0, keys.parse("Am"), "warm-up", "House"),
    ("Ünïcødé ß – 東京.flac", 126.0, keys.parse("F#m"), "peak-time", "Techno"),
    ("#1 100% (edit).mp3", 128.5, keys.parse("Eb"), "peak-time", "Techno"),
    ("rock & roll + more.wav", 174.0, keys.parse("C"), "closing", None),
]


def _analysis(path: Path, n: int, bpm: float, key: int, kind: str = "track") -> Analysis:
    return Analysis(
        path=str(path), kind=kind, analyzer_version=1, audio_hash=f"hash{n:04d}", duration=200.0 + n,
        sample_rate=44100, channels=2, loudness=-10.0, peak_db=-1.0, bpm=bpm, key=key, energy=5.0 + n,
        first_beat=0.125 * n, sample_type="one-shot" if kind == "sample" else None,
        feature_vector=np.zeros(4, np.float32),
    )


@pytest.fixture
def lib(tmp_path):
    """A library with four tracks with awkward names and one sample, labelled."""
    music = tmp_path / "My Music #1"
    music.mkdir()
    cfg = config_mod.from_dict({"library": [str(music)], "data_dir": str(tmp_path / "data")},
                               tmp_path / "config.toml")
    library = Library(db.connect(cfg.db_path))
    ids = []
    for n, (name, bpm, key, bucket, genre) in enumerate(TRACKS):
        path = music / name
        path.write_bytes(b"x" * (1000 + n))
        result = FileResult(str(path), FileStat.of(path), Tags(artist=f"Artist {n}", title=f"Title {n}", genre=genre),
                            _analysis(path, n, bpm, key))
        _, item_id = library.record_result(result)
        library.set_label(item_id, "bucket", bucket)
        ids.append(item_id)
    kick = music / "kick 01.wav"
    kick.write_bytes(b"k")
    _, kick_id = library.record_result(FileResult(str(kick), FileStat.of(kick), Tags(), _analysis(kick, 9, None, None, "sample")))
    library.set_label(kick_id, "sample_type", "kick")
    return cfg, library, ids, music


def _export_all(cfg, library):
    collected = collect(library.conn, Filters())
    return collected.tracks, group_playlists(collected.tracks, cfg.buckets)


def test_file_urls_round_trip_awkward_paths():
    for path in ["/a b/#1 100%.mp3", "/Ünï/東京 ß.flac", "/x/rock & roll + more?.wav"]:
        url = path_to_file_url(path)
        assert url.startswith("file://localhost/")
        assert " " not in url and "#" not in url[7:] and "?" not in url
        assert file_url_to_path(url) == path
    assert path_to_file_url("/a b/c.mp3") == "file://localhost/a%20b/c.mp3"
    assert file_url_to_path("file://localhost/C:/Music/x%20y.mp3") == "C:/Music/x y.mp3"
    assert file_url_to_path("file:///home/dj/a%23b.mp3") == "/home/dj/a#b.mp3"
    assert file_url_to_path("file://localhost//Users/dj/a.mp3") == "/Users/dj/a.mp3"   # pyrekordbox's form


def test_path_map_rewrites_whole_components_only():
    pm = PathMap.parse(["/srv/music=/Volumes/music"])
    assert pm.to_foreign("/srv/music/a.mp3") == "/Volumes/music/a.mp3"
    assert pm.to_foreign("/srv/musical/a.mp3") == "/srv/musical/a.mp3"
    assert pm.to_library("/Volumes/music/x/y.mp3") == "/srv/music/x/y.mp3"
    with pytest.raises(ValueError, match="path map"):
        PathMap.parse(["/srv/music"])


def test_collect_resolves_labels_over_analysis(lib):
    cfg, library, ids, _ = lib
    library.set_label(ids[0], "bpm", "119.50")
    library.set_label(ids[0], "key", "8B")
    tracks, playlists = _export_all(cfg, library)
    first = next(t for t in tracks if t.item_id == ids[0])
    assert first.bpm == 119.5 and first.key == keys.parse("C")
    names = [(folder, name) for folder, name, _ in playlists]
    assert names[:3] == [("Buckets", "warm-up"), ("Buckets", "peak-time"), ("Buckets", "closing")]
    assert ("Genres", "Techno") in names and ("Samples", "kick") in names


def test_rekordbox_xml_structure(lib, tmp_path):
    cfg, library, ids, music = lib
    tracks, playlists = _export_all(cfg, library)
    out = tmp_path / "rb.xml"
    rekordbox.export(tracks, playlists, out, bucket_order=cfg.buckets)
    root = ET.parse(out).getroot()
    assert root.tag == "DJ_PLAYLISTS" and root.find("PRODUCT").get("Name") == "djml"
    coll = root.find("COLLECTION")
    assert coll.get("Entries") == str(len(tracks)) == str(len(coll.findall("TRACK")))
    by_id = {el.get("TrackID"): el for el in coll.findall("TRACK")}
    el = by_id[str(ids[2])]
    assert el.get("AverageBpm") == "128.50" and el.get("Tonality") == "Eb"
    assert el.get("Kind") == "MP3 File" and el.get("Genre") == "Techno" and el.get("TotalTime") == "202"
    assert el.get("Colour") == rekordbox.COLOURS[1][1]          # peak-time
    location = el.get("Location")
    assert location.startswith("file://localhost/") and "%231%20100%25" in location
    assert unquote(location[len("file://localhost"):]) == str(music / TRACKS[2][0])
    tempo = el.find("TEMPO")
    assert tempo.attrib == {"Inizio": "0.250", "Bpm": "128.50", "Metro": "4/4", "Battito": "1"}
    root_node = root.find("PLAYLISTS/NODE")
    assert root_node.get("Name") == "ROOT" and root_node.get("Type") == "0"
    djml = root_node.find("NODE[@Name='djml']")
    peak = djml.find("NODE[@Name='Buckets']/NODE[@Name='peak-time']")
    assert peak.get("Type") == "1" and peak.get("KeyType") == "0" and peak.get("Entries") == "2"
    assert [t.get("Key") for t in peak.findall("TRACK")] == [str(ids[1]), str(ids[2])]   # by BPM
    assert djml.find("NODE[@Name='Samples']/NODE[@Name='kick']") is not None


def test_rekordbox_export_read_by_pyrekordbox(lib, tmp_path):
    pyrekordbox = pytest.importorskip("pyrekordbox")
    cfg, library, ids, music = lib
    tracks, playlists = _export_all(cfg, library)
    out = tmp_path / "rb.xml"
    rekordbox.export(tracks, playlists, out, bucket_order=cfg.buckets)
    xml = pyrekordbox.RekordboxXml(str(out))
    assert xml.num_tracks == len(tracks)
    for n, (name, bpm, key, _, _) in enumerate(TRACKS):
        track = xml.get_track(TrackID=ids[n])
        # pyrekordbox decodes Windows-style: it strips "file://localhost/" including the
        # slash that starts a POSIX path (rekordbox on macOS writes the same form as we do).
        assert "/" + track.Location == str(music / name)
        assert track.AverageBpm == pytest.approx(bpm)
        assert keys.parse(track.Tonality) == key
        assert track.tempos[0].Bpm == pytest.approx(bpm)
    peak = xml.get_playlist("djml", "Buckets", "peak-time")
    assert [int(k) for k in peak.get_tracks()] == [ids[1], ids[2]]


def test_traktor_nml_structure_and_key_numbering(lib, tmp_path):
    cfg, library, ids, music = lib
    tracks, playlists = _export_all(cfg, library)
    out = tmp_path / "collection.nml"
    traktor.export(tracks, playlists, out, bucket_order=cfg.buckets, boot_volume="Macintosh HD")
    root = ET.parse(out).getroot()
    assert root.tag == "NML" and root.get("VERSION") == "19"
    entries = root.findall("COLLECTION/ENTRY")
    assert len(entries) == len(tracks)
    entry = next(e for e in entries if e.get("TITLE") == "Title 1")
    loc = entry.find("LOCATION")
    expected_dir = "/:" + "".join(f"{p}/:" for p in music.parts[1:])
    assert loc.get("DIR") == expected_dir and loc.get("FILE") == TRACKS[1][0]
    assert loc.get("VOLUME") == "Macintosh HD"
    assert entry.find("TEMPO").get("BPM") == "126.000000"
    # Traktor numbering: 0=C … 11=B major, 12=Cm … 23=Bm. F#m is 12 + 6.
    assert entry.find("MUSICAL_KEY").get("VALUE") == "18"
    assert entry.find("INFO").get("KEY") == keys.open_key(keys.parse("F#m"))
    assert entry.find("CUE_V2").get("START") == "125.000000"        # first beat 0.125 s in ms
    peak = root.find("PLAYLISTS/NODE/SUBNODES/NODE[@NAME='djml']/SUBNODES/NODE[@NAME='Buckets']"
                     "/SUBNODES/NODE[@NAME='peak-time']/PLAYLIST")
    assert peak.get("ENTRIES") == "2"
    assert peak.find("ENTRY/PRIMARYKEY").get("KEY") == "Macintosh HD" + expected_dir + TRACKS[1][0]


def test_traktor_key_table_matches_documented_numbering():
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    for value, name in enumerate(names):
        assert keys.parse(name) == value
        assert keys.parse(name + "m") == value + 12


@pytest.mark.parametrize("fmt", ["rekordbox", "traktor"])
def test_round_trip_same_bpm_key_and_paths(lib, tmp_path, fmt):
    cfg, library, ids, music = lib
    tracks, playlists = _export_all(cfg, library)
    out = tmp_path / ("rb.xml" if fmt == "rekordbox" else "c.nml")
    module = rekordbox if fmt == "rekordbox" else traktor
    module.export(tracks, playlists, out, bucket_order=cfg.buckets)
    parsed = module.parse(out)
    assert len(parsed.tracks) == len(tracks)
    by_path = {t.paths[0]: t for t in parsed.tracks}
    for t in tracks:
        back = by_path[t.path]
        assert back.bpm == (pytest.approx(t.bpm) if t.bpm else None)
        assert back.key == t.key
        assert back.genre == t.genre
    # Importing djml's own export changes nothing: same values, own folder skipped.
    report = import_collection(library, cfg, parsed)
    assert report.matched == len(tracks) and not report.unmatched
    assert report.labels == {} and report.sets == []
    assert all("djml's own export" in s for s in report.skipped_playlists)


def test_import_records_differences_buckets_and_history(lib, tmp_path):
    cfg, library, ids, music = lib
    cfg.playlist_buckets = {"Bangers": "peak-time"}
    p = [str(music / name) for name, *_ in TRACKS]
    u = [path_to_file_url(x) for x in p]
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<DJ_PLAYLISTS Version="1.0.0"><PRODUCT Name="rekordbox" Version="6.7.4" Company="AlphaTheta"/>
<COLLECTION Entries="3">
 <TRACK TrackID="11" Name="a" AverageBpm="120.00" Tonality="Am" Genre="Deep House" Location="{u[0]}"/>
 <TRACK TrackID="12" Name="b" AverageBpm="126.00" Tonality="F#m" Genre="Techno" Location="{u[1]}"/>
 <TRACK TrackID="13" Name="gone" AverageBpm="99.00" Location="file://localhost/nowhere/x.mp3"/>
 <TRACK TrackID="14" Name="d" AverageBpm="0.00" Tonality="" Location="{u[3]}"/>
</COLLECTION>
<PLAYLISTS><NODE Type="0" Name="ROOT" Count="3">
 <NODE Name="Bangers" Type="1" KeyType="0" Entries="2"><TRACK Key="11"/><TRACK Key="14"/></NODE>
 <NODE Name="HISTORY" Type="0" Count="1">
  <NODE Name="HISTORY 2024-03-09" Type="1" KeyType="0" Entries="3"><TRACK Key="12"/><TRACK Key="13"/><TRACK Key="11"/></NODE>
 </NODE>
 <NODE Name="By location" Type="1" KeyType="1" Entries="1"><TRACK Key="{u[1]}"/></NODE>
</NODE></PLAYLISTS></DJ_PLAYLISTS>"""
    src = tmp_path / "rekordbox.xml"
    src.write_text(xml, encoding="utf-8")
    parsed = rekordbox.parse(src)
    report = import_collection(library, cfg, parsed)
    assert report.matched == 3 and report.unmatched == ["/nowhere/x.mp3"]
    # track 0: BPM 118 → 120 and genre House → Deep House differ; key Am is the same.
    # track 1: identical. bucket: track 0 was warm-up → peak-time; track 3 already closing → peak-time.
    assert report.labels == {"bpm": 1, "genre": 1, "bucket": 2}
    labels = library.conn.execute(
        "SELECT item_id, task, label, source FROM labels WHERE source = 'import' ORDER BY id").fetchall()
    assert [tuple(r) for r in labels] == [
        (ids[0], "bpm", "120.00", "import"), (ids[0], "genre", "Deep House", "import"),
        (ids[0], "bucket", "peak-time", "import"), (ids[3], "bucket", "peak-time", "import")]
    sets = library.conn.execute("SELECT id, name, source, played_at FROM sets ORDER BY id").fetchall()
    assert [(s["name"], s["source"], s["played_at"]) for s in sets] == [
        ("HISTORY/HISTORY 2024-03-09", "rekordbox", "2024-03-09"), ("By location", "rekordbox", None)]
    entries = [r[0] for r in library.conn.execute(
        "SELECT item_id FROM set_entries WHERE set_id = ? ORDER BY position", (sets[0]["id"],))]
    assert entries == [ids[1], ids[0]]
    assert report.sets[0] == ("HISTORY/HISTORY 2024-03-09", 2, 1)
    # Idempotent: a second import adds no labels and replaces (not duplicates) the sets.
    again = import_collection(library, cfg, rekordbox.parse(src))
    assert again.labels == {}
    assert library.conn.execute("SELECT COUNT(*) FROM sets").fetchone()[0] == 2


def test_traktor_history_file_and_volume_candidates(lib, tmp_path):
    cfg, library, ids, music = lib
    volume, directory, file = traktor.split_location(str(music / TRACKS[0][0]), "")
    packed = (2023 << 16) | (11 << 8) | 4
    nml = f"""<?xml version="1.0" encoding="UTF-8" standalone="no" ?>
<NML VERSION="19"><HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor"/>
<COLLECTION ENTRIES="1"><ENTRY TITLE="x"><LOCATION DIR="{directory}" FILE="{file}" VOLUME="Work Disk"/>
<TEMPO BPM="118.000000"/><MUSICAL_KEY VALUE="21"/></ENTRY></COLLECTION>
<PLAYLISTS><NODE TYPE="FOLDER" NAME="$ROOT"><SUBNODES COUNT="1">
<NODE TYPE="PLAYLIST" NAME="HistoryPlaylist"><PLAYLIST ENTRIES="2" TYPE="LIST" UUID="1">
<ENTRY><PRIMARYKEY TYPE="TRACK" KEY="Work Disk{directory}{file}"/>
<EXTENDEDDATA DECK="0" EXTENDEDTYPE="HistoryData" PLAYEDPUBLIC="1" STARTDATE="{packed}" STARTTIME="79200"/></ENTRY>
<ENTRY><PRIMARYKEY TYPE="TRACK" KEY="Work Disk{traktor.split_location(str(music / TRACKS[1][0]))[1]}{TRACKS[1][0]}"/>
<EXTENDEDDATA DECK="1" EXTENDEDTYPE="HistoryData" STARTDATE="{packed}" STARTTIME="79500"/></ENTRY>
</PLAYLIST></NODE></SUBNODES></NODE></PLAYLISTS></NML>"""
    src = tmp_path / "history_2023y11m04d_22h00m00s.nml"
    src.write_text(nml, encoding="utf-8")
    parsed = traktor.parse(src)
    assert parsed.tracks[0].paths == [str(music / TRACKS[0][0]), f"/Volumes/Work Disk{music / TRACKS[0][0]}"]
    assert parsed.tracks[0].key == keys.parse("Am") and parsed.tracks[0].bpm == 118.0
    playlist = parsed.playlists[0]
    assert playlist.history and playlist.played_at == "2023-11-04T22:00:00"
    report = import_collection(library, cfg, parsed)
    assert report.labels == {} and report.sets == [("HistoryPlaylist", 2, 0)]


def test_m3u_round_trip_absolute_and_relative(lib, tmp_path):
    cfg, library, ids, music = lib
    _, playlists = _export_all(cfg, library)
    for relative in (False, True):
        out = tmp_path / f"m3u-{relative}"
        files = m3u.export(playlists, out, relative=relative)
        peak = out / "buckets" / "peak-time.m3u8"
        assert peak in files
        text = peak.read_text(encoding="utf-8")
        assert text.startswith("#EXTM3U\n#EXTINF:201,Artist 1 - Title 1\n")
        assert (str(music / TRACKS[1][0]) in text) != relative
        parsed = m3u.parse(peak)
        assert parsed.playlists[0].entries == [[str(music / TRACKS[1][0])], [str(music / TRACKS[2][0])]]
    report = import_collection(library, cfg, parsed)
    assert report.sets == [("peak-time", 2, 0)]


def test_m3u_legacy_latin1_urls_and_bad_utf8(lib, tmp_path):
    cfg, library, ids, music = lib
    legacy = tmp_path / "old.m3u"
    legacy.write_bytes(b"#EXTM3U\r\n" + str(music / TRACKS[0][0]).encode("latin-1") + b"\r\n"
                       + path_to_file_url(str(music / TRACKS[2][0])).encode() + b"\r\nhttp://radio/stream\r\n")
    assert m3u.parse(legacy).playlists[0].entries == [[str(music / TRACKS[0][0])], [str(music / TRACKS[2][0])]]
    bad = tmp_path / "bad.m3u8"
    bad.write_bytes(b"\xff\xfe/x.mp3\n")
    with pytest.raises(m3u.InteropError, match="UTF-8"):
        m3u.parse(bad)


def test_import_matches_nfd_paths_and_unique_names(lib, tmp_path):
    import unicodedata

    cfg, library, ids, music = lib
    nfd = unicodedata.normalize("NFD", str(music / TRACKS[1][0]))
    moved = "/Users/dj/Music/" + TRACKS[3][0]
    src = tmp_path / "p.m3u8"
    src.write_text(f"#EXTM3U\n{nfd}\n{moved}\n", encoding="utf-8")
    strict = import_collection(library, cfg, m3u.parse(src), dry_run=True)
    assert strict.sets == [("p", 1, 1)]
    loose = import_collection(library, cfg, m3u.parse(src), match_names=True)
    assert loose.sets == [("p", 2, 0)]


def test_bad_files_give_clear_errors(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<DJ_PLAYLISTS><COLLECTION>", encoding="utf-8")
    with pytest.raises(rekordbox.InteropError, match="not well-formed"):
        rekordbox.parse(broken)
    other = tmp_path / "other.xml"
    other.write_text("<NML/>", encoding="utf-8")
    with pytest.raises(rekordbox.InteropError, match="expected a <DJ_PLAYLISTS>"):
        rekordbox.parse(other)
    with pytest.raises(traktor.InteropError, match="Traktor NML"):
        traktor.parse(other)


def test_config_playlist_buckets_and_tag_template(tmp_path):
    path = tmp_path / "config.toml"
    cfg = config_mod.from_dict({"playlist_buckets": {"Openers": "warm-up"},
                                "tag_template": "{camelot} · energy {energy} · {bucket}"}, path)
    assert cfg.playlist_buckets == {"Openers": "warm-up"} and cfg.tag_template_field == "comment"
    for raw, key in [({"playlist_buckets": {"Openers": "warmup"}}, "playlist_buckets"),
                     ({"playlist_buckets": ["x"]}, "playlist_buckets"),
                     ({"tag_template": "{camelott}"}, "tag_template"),
                     ({"tag_template": "{bpm:q}"}, "tag_template"),
                     ({"tag_template_field": "title"}, "tag_template_field")]:
        with pytest.raises(config_mod.ConfigError) as exc:
            config_mod.from_dict(raw, path)
        assert exc.value.key == key
    cfg.data_dir = tmp_path / "data"
    cfg.config_path = path
    configfile.write(cfg)
    again = config_mod.load(path)
    assert again.playlist_buckets == cfg.playlist_buckets and again.tag_template == cfg.tag_template
