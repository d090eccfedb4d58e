"""A set chain built on the recommendations screen, and its export as an M3U8 playlist.

Written here rather than through :mod:`djml.interop` because the chain lives in the TUI
(nothing in the library yet) and the format is tiny: ``#EXTM3U``, then per track an
``#EXTINF:<seconds>,<artist> - <title>`` line and the absolute path.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .widgets.badges import name_text


def render_m3u8(tracks: list[dict[str, Any]]) -> str:
    lines = ["#EXTM3U"]
    for t in tracks:
        if not t.get("path"):
            raise ValueError(f"#{t.get('id')} has no known file path")
        seconds = int(round(t["duration"])) if t.get("duration") else -1
        lines.append(f"#EXTINF:{seconds},{name_text(t).replace(' – ', ' - ')}")
        lines.append(str(Path(t["path"]).absolute()))
    return "\n".join(lines) + "\n"


def default_name(now: float | None = None) -> str:
    return time.strftime("djml-set-%Y%m%d-%H%M.m3u8", time.localtime(now))


def export(tracks: list[dict[str, Any]], target: str | os.PathLike, cwd: Path | None = None) -> Path:
    """Write the chain to ``target`` (a file, or a folder → a dated file name inside it),
    relative to ``cwd``; atomic (temp file + rename), so a failed write loses nothing."""
    if not tracks:
        raise ValueError("the chain is empty: accept a suggestion first")
    path = Path(target).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    if path.is_dir():
        path = path / default_name()
    if path.suffix.lower() not in (".m3u8", ".m3u"):
        path = path.with_name(path.name + ".m3u8")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist")
    text = render_m3u8(tracks)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
