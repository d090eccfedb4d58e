"""The ``?`` overlay: every key of the screen underneath, read from its BINDINGS, so the
help can never drift from what the keys really do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_KEYS = [
    ("F1 / R", "review queue"), ("F2 / L", "library"), ("F3 / M", "recommendations (mix)"),
    ("F4 / S", "status"), ("?", "this help"), ("q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, title: str, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self._title = title
        self._rows = bindings   # not `_bindings`: Textual keeps its key map under that name

    def compose(self) -> ComposeResult:
        lines = [f"[b]{self._title} — keys[/b]", ""]
        lines += [f"  [b]{key:<12}[/b] {text}" for key, text in self._rows]
        lines += ["", "[b]Everywhere[/b]", ""]
        lines += [f"  [b]{key:<12}[/b] {text}" for key, text in GLOBAL_KEYS]
        lines += ["", "[dim]Esc or ? closes this help.[/dim]"]
        with VerticalScroll(id="help-box"):
            yield Static("\n".join(lines))


def screen_keys(bindings: list) -> list[tuple[str, str]]:
    """(key, description) rows from a screen's BINDINGS (Binding objects or tuples)."""
    rows = []
    for b in bindings:
        if isinstance(b, Binding):
            key, desc = b.key_display or b.key, b.description
        else:
            key, desc = b[0], b[2] if len(b) > 2 else b[1]
        row = (key.replace(",", " / "), desc)
        if desc and row not in rows:
            rows.append(row)
    return rows
