"""The library screen's energy strip: the focused track's bars as one line of blocks with
its cue points marked (djml.strip), then the cue bars in words as room allows."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from djml import strip
from djml.cues import cues_from_json

STRIP_MAX = 64   # characters of strip; the rest of the line names the cues' bars
STRIP_MIN = 24   # fewer than this left beside the cue bars: the strip alone


def strip_line(info: dict[str, Any] | None, width: int) -> Text:
    """One line for the focused item's ``show`` answer (None: nothing focused)."""
    if not info or info.get("kind") != "track":
        return Text("")
    data = (info.get("analysis") or {}).get("data") or {}
    cues = cues_from_json(data.get("cues"))
    values = data.get("bar_energy") or []
    if not cues or not values:
        return Text("no cue points yet (the track has no beat, or awaits re-analysis)", style="dim")
    room = max(8, width - 2)
    words = "  " + " · ".join(f"{strip.MARKS[c.kind]} {c.bar}" for c in cues if c.kind != "mix_in")
    cells = min(STRIP_MAX, room - len(words))
    if cells < STRIP_MIN:                  # no room for both: the strip alone
        cells, words = min(STRIP_MAX, room), ""
    line = Text()
    for ch, kind in strip.cells(values, data.get("bar_energy_step") or 1, cues, cells):
        line.append(ch, style="bold reverse" if kind else "")
    line.append(words, style="dim")
    return line
