"""A track's energy over its bars as one line of text, with its cue points marked.

Why one shared renderer: `djml show` and the TUI library screen draw the same strip from the
same stored values (the analysis' ``bar_energy``, ``bar_energy_step`` and ``cues``), and a
DJ should read it the same way in both. Characters carry the meaning (block height = how
full the bar is, a letter = a cue), so it reads without colour; pure Python, no numpy, as
`djml show` is a one-shot command.
"""

from __future__ import annotations

from collections.abc import Sequence

from djml.cues import CUE_KINDS, CUE_LABELS, Cue

BLOCKS = "▁▂▃▄▅▆▇█"
MARKS = {"mix_in": "▶", "intro_end": "I", "first_drop": "D", "breakdown": "B",
         "outro_start": "O", "mix_out": "◀"}
# When two cues fall into one character, the one later in this tuple is shown.
PRIORITY = ("mix_in", "mix_out", "breakdown", "outro_start", "intro_end", "first_drop")


def cells(values: Sequence[float], step: int, cues: Sequence[Cue], width: int) -> list[tuple[str, str | None]]:
    """(character, cue kind or None) per column: ``values`` (0..1, one per ``step`` bars)
    pooled by their maximum into at most ``width`` columns, cue bars replaced by MARKS."""
    n = len(values)
    if n == 0 or width <= 0:
        return []
    cols = min(width, n)
    out: list[tuple[str, str | None]] = []
    for c in range(cols):
        lo, hi = c * n // cols, max(c * n // cols + 1, (c + 1) * n // cols)
        v = min(1.0, max(0.0, max(values[lo:hi])))
        out.append((BLOCKS[min(len(BLOCKS) - 1, int(v * (len(BLOCKS) - 1) + 0.5))], None))
    placed: dict[int, str] = {}
    for cue in cues:
        col = min(cols - 1, max(0, (cue.bar - 1) // max(1, step)) * cols // n)
        if col not in placed or PRIORITY.index(cue.kind) > PRIORITY.index(placed[col]):
            placed[col] = cue.kind
    for col, kind in placed.items():
        out[col] = (MARKS[kind], kind)
    return out


def text(values: Sequence[float], step: int, cues: Sequence[Cue], width: int) -> str:
    return "".join(ch for ch, _ in cells(values, step, cues, width))


def legend(cues: Sequence[Cue]) -> str:
    """The marks that occur, in CUE_KINDS order: "▶ mix in · I intro end · …"."""
    kinds = [k for k in CUE_KINDS if any(c.kind == k for c in cues)]
    return " · ".join(f"{MARKS[k]} {CUE_LABELS[k].lower()}" for k in kinds)


def clock(seconds: float) -> str:
    """m:ss.s — a cue needs better than whole seconds at 170 BPM (a beat is 0.35 s)."""
    minutes, secs = divmod(round(max(0.0, seconds), 1), 60.0)
    return f"{int(minutes)}:{secs:04.1f}"
