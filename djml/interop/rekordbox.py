"""rekordbox XML ("Export Collection in xml format" / "Imported Library") export and import.

Structure written (the documented rekordbox XML schema, also read by Serato DJ, Engine DJ,
djay and Mixxx-adjacent converters)::

    <DJ_PLAYLISTS Version="1.0.0">
      <PRODUCT Name="djml" Version="…" Company="djml"/>
      <COLLECTION Entries="N">
        <TRACK TrackID="…" Name Artist Album Genre Kind Size TotalTime AverageBpm
               Tonality Comments Colour SampleRate Year Location="file://localhost/…">
          <TEMPO Inizio="0.000" Bpm="128.00" Metro="4/4" Battito="1"/>
          <POSITION_MARK Name="Intro end (bar 17)" Type="0" Start="30.000" Num="-1" Red Green Blue/>
          <POSITION_MARK Name="Intro end (bar 17)" Type="0" Start="30.000" Num="1" Red Green Blue/>
        </TRACK>
      </COLLECTION>
      <PLAYLISTS>
        <NODE Type="0" Name="ROOT"> <NODE Type="0" Name="djml"> <NODE Type="0" Name="Buckets">
          <NODE Type="1" Name="peak-time" KeyType="0" Entries="n"><TRACK Key="TrackID"/>…
    </DJ_PLAYLISTS>

Cue points (:mod:`djml.cues`): every cue is a memory cue (``Num="-1"``); the first cue of
each kind is also a hot cue on its kind's pad (:mod:`djml.interop.cuemarks`: A mix in, B
intro end, C first drop, D breakdown, E outro start, F mix out), coloured by kind.
rekordbox XML has no gain or loudness attribute: rekordbox computes its own Auto Gain when
it analyses a track (the ReplayGain tags of ``djml tags write`` are for other players).

Locations are ``file://localhost/`` plus the percent-encoded absolute path. Tonality is
the classic notation ("Am", "F#m", "Eb"). Colour is one of rekordbox's eight track
colours, chosen per bucket so crates are visible in the track list.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from djml import version as djml_version
from djml import keys
from djml.interop import cuemarks
from djml.interop.model import (ExportTrack, ForeignCollection, ForeignPlaylist, ForeignTrack, PathMap,
                                file_url_to_path, path_to_file_url)
from djml.interop.xmlio import InteropError, fnum, parse_xml, write_xml

# rekordbox's fixed track colours, in the order buckets get them (warm-up, peak-time,
# closing by default: aqua, red, purple), then the rest.
COLOURS = (
    ("Aqua", "0x25FDE9"), ("Red", "0xFF0000"), ("Purple", "0x660099"), ("Yellow", "0xFFFF00"),
    ("Orange", "0xFFA500"), ("Green", "0x00FF00"), ("Blue", "0x0000FF"), ("Pink", "0xFF007F"),
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def bucket_colours(bucket_order: list[str], tracks: list[ExportTrack]) -> dict[str, str]:
    """Bucket → rekordbox colour hex; configured buckets first, extra ones alphabetically."""
    names = list(bucket_order) + sorted({t.bucket for t in tracks if t.bucket} - set(bucket_order))
    return {name: COLOURS[i % len(COLOURS)][1] for i, name in enumerate(names)}


def export(
    tracks: list[ExportTrack],
    playlists: list[tuple[str, str, list[ExportTrack]]],
    out: Path,
    *,
    bucket_order: list[str],
    path_map: PathMap | None = None,
) -> None:
    """Write a rekordbox XML collection with a "djml" playlist folder."""
    path_map = path_map or PathMap()
    colours = bucket_colours(bucket_order, tracks)
    root = ET.Element("DJ_PLAYLISTS", Version="1.0.0")
    ET.SubElement(root, "PRODUCT", Name="djml", Version=djml_version(), Company="djml")
    collection = ET.SubElement(root, "COLLECTION", Entries=str(len(tracks)))
    for t in tracks:
        _track_element(collection, t, path_map, colours)
    top = ET.SubElement(ET.SubElement(root, "PLAYLISTS"), "NODE", Type="0", Name="ROOT", Count="1")
    folders: dict[str, ET.Element] = {}
    djml = ET.SubElement(top, "NODE", Type="0", Name="djml")
    for folder, name, members in playlists:
        if folder not in folders:
            folders[folder] = ET.SubElement(djml, "NODE", Type="0", Name=folder)
        node = ET.SubElement(folders[folder], "NODE", Type="1", Name=name, KeyType="0",
                             Entries=str(len(members)))
        for t in members:
            ET.SubElement(node, "TRACK", Key=str(t.item_id))
    djml.set("Count", str(len(folders)))
    for node in folders.values():
        node.set("Count", str(len(node)))
    write_xml(root, out)


def _track_element(parent: ET.Element, t: ExportTrack, path_map: PathMap, colours: dict[str, str]) -> None:
    attrs = {
        "TrackID": str(t.item_id),
        "Name": t.display_title,
        "Artist": t.artist or "",
        "Album": t.album or "",
        "Genre": t.genre or "",
        "Kind": f"{Path(t.path).suffix.lstrip('.').upper() or 'Audio'} File",
        "Size": str(t.size or 0),
        "TotalTime": str(int(round(t.duration or 0))),
        "Year": str(t.year or ""),
        "AverageBpm": f"{t.bpm:.2f}" if t.bpm else "0.00",
        "SampleRate": str(t.sample_rate or ""),
        "Comments": t.comment or "",
        "Tonality": keys.id3(t.key) if t.key is not None else "",
        "Location": path_to_file_url(path_map.to_foreign(t.path)),
    }
    if t.bucket in colours:
        attrs["Colour"] = colours[t.bucket]
    element = ET.SubElement(parent, "TRACK", attrs)
    if t.bpm:
        ET.SubElement(element, "TEMPO", Inizio=f"{t.first_beat or 0.0:.3f}", Bpm=f"{t.bpm:.2f}",
                      Metro="4/4", Battito="1")
    _position_marks(element, t)


def _position_marks(element: ET.Element, t: ExportTrack) -> None:
    """Every cue as a memory cue (Num -1), and the first of each kind also as a hot cue on
    its kind's pad, both coloured by kind."""
    for cue, pad in zip(t.cues, cuemarks.pads(t.cues)):
        red, green, blue = cuemarks.COLOURS[cue.kind]
        colour = {"Red": str(red), "Green": str(green), "Blue": str(blue)}
        for num in (-1,) if pad is None else (-1, pad):
            ET.SubElement(element, "POSITION_MARK", Name=cuemarks.cue_name(cue), Type="0",
                          Start=f"{cue.seconds:.3f}", Num=str(num), **colour)


def parse(path: Path, *, path_map: PathMap | None = None) -> ForeignCollection:
    """Read a rekordbox XML file: tracks with BPM/key/genre and every playlist.

    Playlists below a folder named like "History" (or named "HISTORY yyyy-mm-dd") are
    history: what was actually played, with the date when the name carries one.
    """
    path_map = path_map or PathMap()
    root = parse_xml(path, "DJ_PLAYLISTS")
    collection = root.find("COLLECTION")
    if collection is None:
        raise InteropError(f"{path}: no <COLLECTION> element (is this a rekordbox XML export?)")
    result = ForeignCollection("rekordbox", str(Path(path).resolve()))
    by_id: dict[str, ForeignTrack] = {}
    by_location: dict[str, ForeignTrack] = {}
    for el in collection.iter("TRACK"):
        location = el.get("Location")
        if not location:
            continue
        local = path_map.to_library(file_url_to_path(location))
        track = ForeignTrack(
            ref=el.get("TrackID") or location, paths=[local],
            artist=el.get("Artist") or None, title=el.get("Name") or None,
            genre=(el.get("Genre") or "").strip() or None,
            bpm=fnum(el.get("AverageBpm")) or _tempo_bpm(el), key=_key(el.get("Tonality")),
        )
        result.tracks.append(track)
        by_id[track.ref] = track
        by_location[location] = track
    playlists = root.find("PLAYLISTS")
    if playlists is not None:
        for node in playlists.findall("NODE"):
            _walk(node, (), by_id, by_location, result.playlists, path_map)
    return result


def _tempo_bpm(el: ET.Element) -> float | None:
    tempo = el.find("TEMPO")
    return fnum(tempo.get("Bpm")) if tempo is not None else None


def _key(text: str | None) -> int | None:
    if not text or not text.strip():
        return None
    try:
        return keys.parse(text)
    except ValueError:
        return None


def _walk(node: ET.Element, folder: tuple[str, ...], by_id: dict, by_location: dict,
          out: list[ForeignPlaylist], path_map: PathMap) -> None:
    name = node.get("Name") or ""
    if node.get("Type") == "0":
        # The invisible ROOT node is not a folder the user sees.
        inner = folder if (not folder and name == "ROOT") else (*folder, name)
        for child in node.findall("NODE"):
            _walk(child, inner, by_id, by_location, out, path_map)
        return
    by_location_key = node.get("KeyType") == "1"
    entries: list[list[str]] = []
    for el in node.findall("TRACK"):
        key = el.get("Key") or ""
        track = (by_location if by_location_key else by_id).get(key)
        if track is not None:
            entries.append(track.paths)
        elif by_location_key:
            entries.append([path_map.to_library(file_url_to_path(key))])
    history = any(f.casefold().startswith("histor") for f in folder) or name.casefold().startswith("history")
    date = _DATE.search(name) if history else None
    out.append(ForeignPlaylist(name, folder, entries, history=history,
                               played_at="-".join(date.groups()) if date else None))
