"""Recommendations: what to play after the seed track, ranked with scores and reasons.
Accepting a suggestion records it as feedback, appends it to the set chain and continues
from it; ``w`` exports the chain as an M3U8 playlist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Static

from djml.client import RemoteError
from djml.safetext import display

from . import chain as chain_io
from .connection import DaemonUnavailable
from .daemon_screen import DaemonScreen
from .messages import DaemonConnected, DaemonLost
from .offline import OFFLINE_HINT
from .widgets.badges import bpm_text, key_text, markup_safe, name_text
from .widgets.columns import flex_column
from .widgets.help import HelpScreen, screen_keys

KEY_MODES = ("relaxed", "strict", "any")
ENERGY = (None, "up", "steady", "down")


class RecommendScreen(DaemonScreen):
    AUTO_FOCUS = "#rec-table"
    BINDINGS = [
        Binding("a", "accept", "accept (or Enter)"),
        Binding("x", "drop_last", "drop last"),
        Binding("k", "key_mode", "key mode"),
        Binding("e", "energy", "energy"),
        Binding("w", "export", "export m3u8"),
        Binding("slash", "seed", "seed", key_display="/"),
        Binding("p", "preview", "play", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("escape", "close_input", "close the input", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.seed: dict[str, Any] | None = None
        self.rows: list[dict[str, Any]] = []
        self.chain: list[dict[str, Any]] = []
        self.key_mode = KEY_MODES[0]
        self.energy: str | None = None
        self.bpm_tolerance = 6.0
        self._input_mode: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Recommendations · choose a track in the library (L, then Enter) or press /",
                     id="rec-header", classes="header")
        with Horizontal(id="rec-body"):
            yield DataTable(id="rec-table", cursor_type="row")
            yield Static("", id="chain")
        yield Static("", id="rec-why")
        yield Input(id="rec-input", classes="hidden")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("#", key="rank", width=2)
        table.add_column("Artist – Title / file", key="name", width=26)
        table.add_column("BPM", key="bpm", width=6)
        table.add_column("Key", key="key", width=3)
        table.add_column("Score", key="score", width=5)
        self._render_chain()

    def on_daemon_lost(self, message: DaemonLost) -> None:
        if not self.rows:
            self.query_one("#rec-why", Static).update(OFFLINE_HINT)

    def on_resize(self) -> None:
        flex_column(self.query_one(DataTable), "name")
        self._render_chain()

    def on_screen_resume(self) -> None:
        if self.app.pending_seed is not None:
            item, self.app.pending_seed = self.app.pending_seed, None
            self.set_seed(item)
        self.query_one(DataTable).focus()

    def on_daemon_connected(self, message: DaemonConnected) -> None:
        """A reconnection reloads the shown recommendations (at mount there is no seed
        yet, or the resumed screen is loading it); events change nothing here: rankings
        only change when the library does, and r / accept reload on demand."""
        if self.seed is not None and not message.initial:
            self.load()

    @property
    def options(self) -> dict[str, Any]:
        return {"n": 15, "bpm_tolerance": self.bpm_tolerance, "key_mode": self.key_mode, "energy": self.energy}

    def set_seed(self, item: dict[str, Any], *, new_chain: bool = True) -> None:
        self.seed = dict(item)
        self.seed.setdefault("id", item.get("item_id"))
        if new_chain:
            self.chain = [self.seed]
        self._render_chain()
        self.load()

    @work(exclusive=True, group="rec-load")
    async def load(self) -> None:
        seed = self.seed
        if seed is None:
            return
        self._render_header()
        try:
            answer = await self.app.request("recommend", ref=seed["id"], options=self.options)
        except (DaemonUnavailable, RemoteError) as exc:
            self.rows = []
            self.query_one(DataTable).clear()
            self.query_one("#rec-why", Static).update(Text(f"Cannot recommend: {display(str(exc))}"))
            return
        rows = self.rows = answer["items"]
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(str(row["rank"]), Text(name_text(row)), bpm_text(row), row.get("camelot") or "–",
                          f"{row['score']:.2f}", key=str(row["id"]))
        if not rows:
            shortfall = answer.get("shortfall") or {}
            hint = {"key": "k relaxes the key rule", "energy": "e changes the energy direction",
                    "tempo": "the tempo window is ±{:g}%".format(self.bpm_tolerance)}.get(shortfall.get("filter") or "")
            self.query_one("#rec-why", Static).update(
                f"No suggestions: {shortfall.get('reason', 'nothing passes the filters')}"
                + (f" — {hint}." if hint else "."))
        self._render_why()

    def _render_header(self) -> None:
        seed = self.seed or {}
        energy = self.energy or "any"
        settings = (f" ({bpm_text(seed)} BPM, {key_text(seed)}) · key {self.key_mode} · energy {energy}"
                    f" · ±{self.bpm_tolerance:g}%")
        name = name_text(seed)
        room = max(12, self.size.width - 2 - len(f"After #{seed.get('id')} ") - len(settings))
        if len(name) > room:  # the settings stay readable; a long name gives way
            name = name[:room - 1] + "…"
        self.query_one("#rec-header", Static).update(Text(f"After #{seed.get('id')} {name}{settings}"))

    def _render_why(self) -> None:
        row = self.current
        why = self.query_one("#rec-why", Static)
        if row is None:
            return
        text = Text()
        text.append(f"{row['rank']}. {name_text(row)}", style="bold")
        text.append(f"  score {row['score']:.2f}\n")
        text.append(" · ".join(row.get("reasons") or [row.get("explanation", "")]))
        why.update(text)

    def _render_chain(self) -> None:
        text = Text("Set chain\n", style="bold")
        if not self.chain:
            text.append("(empty)", style="dim")
        room = max(12, self.query_one("#chain", Static).content_size.width - 4)
        for n, item in enumerate(self.chain, 1):
            name = name_text(item)
            text.append(f"{n:>2}. {name if len(name) <= room else name[:room - 1] + '…'}\n")
            text.append(f"    {bpm_text(item)} · {key_text(item)}\n", style="dim")
        self.query_one("#chain", Static).update(text)

    @property
    def current(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_why()

    # -- actions -------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_accept()

    def action_accept(self) -> None:
        row = self.current
        if row is not None and self.seed is not None:
            self.accept(self.seed, row)

    @work(exclusive=True, group="rec-accept")
    async def accept(self, seed: dict[str, Any], row: dict[str, Any]) -> None:
        options = {k: v for k, v in self.options.items() if k != "n"}
        try:
            await self.app.request("recommend.accept", ref=seed["id"], item_id=row["id"], options=options)
            info = await self.app.request("show", ref=row["id"])
        except (DaemonUnavailable, RemoteError) as exc:
            self.notify(f"could not record the choice: {exc}", severity="error", timeout=10)
            return
        self.chain.append(info)
        self.notify(f"#{row['id']} follows #{seed['id']} (the daemon saved it as feedback)")
        self.set_seed(info, new_chain=False)

    def action_drop_last(self) -> None:
        if len(self.chain) > 1:
            self.chain.pop()
            self.set_seed(self.chain[-1], new_chain=False)

    def action_key_mode(self) -> None:
        self.key_mode = KEY_MODES[(KEY_MODES.index(self.key_mode) + 1) % len(KEY_MODES)]
        self.load()

    def action_energy(self) -> None:
        self.energy = ENERGY[(ENERGY.index(self.energy) + 1) % len(ENERGY)]
        self.load()

    def action_export(self) -> None:
        self._open_input("export", f"M3U8 file or folder (Enter: ./{chain_io.default_name()})")

    def action_seed(self) -> None:
        self._open_input("seed", "seed track: item id, file path or artist/title words")

    def _open_input(self, mode: str, placeholder: str) -> None:
        field = self.query_one("#rec-input", Input)
        self._input_mode = mode
        field.placeholder = placeholder
        field.value = ""
        field.remove_class("hidden")
        field.focus()

    def action_close_input(self) -> None:
        self.query_one("#rec-input", Input).add_class("hidden")
        self._input_mode = None
        self.query_one(DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        mode, value = self._input_mode, event.value.strip()
        self.action_close_input()
        if mode == "export":
            try:
                path = chain_io.export(self.chain, value or chain_io.default_name(), Path.cwd())
            except (ValueError, OSError) as exc:
                self.notify(f"not exported: {markup_safe(exc)}", severity="error", timeout=10)
                return
            self.notify(f"wrote {len(self.chain)} tracks to {markup_safe(path)}")
        elif mode == "seed" and value:
            self.find_seed(value)

    @work(exclusive=True, group="rec-seed")
    async def find_seed(self, ref: str) -> None:
        try:
            info = await self.app.request("show", ref=int(ref) if ref.isdigit() else ref)
        except (DaemonUnavailable, RemoteError) as exc:
            self.notify(f"no such track: {markup_safe(exc)}", severity="error")
            return
        self.set_seed(info)

    def action_preview(self) -> None:
        row = self.current
        if row is not None:
            self.app.preview(row.get("path"))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Recommendations", screen_keys(self.BINDINGS)))
