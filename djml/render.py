"""Terminal output shared by commands: JSON lines for scripts, rich tables for people.

rich is imported inside the functions that draw, so JSON output never pays for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any


def json_lines(rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line (ensure_ascii=False keeps Unicode names readable)."""
    write = sys.stdout.write
    for row in rows:
        write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def fmt_bpm(bpm: float | None, ambiguous: bool | None = None) -> str:
    if bpm is None:
        return "—"
    return f"{bpm:.1f}" + ("?" if ambiguous else "")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def items_table(rows: list[dict[str, Any]], title: str | None = None):
    """The listing used by `djml ls` (and later by recommend/review)."""
    from rich.table import Table

    table = Table(title=title, header_style="bold", expand=False, pad_edge=False)
    table.add_column("id", justify="right", style="dim")
    table.add_column("kind")
    table.add_column("artist – title", overflow="fold", max_width=48)
    table.add_column("BPM", justify="right")
    table.add_column("key", justify="right")
    table.add_column("energy", justify="right")
    table.add_column("length", justify="right")
    table.add_column("label")
    table.add_column("genre", overflow="ellipsis", max_width=16)
    for r in rows:
        name = " – ".join(x for x in (r.get("artist"), r.get("title")) if x) or _basename(r.get("path"))
        if r.get("missing"):
            name = f"[red]✗[/red] {name}"
        label = r.get("label") or ""
        if label and not r.get("user_label"):
            label = f"[italic]{label}?[/italic]"
        table.add_row(
            str(r["id"]),
            r["kind"] if r["kind"] == "track" else f"{r['kind']} ({r.get('sample_type') or '?'})",
            name,
            fmt_bpm(r.get("bpm"), r.get("bpm_ambiguous")),
            r.get("camelot") or "—",
            f"{r['energy']:.0f}" if r.get("energy") is not None else "—",
            fmt_duration(r.get("duration")),
            label,
            r.get("genre") or "",
        )
    return table


def _basename(path: str | None) -> str:
    return path.rsplit("/", 1)[-1] if path else "?"
