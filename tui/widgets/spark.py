"""Text sparklines (▁▂▃▄▅▆▇█): one character per value, readable without colour."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"


def spark(values: Sequence[float | None], lo: float | None = None, hi: float | None = None) -> str:
    """Scale into [lo, hi] (default: the values' own range); None renders as a space."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo = min(known) if lo is None else lo
    hi = max(known) if hi is None else hi
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
            continue
        frac = 0.0 if span <= 0 else (min(hi, max(lo, v)) - lo) / span
        out.append(BLOCKS[min(len(BLOCKS) - 1, int(frac * (len(BLOCKS) - 1) + 0.5))])
    return "".join(out)
