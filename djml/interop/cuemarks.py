"""How djml's typed cue points (:mod:`djml.cues`) appear in DJ software: the name shown,
the hot-cue pad, and the colour.

Every cue kind owns a fixed pad, in CUE_KINDS order, so a DJ learns the layout once (pad B
is always the intro's end) whatever the track. Only the first cue of a kind gets the pad;
a second breakdown is a memory cue only. rekordbox numbers pads from 0 (A); Traktor's
pad 1 (HOTCUE 0) holds the AutoGrid marker djml already writes, so its cue pads start at 2.
"""

from __future__ import annotations

from djml.cues import CUE_KINDS, CUE_LABELS, Cue

# (red, green, blue): green to start, blue/white as the track builds, red for the drop,
# violet for a breakdown, orange/yellow as it ends
COLOURS = {
    "mix_in": (40, 226, 20), "intro_end": (48, 90, 255), "first_drop": (230, 40, 40),
    "breakdown": (180, 50, 255), "outro_start": (255, 140, 0), "mix_out": (255, 220, 0),
}


def cue_name(cue: Cue) -> str:
    return f"{CUE_LABELS[cue.kind]} (bar {cue.bar})"


def pads(cues: list[Cue]) -> list[int | None]:
    """Per cue: its kind's pad index (0-based, CUE_KINDS order) for the first cue of each
    kind, else None."""
    seen: set[str] = set()
    out: list[int | None] = []
    for cue in cues:
        out.append(None if cue.kind in seen else CUE_KINDS.index(cue.kind))
        seen.add(cue.kind)
    return out
