"""Compact renderings of the facts a DJ checks first: tempo, key, energy, name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text

from djml.safetext import display


def bpm_text(row: dict[str, Any]) -> str:
    bpm = row.get("bpm")
    if bpm is None:
        return "–"
    text = f"{bpm:.1f}".rstrip("0").rstrip(".") if bpm % 1 else f"{bpm:.0f}"
    return text + ("?" if row.get("bpm_ambiguous") else "")


def key_text(row: dict[str, Any], long: bool = False) -> str:
    """Camelot first (what mixing needs); ``long`` adds the standard name: '8A · A minor'."""
    camelot = row.get("camelot")
    if not camelot:
        return "–"
    return f"{camelot} · {row.get('key')}" if long and row.get("key") else camelot


def energy_text(row: dict[str, Any]) -> str:
    energy = row.get("energy")
    return "–" if energy is None else f"{energy:.0f}"


def plain(text: str | None) -> Text:
    """Data (a name, a label, a genre) for a table cell or a Static: escaped
    (djml.safetext.display) and never read as markup, which Textual applies to plain str."""
    return Text(display(text))


def markup_safe(text: object) -> str:
    """Data inside a markup string (notifications): escaped and with markup neutralised."""
    from rich.markup import escape

    return escape(display(None if text is None else str(text)))


def name_text(row: dict[str, Any]) -> str:
    """'Artist – Title', else the file name (samples rarely have tags); undecodable bytes
    and control characters escaped (a name must not drive the terminal)."""
    parts = [x.strip() for x in (row.get("artist"), row.get("title")) if x and x.strip()]
    if parts:
        return display(" – ".join(parts))
    path = row.get("path")
    return display(Path(path).name) if path else f"#{row.get('id') or row.get('item_id')}"
