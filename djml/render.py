"""Terminal output shared by commands: JSON lines for scripts, rich tables for people.

rich is imported inside the functions that draw, so JSON output never pays for it.
"""

from __future__ import annotations

import sys

from djml.safetext import display, dumps

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing: CLI one-shots import this
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def json_lines(rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line: readable Unicode names, and undecodable bytes of a file
    name as lossless \\udcXX escapes (see djml.safetext)."""
    write = sys.stdout.write
    for row in rows:
        write(json_line(row))


def json_line(row: dict[str, Any]) -> str:
    """One row of `djml ls --json` (the daemon renders the same lines for ``query.lines``)."""
    return dumps(row) + "\n"


def safe(text: object) -> str:
    """Data (a file name, a tag, an error) for rich output: undecodable bytes and control
    characters escaped (djml.safetext.display), and no rich markup."""
    from rich.markup import escape

    return escape(display(None if text is None else str(text)))


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def fmt_bpm(bpm: float | None, ambiguous: bool | None = None) -> str:
    if bpm is None:
        return "—"
    return f"{bpm:.1f}" + ("?" if ambiguous else "")


def fmt_loudness(facts: dict[str, Any]) -> str | None:
    """"-8.2 LUFS · LRA 5.1 LU · peak -0.3 dBTP · RMS -9.1 dBFS" from what is known: the
    BS.1770 integrated loudness DJ software gain-matches by, its range, the true peak, and
    djml's older RMS level (named as such: it is not LUFS)."""
    parts = [f"{facts['lufs']:.1f} LUFS" if facts.get("lufs") is not None else None,
             f"LRA {facts['lra']:.1f} LU" if facts.get("lra") is not None else None,
             f"peak {facts['true_peak_db']:.1f} dBTP" if facts.get("true_peak_db") is not None else None,
             f"RMS {facts['loudness']:.1f} dBFS" if facts.get("loudness") is not None else None]
    return " · ".join(p for p in parts if p) or None


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def items_table(rows: list[dict[str, Any]], title: str | None = None):
    """The listing used by `djml ls` and others. Columns adapt to what is listed: tempo,
    key and energy for tracks; type and pitch for samples; so 80 columns stay readable."""
    from rich.table import Table

    has_tracks = any(r["kind"] == "track" for r in rows)
    has_samples = any(r["kind"] == "sample" for r in rows)
    table = Table(title=title, header_style="bold", pad_edge=False, box=None)
    table.add_column("id", justify="right", style="dim")
    if has_tracks and has_samples:
        table.add_column("kind")
    table.add_column("artist – title" if has_tracks else "file", overflow="fold", ratio=3)
    if has_tracks:
        table.add_column("BPM", justify="right", no_wrap=True)
        table.add_column("key", justify="right", no_wrap=True)
        table.add_column("nrg", justify="right")
    if has_samples:
        table.add_column("type", no_wrap=True)
        table.add_column("note", no_wrap=True)
    table.add_column("length", justify="right", no_wrap=True)
    table.add_column("label", no_wrap=True)
    table.add_column("genre" if has_tracks else "folder", overflow="ellipsis", no_wrap=True, ratio=1)
    for r in rows:
        is_track = r["kind"] == "track"
        name = " – ".join(x for x in (r.get("artist"), r.get("title")) if x) or _basename(r.get("path"))
        name = safe(name)
        if r.get("missing"):
            name = f"[red]✗[/red] {name}"
        label = safe(r.get("label"))
        if label and r.get("label_source") == "model":
            label = f"[italic]{label}?[/italic]"
        cells = [str(r["id"])]
        if has_tracks and has_samples:
            cells.append(r["kind"])
        cells.append(name)
        if has_tracks:
            cells += [
                fmt_bpm(r.get("bpm"), r.get("bpm_ambiguous")) if is_track else "",
                (r.get("camelot") or "—") if is_track else "",
                f"{r['energy']:.0f}" if r.get("energy") is not None else "",
            ]
        if has_samples:
            cells += [r.get("sample_type") or "" if not is_track else "", r.get("note") or ""]
        cells += [fmt_duration(r.get("duration")), label]
        cells.append(safe(r.get("genre") if has_tracks else _folder(r.get("path"))))
        table.add_row(*cells)
    return table


def plain_lines(rows: Iterable[dict[str, Any]]) -> int:
    """`djml ls` into a pipe: one tab-separated line per item (id, kind, name, BPM, Camelot
    key, energy, label, genre or folder, path) — no wrapping, no markup, easy to cut.
    Returns how many lines were written."""
    write = sys.stdout.write
    count = 0
    for r in rows:
        count += 1
        write(plain_line(r))
    return count


def plain_line(r: dict[str, Any]) -> str:
    """One row of :func:`plain_lines` (the daemon renders the same lines for ``query.lines``)."""
    name = " – ".join(x for x in (r.get("artist"), r.get("title")) if x) or _basename(r.get("path"))
    label = (r.get("label") or "") + ("?" if r.get("label_source") == "model" else "")
    cells = [str(r["id"]), r["kind"], name, fmt_bpm(r.get("bpm"), r.get("bpm_ambiguous")) if r.get("bpm") else "",
             r.get("camelot") or "", f"{r['energy']:.0f}" if r.get("energy") is not None else "", label,
             (r.get("genre") or "") if r["kind"] == "track" else _folder(r.get("path")), r.get("path") or ""]
    return "\t".join(_one_line(c) for c in cells) + "\n"


def _one_line(text: str) -> str:
    """Tabs and line breaks inside a value would split the line: shown as spaces; other
    control characters and undecodable bytes escaped (djml.safetext.display)."""
    return display(" ".join(text.replace("\t", " ").splitlines())) if text else ""


def _folder(path: str | None) -> str:
    parts = (path or "").rsplit("/", 2)
    return parts[-2] if len(parts) >= 2 else ""


def model_members(estimator: str, metadata: dict[str, Any] | None) -> str:
    """What a model version is made of, for people: the shipped sample model is trees
    blended with a linear model and a CNN, and naming only its loader ("et") would say
    it is trees alone. A blend reads "et 0.50 + lr 0.25 + cnn 0.25" (each member's share
    of the probabilities); anything else its estimator."""
    shares = []
    for name, key in (("lr", "partner"), ("cnn", "cnn")):
        member = (metadata or {}).get(key)
        if isinstance(member, dict) and isinstance(member.get("share"), (int, float)) and member["share"] > 0:
            shares.append((name, float(member["share"])))
    if not shares:
        return estimator
    own = 1.0 - sum(share for _, share in shares)
    return " + ".join(f"{name} {share:.2f}" for name, share in [(estimator, own), *shares])


def fmt_uptime(seconds: float) -> str:
    """'3d04h', '2h05m', '4m09s', '12s': compact enough for a status line."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _basename(path: str | None) -> str:
    return path.rsplit("/", 1)[-1] if path else "?"


def warn_ambiguous(resolved: dict[str, Any], ref: str, command: str) -> None:
    """Words matched several items (see djml.query.Resolved): say on stderr which one is
    used and name the others, with how to pick one. Silent for ids, paths and a unique or
    exact match (rich is imported only when there is something to say)."""
    if resolved.get("how") != "text" or resolved.get("matches", 0) < 2 or resolved.get("exact"):
        return
    others = ", ".join(f"#{o['id']} {safe(o['name'])}" for o in resolved.get("others", [])[:3])
    more = resolved["matches"] - 1 - min(3, len(resolved.get("others", [])))
    console(stderr=True).print(
        f"[yellow]{resolved['matches']} items match {safe(repr(ref))}; using #{resolved['item_id']}"
        f" {safe(resolved['name'])}.[/yellow] Others: {others}{f' and {more} more' if more > 0 else ''}."
        f" Pick one by id (djml {command} ID) or with more words.", markup=True, highlight=False, soft_wrap=True)
