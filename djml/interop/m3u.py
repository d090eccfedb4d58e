"""Extended M3U / M3U8 playlists: the format every DJ program and media player reads.

Export writes one UTF-8 ``.m3u8`` file per playlist into ``OUT/<folder>/<name>.m3u8``
with ``#EXTM3U`` and ``#EXTINF:<seconds>,<artist> - <title>`` lines, and absolute paths
(or paths relative to the playlist file with ``relative=True``, for a USB stick or a
synced folder). Import reads ``.m3u8`` as UTF-8 and legacy ``.m3u`` as UTF-8 when valid,
else Latin-1 (what Winamp-era writers produced); entries may be absolute, relative to the
playlist, or ``file://`` URLs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from djml.interop.model import ExportTrack, ForeignCollection, ForeignPlaylist, PathMap, file_url_to_path
from djml.interop.xmlio import InteropError, atomic_write_text

_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


def safe_name(name: str) -> str:
    """A playlist name usable as a file name on Linux, macOS and Windows (FAT USB sticks)."""
    cleaned = _UNSAFE.sub("-", name).strip().strip(".")
    return cleaned or "untitled"


def render(tracks: list[ExportTrack], playlist_file: Path, *, relative: bool = False,
           path_map: PathMap | None = None) -> str:
    """The text of one playlist file."""
    path_map = path_map or PathMap()
    lines = ["#EXTM3U"]
    for t in tracks:
        label = " - ".join(x for x in (t.artist, t.display_title) if x)
        lines.append(f"#EXTINF:{int(round(t.duration)) if t.duration else -1},{label}")
        target = path_map.to_foreign(t.path)
        if relative:
            target = os.path.relpath(target, path_map.to_foreign(str(playlist_file.parent)))
        lines.append(target)
    return "\n".join(lines) + "\n"


def export(playlists: list[tuple[str, str, list[ExportTrack]]], out_dir: Path, *,
           relative: bool = False, path_map: PathMap | None = None) -> list[Path]:
    """Write every playlist below ``out_dir`` (created if needed); returns the files."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InteropError(f"{out_dir} is a file; M3U export needs a folder (one file per playlist)")
    written = []
    for folder, name, members in playlists:
        target = out_dir / safe_name(folder.lower()) / f"{safe_name(name)}.m3u8"
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, render(members, target.absolute(), relative=relative, path_map=path_map))
        written.append(target)
    return written


def parse(path: Path, *, path_map: PathMap | None = None) -> ForeignCollection:
    """One playlist file → a collection holding one playlist named after the file."""
    path_map = path_map or PathMap()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InteropError(f"{path}: cannot read ({exc.strerror or exc})") from None
    text = _decode(raw, path)
    base = path.resolve().parent
    entries: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        local = file_url_to_path(line) if line.lower().startswith("file:") else line
        if "://" in local:
            continue                      # a stream URL, not a file
        local = path_map.to_library(local)
        if not os.path.isabs(local):
            local = os.path.join(base, local.replace("\\", "/"))
        entries.append([os.path.normpath(local)])
    result = ForeignCollection("m3u", str(path.resolve()))
    result.playlists.append(ForeignPlaylist(path.stem, (), entries))
    return result


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if path.suffix.lower() == ".m3u8":
            raise InteropError(f"{path}: an .m3u8 file must be UTF-8") from None
        return raw.decode("latin-1")
