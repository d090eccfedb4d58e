"""Traktor NML (collection.nml, exported playlists, History/*.nml) export and import.

Locations: Traktor splits a path into ``VOLUME`` (macOS volume name or Windows drive),
``DIR`` (every folder followed by ``/:``, e.g. ``/:Users/:dj/:Music/:``) and ``FILE``.
Playlists refer to tracks by the concatenation ``VOLUME + DIR + FILE`` (PRIMARYKEY KEY).
On import a non-drive VOLUME is ambiguous (the boot disk is "/", any other disk is
"/Volumes/NAME"), so both candidates are tried against the library.

Keys: ``MUSICAL_KEY VALUE`` uses Traktor's numbering 0=C, 1=C#/Db, … 11=B (major),
12=Cm, 13=C#m … 23=Bm (minor). That is exactly djml's key int (tonic pitch class +
12 × minor), so the value is written and read unchanged; ``INFO KEY`` carries the Open
Key text Traktor shows by default ("1m" for A minor).

Beatgrid: an "AutoGrid" CUE_V2 (TYPE 4) at the first beat, START in milliseconds, on
hot cue 1 (HOTCUE 0) as Traktor puts it.

Cue points (:mod:`djml.cues`): one CUE_V2 each, START in milliseconds; mix in and mix out
as fade-in / fade-out markers (TYPE 1 / 2), the others as plain cues (TYPE 0). The first
cue of each kind sits on its kind's hot cue (HOTCUE 1-6: mix in, intro end, first drop,
breakdown, outro start, mix out; :mod:`djml.interop.cuemarks`), later ones on none (-1).
Traktor colours cues by type; the NML has no colour for them.

Gain: ``LOUDNESS PEAK_DB`` (true peak, dBTP) and ``PERCEIVED_DB`` / ``ANALYZED_DB``, the
gain Traktor's Autogain applies, set to the ReplayGain 2.0 gain (-18 LUFS minus the
track's BS.1770 loudness). Traktor does not document its own reference level; its own
analysis of the same track may differ by a constant, so re-analysing a few tracks in
Traktor mixes two references in one collection.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from djml import keys
from djml.interop import cuemarks
from djml.interop.model import ExportTrack, ForeignCollection, ForeignPlaylist, ForeignTrack, PathMap
from djml.interop.tagio import replaygain_gain
from djml.interop.xmlio import InteropError, fnum, parse_xml, write_xml

# CUE_V2 TYPE: 0 cue, 1 fade-in, 2 fade-out, 3 load, 4 grid, 5 loop. Traktor's fade
# markers are where its Auto-DJ starts the next track and fades this one out.
CUE_TYPES = {"mix_in": 1, "mix_out": 2}
# Traktor's seven track colours (INFO COLOR): buckets get them in configured order.
COLOURS = (4, 1, 6, 3, 2, 5, 7)   # green, red, violet, yellow, orange, blue, magenta
_HISTORY_FILE = re.compile(r"history_(\d{4})y(\d{2})m(\d{2})d_(\d{2})h(\d{2})m(\d{2})s", re.I)
_DRIVE = re.compile(r"^[A-Za-z]:$")


def split_location(path: str, boot_volume: str = "") -> tuple[str, str, str]:
    """Path (as the Traktor computer sees it) → (VOLUME, DIR, FILE)."""
    posix = path.replace("\\", "/")
    if len(posix) > 1 and posix[1] == ":":                       # C:/Music/x.mp3
        volume, rest = posix[:2], posix[2:]
    elif posix.startswith("/Volumes/") and posix.count("/") >= 3:  # /Volumes/USB/x.mp3
        _, _, name, rest = posix.split("/", 3)
        volume, rest = name, "/" + rest
    else:
        volume, rest = boot_volume, posix
    folder, _, file = rest.rpartition("/")
    parts = [p for p in folder.split("/") if p]
    return volume, "/:" + "".join(f"{p}/:" for p in parts), file


def join_location(volume: str, directory: str, file: str) -> list[str]:
    """(VOLUME, DIR, FILE) → candidate local paths, most likely first."""
    folders = [p for p in directory.split("/:") if p]
    rest = "/" + "".join(f"{p}/" for p in folders) + file
    if _DRIVE.match(volume):
        return [volume + rest]
    if volume:
        return [rest, f"/Volumes/{volume}{rest}"]
    return [rest]


def export(
    tracks: list[ExportTrack],
    playlists: list[tuple[str, str, list[ExportTrack]]],
    out: Path,
    *,
    bucket_order: list[str],
    path_map: PathMap | None = None,
    boot_volume: str = "",
) -> None:
    """Write an NML collection with a "djml" playlist folder."""
    path_map = path_map or PathMap()
    names = list(bucket_order) + sorted({t.bucket for t in tracks if t.bucket} - set(bucket_order))
    colours = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(names)}
    root = ET.Element("NML", VERSION="19")
    ET.SubElement(root, "HEAD", COMPANY="www.native-instruments.com", PROGRAM="Traktor")
    ET.SubElement(root, "MUSICFOLDERS")
    collection = ET.SubElement(root, "COLLECTION", ENTRIES=str(len(tracks)))
    primary: dict[int, str] = {}
    for t in tracks:
        volume, directory, file = split_location(path_map.to_foreign(t.path), boot_volume)
        primary[t.item_id] = volume + directory + file
        _entry(collection, t, volume, directory, file, colours.get(t.bucket or ""))
    ET.SubElement(root, "SETS", ENTRIES="0")
    top = ET.SubElement(ET.SubElement(root, "PLAYLISTS"), "NODE", TYPE="FOLDER", NAME="$ROOT")
    djml = ET.SubElement(ET.SubElement(top, "SUBNODES", COUNT="1"), "NODE", TYPE="FOLDER", NAME="djml")
    djml_nodes = ET.SubElement(djml, "SUBNODES")
    folders: dict[str, ET.Element] = {}
    for folder, name, members in playlists:
        if folder not in folders:
            node = ET.SubElement(djml_nodes, "NODE", TYPE="FOLDER", NAME=folder)
            folders[folder] = ET.SubElement(node, "SUBNODES")
        node = ET.SubElement(folders[folder], "NODE", TYPE="PLAYLIST", NAME=name)
        playlist = ET.SubElement(node, "PLAYLIST", ENTRIES=str(len(members)), TYPE="LIST",
                                 UUID=uuid.uuid5(uuid.NAMESPACE_URL, f"djml:{folder}/{name}").hex)
        for t in members:
            ET.SubElement(ET.SubElement(playlist, "ENTRY"), "PRIMARYKEY", TYPE="TRACK", KEY=primary[t.item_id])
    djml_nodes.set("COUNT", str(len(folders)))
    for sub in folders.values():
        sub.set("COUNT", str(len(sub)))
    write_xml(root, out, standalone=True)


def _entry(parent: ET.Element, t: ExportTrack, volume: str, directory: str, file: str,
           colour: int | None) -> None:
    attrs = {"TITLE": t.display_title}
    if t.artist:
        attrs["ARTIST"] = t.artist
    entry = ET.SubElement(parent, "ENTRY", attrs)
    ET.SubElement(entry, "LOCATION", DIR=directory, FILE=file, VOLUME=volume, VOLUMEID=volume)
    if t.album:
        ET.SubElement(entry, "ALBUM", TITLE=t.album)
    info = {"PLAYTIME": str(int(round(t.duration or 0))), "PLAYTIME_FLOAT": f"{t.duration or 0:.6f}"}
    if t.genre:
        info["GENRE"] = t.genre
    if t.comment:
        info["COMMENT"] = t.comment
    if t.key is not None:
        info["KEY"] = keys.open_key(t.key)
    if t.size:
        info["FILESIZE"] = str(max(1, t.size // 1024))
    if t.year:
        info["RELEASE_DATE"] = f"{t.year}/1/1"
    if colour is not None:
        info["COLOR"] = str(colour)
    ET.SubElement(entry, "INFO", info)
    if t.bpm:
        ET.SubElement(entry, "TEMPO", BPM=f"{t.bpm:.6f}", BPM_QUALITY="100.000000")
    if t.lufs is not None or t.true_peak_db is not None:
        ET.SubElement(entry, "LOUDNESS", _loudness(t))
    if t.key is not None:
        ET.SubElement(entry, "MUSICAL_KEY", VALUE=str(t.key))
    if t.bpm and t.first_beat is not None:
        ET.SubElement(entry, "CUE_V2", NAME="AutoGrid", DISPL_ORDER="0", TYPE="4",
                      START=f"{t.first_beat * 1000:.6f}", LEN="0.000000", REPEATS="-1", HOTCUE="0")
    for cue, pad in zip(t.cues, cuemarks.pads(t.cues)):
        ET.SubElement(entry, "CUE_V2", NAME=cuemarks.cue_name(cue), DISPL_ORDER="0",
                      TYPE=str(CUE_TYPES.get(cue.kind, 0)), START=f"{cue.seconds * 1000:.6f}", LEN="0.000000",
                      REPEATS="-1", HOTCUE=str(-1 if pad is None else pad + 1))


def _loudness(t: ExportTrack) -> dict[str, str]:
    """PEAK_DB the true peak; PERCEIVED_DB and ANALYZED_DB the gain Autogain applies (as
    Traktor stores its own analysis), here ReplayGain 2.0's: to -18 LUFS."""
    attrs = {}
    if t.true_peak_db is not None:
        attrs["PEAK_DB"] = f"{t.true_peak_db:.6f}"
    if t.lufs is not None:
        gain = replaygain_gain(t.lufs)
        attrs.update(PERCEIVED_DB=f"{gain:.6f}", ANALYZED_DB=f"{gain:.6f}")
    return attrs


def parse(path: Path, *, path_map: PathMap | None = None) -> ForeignCollection:
    """Read an NML file (a collection, an exported playlist or a History file)."""
    path_map = path_map or PathMap()
    root = parse_xml(path, "NML")
    result = ForeignCollection("traktor", str(Path(path).resolve()))
    by_key: dict[str, ForeignTrack] = {}
    collection = root.find("COLLECTION")
    for el in collection.findall("ENTRY") if collection is not None else []:
        loc = el.find("LOCATION")
        if loc is None or not loc.get("FILE"):
            continue
        volume, directory, file = loc.get("VOLUME", ""), loc.get("DIR", ""), loc.get("FILE", "")
        info = el.find("INFO")
        tempo = el.find("TEMPO")
        track = ForeignTrack(
            ref=volume + directory + file,
            paths=[path_map.to_library(p) for p in join_location(volume, directory, file)],
            artist=el.get("ARTIST") or None, title=el.get("TITLE") or None,
            genre=((info.get("GENRE") if info is not None else None) or "").strip() or None,
            bpm=fnum(tempo.get("BPM")) if tempo is not None else None,
            key=_key(el.find("MUSICAL_KEY"), info),
        )
        result.tracks.append(track)
        by_key[track.ref] = track
    playlists = root.find("PLAYLISTS")
    if playlists is None and collection is None:
        raise InteropError(f"{path}: neither <COLLECTION> nor <PLAYLISTS> (is this a Traktor NML file?)")
    history_file = _HISTORY_FILE.search(Path(path).name)
    for node in playlists.findall("NODE") if playlists is not None else []:
        _walk(node, (), by_key, result.playlists, path_map, history_file)
    return result


def _key(musical_key: ET.Element | None, info: ET.Element | None) -> int | None:
    if musical_key is not None:
        try:
            value = int(float(musical_key.get("VALUE", "")))
        except ValueError:
            value = -1
        if 0 <= value <= 23:
            return value
    text = info.get("KEY") if info is not None else None
    if text:
        try:
            return keys.parse(text)
        except ValueError:
            return None
    return None


def _walk(node: ET.Element, folder: tuple[str, ...], by_key: dict[str, ForeignTrack],
          out: list[ForeignPlaylist], path_map: PathMap, history_file: re.Match | None) -> None:
    name = node.get("NAME") or ""
    if node.get("TYPE") == "FOLDER":
        inner = folder if (not folder and name == "$ROOT") else (*folder, name)
        for sub in node.findall("SUBNODES"):
            for child in sub.findall("NODE"):
                _walk(child, inner, by_key, out, path_map, history_file)
        return
    playlist = node.find("PLAYLIST")
    if node.get("TYPE") != "PLAYLIST" or playlist is None:
        return  # smartlists carry a query, not tracks
    entries: list[list[str]] = []
    starts: list[str] = []
    for entry in playlist.findall("ENTRY"):
        pk = entry.find("PRIMARYKEY")
        key = pk.get("KEY", "") if pk is not None else ""
        track = by_key.get(key)
        entries.append(track.paths if track else _paths_from_key(key, path_map))
        extended = entry.find("EXTENDEDDATA")
        if extended is not None and (stamp := _history_stamp(extended)):
            starts.append(stamp)
    history = bool(starts) or history_file is not None or any(f.casefold() == "history" for f in folder)
    played_at = min(starts) if starts else (_file_stamp(history_file) if history_file else None)
    out.append(ForeignPlaylist(name, folder, entries, history=history, played_at=played_at))


def _paths_from_key(key: str, path_map: PathMap) -> list[str]:
    """A playlist entry whose track is not in this file's COLLECTION: split its key."""
    first = key.find("/:")
    if first < 0:
        return []
    directory, _, file = key[first:].rpartition("/:")
    return [path_map.to_library(p) for p in join_location(key[:first], directory + "/:", file)]


def _history_stamp(extended: ET.Element) -> str | None:
    """EXTENDEDDATA STARTDATE is packed (year << 16 | month << 8 | day); STARTTIME is
    seconds after midnight."""
    try:
        packed = int(extended.get("STARTDATE", ""))
        seconds = int(float(extended.get("STARTTIME", "0")))
        stamp = datetime(packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF,
                         seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)
    except ValueError:
        return None
    return stamp.isoformat()


def _file_stamp(match: re.Match) -> str:
    y, mo, d, h, mi, s = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, mi, s).isoformat()
