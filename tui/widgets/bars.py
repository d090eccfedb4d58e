"""Confidence bars drawn with characters, so they read the same in monochrome (NO_COLOR)
and over any SSH terminal: the length carries the meaning, colour only decorates it."""

from __future__ import annotations

from rich.text import Text

FULL, EMPTY = "█", "░"


def bar(value: float | None, width: int = 20) -> str:
    """``value`` in [0, 1] as a bar of ``width`` cells (None → all empty)."""
    v = 0.0 if value is None else min(1.0, max(0.0, float(value)))
    filled = int(round(v * width))
    return FULL * filled + EMPTY * (width - filled)


def confidence_style(value: float | None) -> str:
    if value is None:
        return "dim"
    return "green" if value >= 0.75 else "yellow" if value >= 0.5 else "red"


def prediction_lines(top: list, width: int = 20, label_width: int | None = None) -> Text:
    """The top predictions as aligned rows: ``label  ████░░░░  0.62``; labels are shown
    whole ("progressive house", not "progress") up to 24 characters."""
    out = Text()
    label_width = label_width or min(24, max([len(str(e[0])) for e in top[:3]] + [6]))
    for i, entry in enumerate(top[:3]):
        label, p = entry[0], entry[1]
        if i:
            out.append("\n")
        text = str(label) if len(str(label)) <= label_width else str(label)[:label_width - 1] + "…"
        out.append(f"{text:<{label_width}} ")
        out.append(bar(p, width), style=confidence_style(p))
        out.append(f" {float(p):.2f}")
    if not top:
        out.append("no prediction yet (no model for this task)", style="dim")
    return out
