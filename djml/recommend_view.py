"""`djml recommend` as people read it: the same lines from the click command and from the
one-shot path a running daemon answers (:mod:`djml.oneshot`), which must not import click.

The styling is click's own (bold, dim, yellow as ANSI codes, dropped when the stream is not
a terminal), so both paths print byte for byte the same."""

from __future__ import annotations

import re
import sys

from djml.render import fmt_bpm
from djml.safetext import display

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing: CLI one-shots import this
if TYPE_CHECKING:
    from typing import Any, TextIO

_CODES = {"bold": "1", "dim": "2", "yellow": "33"}
_ANSI = re.compile(r"\033\[[0-?]*[ -/]*[@-~]")   # what click.echo strips
WIDEN = {"tempo": "a larger --bpm-tolerance", "key": "--key relaxed or --key any",
         "energy": "another --energy direction (or none)"}


def style(text: str, *names: str) -> str:
    """``click.style(text, bold=True)`` and the like, for the names in :data:`_CODES`."""
    return "".join(f"\033[{_CODES[n]}m" for n in names) + text + "\033[0m"


def echo(text: str, err: bool = False) -> None:
    """``click.echo``: a line, without styling unless the stream is a terminal, flushed."""
    stream: TextIO = sys.stderr if err else sys.stdout
    isatty = getattr(stream, "isatty", None)
    if not (isatty is not None and isatty()):
        text = _ANSI.sub("", text)
    stream.write(text + "\n")
    stream.flush()


def print_answer(answer: dict[str, Any]) -> None:
    """The seed, each suggestion with its score and reasons, and what to widen when fewer
    than asked passed the filters."""
    seed, rows = answer["seed"], answer["items"]
    facts = " · ".join(x for x in (f"{fmt_bpm(seed.get('bpm'))} BPM" if seed.get("bpm") else None,
                                    seed.get("camelot"),
                                    f"energy {seed['energy']:.0f}" if seed.get("energy") is not None else None) if x)
    echo(style(f"After #{seed['id']} {display(seed['name'])}", "bold") + (f"  ({facts})" if facts else ""))
    for row in rows:
        name = display(" – ".join(x for x in (row.get("artist"), row.get("title")) if x) or (row.get("path") or "?"))
        missing = style("  (file missing)", "yellow") if row.get("missing") else ""
        echo(style(f"{row['rank']:>2}. #{row['id']} {name}", "bold") + style(f"  score {row['score']:.2f}", "dim")
             + missing)
        echo(f"    {display(row['explanation'])}")
    shortfall = answer.get("shortfall")
    if shortfall is None:
        return
    widen = WIDEN.get(shortfall.get("filter") or "")
    if not rows:
        echo(f"No suggestions: {shortfall['reason']}." + (f" Try {widen}." if widen else ""))
    else:
        echo(style(f"Only {len(rows)} of {answer['requested']}: {shortfall['reason']}."
                   + (f" Try {widen}." if widen else ""), "dim"), err=True)


def print_json(answer: dict[str, Any]) -> None:
    """`--json`: one object per suggestion, each naming the seed."""
    from djml.render import json_lines

    seed = answer["seed"]
    brief = {k: seed.get(k) for k in ("id", "name", "artist", "title", "path")}
    json_lines({**row, "seed": brief} for row in answer["items"])
