"""Reading descriptive tags (artist, title, BPM, key …) with mutagen.

mutagen's "easy" interfaces normalise ID3, Vorbis comments, MP4 atoms and AIFF/WAV ID3
chunks to the same keys, so one mapping covers MP3, FLAC, OGG/Opus, M4A, WAV and AIFF.
Tags are advisory: a file whose tags cannot be parsed still gets analysed, so
:func:`read_tags` never raises for a bad tag block, it returns what it could read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac",
     ".aif", ".aiff", ".aifc"}
)


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


_EASY_KEYS = {
    "artist": "artist",
    "title": "title",
    "album": "album",
    "genre": "genre",
    "date": "year",
    "bpm": "bpm",
    "initialkey": "key",
    "comment": "comment",
    "description": "comment",
}


def read_tags(path: Path | str) -> Tags:
    """Best-effort tag read; returns empty Tags for untagged or unparsable files."""
    import mutagen  # ~30 ms, only paid by processes that read tags

    tags = Tags()
    try:
        easy = mutagen.File(str(path), easy=True)
    except Exception:  # mutagen raises many types for odd files; tags are optional
        return tags
    if easy is None or easy.tags is None:
        return tags
    for source, target in _EASY_KEYS.items():
        try:
            values = easy.tags.get(source)
        except (KeyError, ValueError):
            continue
        if values and getattr(tags, target) is None:
            setattr(tags, target, _first_text(values))
    _read_raw_extras(path, tags)
    tags.year = _parse_year(tags.year)
    tags.bpm = _parse_bpm(tags.bpm)
    return tags


def _first_text(values) -> str | None:
    value = values[0] if isinstance(values, list) else values
    text = str(value).strip().replace("\x00", "")
    return text or None


def _read_raw_extras(path: Path | str, tags: Tags) -> None:
    """Comments and keys that the easy interfaces do not map (ID3 COMM/TKEY, MP4 atoms)."""
    import mutagen

    if tags.comment is not None and tags.key is not None:
        return
    try:
        raw = mutagen.File(str(path))
    except Exception:
        return
    if raw is None or raw.tags is None:
        return
    items = raw.tags.items() if hasattr(raw.tags, "items") else []
    for name, value in items:
        upper = str(name).upper()
        if tags.comment is None and (upper.startswith("COMM") or upper == "\xa9CMT"):
            tags.comment = _first_text(getattr(value, "text", value))
        elif tags.key is None and (upper in ("TKEY", "INITIALKEY", "----:COM.APPLE.ITUNES:INITIALKEY")):
            text = getattr(value, "text", value)
            if isinstance(text, list) and text and isinstance(text[0], bytes):
                text = [t.decode("utf-8", "replace") for t in text]
            tags.key = _first_text(text)
        elif tags.bpm is None and upper == "TMPO":
            tags.bpm = _first_text(value)


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
