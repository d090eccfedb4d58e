"""Reading descriptive tags (artist, title, BPM, key …) with mutagen.

Three tag systems cover every format djml reads, each read by its own small function:

- **ID3** (MP3, and the ``ID3 ``/``id3 `` chunk of AIFF and WAV, where DJ software and
  taggers put it): frames TPE1, TIT2, TALB, TCON, TDRC/TYER, TBPM, TKEY, COMM. Read as
  frames, because mutagen's "easy" ID3 view exists only for MP3 files: asked for AIFF or
  WAV it returns the raw frames, and an easy-key lookup finds nothing there;
- **MP4 atoms** (M4A): ``©ART``, ``©nam``, ``tmpo``, ``----:com.apple.iTunes:initialkey`` …;
- **Vorbis comments** (FLAC, OGG, Opus): ``ARTIST``, ``TITLE``, ``BPM``, ``INITIALKEY`` ….

WAV files written by ffmpeg, Audacity or sample-pack tools often carry a RIFF ``LIST/INFO``
chunk instead of (or beside) ID3; mutagen does not read it, so it fills what ID3 lacks.
Tags are advisory: a file whose tags cannot be parsed still gets analysed, so
:func:`read_tags` never raises for a bad tag block, it returns what it could read.
"""

from __future__ import annotations

import re
import struct
import sys
from dataclasses import dataclass, fields
from importlib import import_module
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac",
     ".aif", ".aiff", ".aifc"}
)

# mutagen file types (module, class) for a file whose first bytes say what it is: asking
# `mutagen.File` to choose among all types imports every format module it knows (~25 ms
# per fresh process, most of a one-shot's tag read), and it chooses by the extension
# too, so a FLAC named .wav lost its tags; anything else is left to that full detection
_WAVE, _AIFF, _FLAC = (("mutagen.wave", "WAVE"),), (("mutagen.aiff", "AIFF"),), (("mutagen.flac", "FLAC"),)
_MP4, _MP3 = (("mutagen.mp4", "MP4"),), (("mutagen.mp3", "MP3"),)
_OGG = (("mutagen.oggvorbis", "OggVorbis"), ("mutagen.oggflac", "OggFLAC"), ("mutagen.oggopus", "OggOpus"),
        ("mutagen.oggspeex", "OggSpeex"), ("mutagen.oggtheora", "OggTheora"))


@dataclass
class Tags:
    artist: str | None = None
    title: str | None = None
    album: str | None = None
    genre: str | None = None
    comment: str | None = None
    year: int | None = None
    bpm: float | None = None
    key: str | None = None


# field -> names in each tag system, first found wins
_ID3_FRAMES = {"artist": ("TPE1", "TPE2"), "title": ("TIT2",), "album": ("TALB",), "genre": ("TCON",),
               "year": ("TDRC", "TYER", "TDOR"), "bpm": ("TBPM",), "key": ("TKEY",)}
_MP4_ATOMS = {"artist": ("\xa9ART", "aART"), "title": ("\xa9nam",), "album": ("\xa9alb",),
              "genre": ("\xa9gen",), "year": ("\xa9day",), "bpm": ("tmpo",), "comment": ("\xa9cmt",),
              "key": ("----:com.apple.iTunes:initialkey", "----:com.apple.iTunes:KEY")}
_VORBIS_KEYS = {"artist": ("artist", "albumartist"), "title": ("title",), "album": ("album",),
                "genre": ("genre",), "year": ("date", "year"), "bpm": ("bpm", "tempo"),
                "key": ("initialkey", "key"), "comment": ("comment", "description")}
_RIFF_INFO = {b"IART": "artist", b"INAM": "title", b"IPRD": "album", b"IGNR": "genre",
              b"ICMT": "comment", b"ICRD": "year"}


def read_tags(path: Path | str) -> Tags:
    """Best-effort tag read; returns empty Tags for untagged or unparsable files."""
    audio = _open(str(path))
    found: dict[str, str] = {}
    if audio is not None and audio.tags is not None:
        try:
            found = _read_system(audio.tags)
        except Exception:  # a malformed frame must not cost the file its other tags
            found = {}
    if str(path).lower().endswith((".wav", ".wave")):
        found = {**_riff_info(path), **found}  # ID3 wins where both say something
    tags = Tags(**{f.name: found.get(f.name) for f in fields(Tags)})
    tags.year = _parse_year(tags.year)
    tags.bpm = _parse_bpm(tags.bpm)
    return tags


def _types_of(path: str) -> tuple[tuple[str, str], ...] | None:
    """The mutagen types the file's signature names, None when it names none for sure
    (an MP3 frame or an ID3 header only counts in a file named .mp3: FLAC and AAC may
    start with ID3 too)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _WAVE
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _AIFF
    if head[:4] == b"fLaC":
        return _FLAC
    if head[:4] == b"OggS":
        return _OGG
    if head[4:8] == b"ftyp":
        return _MP4
    if path.lower().endswith(".mp3") and (head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF
                                                                and head[1] & 0xE0 == 0xE0)):
        return _MP3
    return None


def _open(path: str):
    """The mutagen file object of ``path``, or None: the types its first bytes name
    (:func:`_types_of`), else every type mutagen knows."""
    import mutagen  # only paid by processes that read tags

    types = _types_of(path)
    if types:
        try:
            audio = mutagen.File(path, options=[getattr(import_module(m), name) for m, name in types])
            if audio is not None:
                return audio
        except Exception:  # damaged: the full detection below decides, as for any file
            pass
    try:
        return mutagen.File(path)
    except Exception:  # mutagen raises many types for odd files; tags are optional
        return None


def _read_system(tags) -> dict[str, str]:
    # a tag object of a system means its module is loaded; none is imported just to ask
    id3, mp4 = sys.modules.get("mutagen.id3"), sys.modules.get("mutagen.mp4")
    if id3 is not None and isinstance(tags, id3.ID3):
        return _id3(tags)
    if mp4 is not None and isinstance(tags, mp4.MP4Tags):
        return _pick(tags, _MP4_ATOMS)
    return _pick(_LowerKeys(tags), _VORBIS_KEYS)


def _id3(tags) -> dict[str, str]:
    found = {}
    for name, frame_ids in _ID3_FRAMES.items():
        for frame_id in frame_ids:
            frame = tags.get(frame_id)
            if frame is None:
                continue
            values = frame.genres if frame_id == "TCON" else frame.text
            if text := _first_text(values):
                found[name] = text
                break
    comments = sorted(tags.getall("COMM"), key=lambda f: f.desc != "")  # the plain comment first
    for frame in comments:
        if text := _first_text(frame.text):
            found["comment"] = text
            break
    return found


class _LowerKeys:
    """Vorbis comment names are case-insensitive; mutagen keeps them as written."""

    def __init__(self, tags) -> None:
        self._by_lower: dict[str, list] = {}
        for key, value in tags.items() if hasattr(tags, "items") else []:
            self._by_lower.setdefault(str(key).lower(), []).extend(value if isinstance(value, list) else [value])

    def get(self, key: str):
        return self._by_lower.get(key)


def _pick(tags, names: dict[str, tuple[str, ...]]) -> dict[str, str]:
    found = {}
    for field_name, keys in names.items():
        for key in keys:
            values = tags.get(key)
            if values and (text := _first_text(values)):
                found[field_name] = text
                break
    return found


def _first_text(values) -> str | None:
    value = values[0] if isinstance(values, (list, tuple)) else values
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    text = str(value).strip().replace("\x00", "")
    return text or None


def _riff_info(path: Path | str) -> dict[str, str]:
    """Text fields of a WAV file's RIFF ``LIST/INFO`` chunk (encoding: UTF-8, else Latin-1)."""
    found: dict[str, str] = {}
    try:
        with open(path, "rb") as f:
            header = f.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                return found
            while chunk := f.read(8):
                if len(chunk) < 8:
                    break
                kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if kind == b"LIST" and size >= 4 and f.read(4) == b"INFO":
                    _info_fields(f.read(min(size - 4, 1 << 20)), found)
                    break
                f.seek(size + (size & 1) - (4 if kind == b"LIST" and size >= 4 else 0), 1)
    except OSError:
        return {}
    return found


def _info_fields(data: bytes, found: dict[str, str]) -> None:
    offset = 0
    while offset + 8 <= len(data):
        kind, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        raw = data[offset + 8:offset + 8 + size].split(b"\x00", 1)[0]
        offset += 8 + size + (size & 1)
        name = _RIFF_INFO.get(kind)
        if name is None or name in found:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        if text.strip():
            found[name] = text.strip()


def _parse_year(value) -> int | None:
    if value is None:
        return None
    m = re.search(r"\d{4}", str(value))
    return int(m.group()) if m else None


def _parse_bpm(value) -> float | None:
    if value is None:
        return None
    try:
        bpm = float(str(value).replace(",", "."))
    except ValueError:
        return None
    return bpm if 20 <= bpm <= 400 else None
