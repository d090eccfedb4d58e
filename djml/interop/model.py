"""Format-neutral data shared by every exporter and parser.

Exporters take :class:`ExportTrack` rows (what djml knows, already resolved: a user's
label beats the analyser, the analyser beats the file tag); parsers return a
:class:`ForeignCollection` (what another program knows, with local paths already decoded
from its URL/volume scheme). Keeping the two sides as plain data means the round-trip
tests can compare them field by field.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from djml.cues import Cue


@dataclass
class ExportTrack:
    """One library item as exported (only items with a present file are exported)."""

    item_id: int
    path: str
    kind: str
    artist: str | None = None
    title: str | None = None
    album: str | None = None
    genre: str | None = None
    comment: str | None = None
    year: int | None = None
    duration: float | None = None
    bpm: float | None = None
    key: int | None = None
    energy: float | None = None
    first_beat: float | None = None
    size: int | None = None
    sample_rate: int | None = None
    bucket: str | None = None          # tracks: the user's label (a model's guess only when asked)
    sample_class: str | None = None    # samples: label or folder name (guess when asked), else one-shot/loop
    guessed: dict[str, float] = field(default_factory=dict)   # field -> model confidence, for guesses
    lufs: float | None = None          # BS.1770 integrated loudness (djml.analysis.loudness)
    lra: float | None = None
    true_peak_db: float | None = None
    cues: list[Cue] = field(default_factory=list)            # in track order (djml.cues)

    @property
    def display_title(self) -> str:
        """Title for programs that need one: the tag, else the file name without extension."""
        return self.title or Path(self.path).stem


@dataclass
class ForeignTrack:
    """A track as another program lists it. ``paths`` are candidate local paths, best first
    (Traktor's VOLUME can mean "/" or "/Volumes/NAME", so one entry may need two guesses)."""

    ref: str
    paths: list[str]
    artist: str | None = None
    title: str | None = None
    genre: str | None = None
    bpm: float | None = None
    key: int | None = None


@dataclass
class ForeignPlaylist:
    """An ordered playlist; ``folder`` is the chain of folder names above it."""

    name: str
    folder: tuple[str, ...]
    entries: list[list[str]]           # candidate paths per entry, in playlist order
    history: bool = False
    played_at: str | None = None


@dataclass
class ForeignCollection:
    source: str                        # rekordbox | traktor | m3u
    source_path: str
    tracks: list[ForeignTrack] = field(default_factory=list)
    playlists: list[ForeignPlaylist] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON data: the CLI parses the user's file and sends this to the daemon."""
        return asdict(self)

    def parts(self, max_bytes: int) -> list["ForeignCollection"]:
        """The collection cut into pieces of about ``max_bytes`` of JSON each (the daemon
        takes request lines up to 1 MiB; a big rekordbox library is several). Playlists
        stay whole — re-importing a set replaces it, so half a set must never arrive."""
        pieces: list[ForeignCollection] = []
        current = ForeignCollection(self.source, self.source_path)
        size = 0
        for kind, entry in [*(("tracks", t) for t in self.tracks), *(("playlists", p) for p in self.playlists)]:
            cost = len(json.dumps(asdict(entry), ensure_ascii=False)) + 1
            if size + cost > max_bytes and (current.tracks or current.playlists):
                pieces.append(current)
                current, size = ForeignCollection(self.source, self.source_path), 0
            getattr(current, kind).append(entry)
            size += cost
        return [*pieces, current]

    @classmethod
    def from_dict(cls, data: dict) -> "ForeignCollection":
        return cls(
            source=str(data["source"]), source_path=str(data["source_path"]),
            tracks=[ForeignTrack(**t) for t in data.get("tracks", [])],
            playlists=[ForeignPlaylist(**{**p, "folder": tuple(p.get("folder", ()))})
                       for p in data.get("playlists", [])],
        )


class PathMap:
    """Rewrite path prefixes between the library's file system and the DJ computer's.

    A headless server sees ``/srv/music``; the laptop running rekordbox sees the same share
    as ``/Volumes/music``. Pairs are (library prefix, foreign prefix) and match whole path
    components only, so ``/srv/music`` never rewrites ``/srv/musical``.
    """

    def __init__(self, pairs: list[tuple[str, str]] | None = None):
        self.pairs = [(_strip(a), _strip(b)) for a, b in (pairs or [])]

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...]) -> "PathMap":
        """From ``LIBRARY_PREFIX=FOREIGN_PREFIX`` strings; raises ValueError on bad input."""
        pairs = []
        for spec in specs:
            local, sep, foreign = spec.partition("=")
            if not sep or not local.strip() or not foreign.strip():
                raise ValueError(f"path map must look like /srv/music=/Volumes/music, got {spec!r}")
            pairs.append((local.strip(), foreign.strip()))
        return cls(pairs)

    def to_foreign(self, path: str) -> str:
        return _swap(path, [(a, b) for a, b in self.pairs])

    def to_library(self, path: str) -> str:
        return _swap(path, [(b, a) for a, b in self.pairs])


def _strip(prefix: str) -> str:
    return prefix.rstrip("/") or "/"


def _swap(path: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        if path == old:
            return new
        if path.startswith(old.rstrip("/") + "/"):
            return new.rstrip("/") + path[len(old.rstrip("/")):]
    return path


def path_to_file_url(path: str) -> str:
    """``/a b/#1.mp3`` → ``file://localhost/a%20b/%231.mp3`` (rekordbox's Location form).

    Everything except ``/`` and RFC 3986 unreserved characters is percent-encoded as
    UTF-8, so ``#``, ``%``, ``?``, ``+`` and ``&`` survive any URL decoder. A Windows
    path ``C:\\Music\\x.mp3`` keeps its drive colon (``file://localhost/C:/Music/x.mp3``).
    """
    posix = path.replace("\\", "/") if _is_windows_path(path) else path
    encoded = quote(posix.lstrip("/"), safe="/:" if _is_windows_path(path) else "/")
    return "file://localhost/" + encoded


def file_url_to_path(url: str) -> str:
    """Inverse of :func:`path_to_file_url`; also accepts ``file:///x`` and plain paths."""
    text = url.strip()
    if not text.lower().startswith("file:"):
        return text
    parts = urlsplit(text)
    path = unquote(parts.path)
    if parts.netloc and parts.netloc.lower() != "localhost":
        return f"//{parts.netloc}{path}"     # a UNC share: keep the host, let matching fail
    path = "/" + path.lstrip("/")           # pyrekordbox writes file://localhost//Users/…
    if len(path) > 2 and path[2] == ":" and path[1].isalpha():
        return path[1:]                      # /C:/Music → C:/Music
    return path


def _is_windows_path(path: str) -> bool:
    return len(path) > 1 and path[1] == ":" and path[0].isalpha()


def normal_path(path: str) -> str:
    """The form used to compare paths from different programs: NFC Unicode (macOS writes
    NFD), no ``.``/``..`` segments, no doubled slashes."""
    return unicodedata.normalize("NFC", os.path.normpath(path)) if path else path
