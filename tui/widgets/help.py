"""The ``?`` overlay: every key of the screen underneath, read from its BINDINGS, so the
help can never drift from what the keys really do.

Two columns (this screen's keys, the keys that work everywhere) so the whole help fits
an 80×24 terminal; on a smaller one the box scrolls (↓/↑, j/k, PgDn/PgUp) and Esc, q or
? close it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_KEYS = [
    ("F1 / R", "review queue"), ("F2 / L", "library"), ("F3 / M", "recommendations (mix)"),
    ("F4 / S", "status"), ("d", "start the daemon"), ("?", "this help"), ("q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "close"),
        Binding("j,down", "scroll(1)", "scroll", show=False),
        Binding("k,up", "scroll(-1)", "scroll", show=False),
        Binding("pagedown,space", "scroll(8)", "page", show=False),
        Binding("pageup", "scroll(-8)", "page", show=False),
    ]

    def __init__(self, title: str, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self._title = title
        self._rows = bindings   # not `_bindings`: Textual keeps its key map under that name

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _ in [*self._rows, *GLOBAL_KEYS]), default=6)
        def rows(pairs: list[tuple[str, str]]) -> str:
            return "\n".join(f"[b]{key:<{width}}[/b]  {text}" for key, text in pairs)

        with VerticalScroll(id="help-box"):
            with Horizontal(id="help-columns"):
                yield Static(f"[b]{self._title} — keys[/b]\n\n{rows(self._rows)}", id="help-screen-keys")
                yield Static(f"[b]Everywhere[/b]\n\n{rows(GLOBAL_KEYS)}", id="help-global-keys")
            yield Static("[dim]Esc, q or ? closes this help · ↓/↑ scroll[/dim]", id="help-footer")

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_relative(y=lines, animate=False)


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
