"""The library browser: a filterable, sortable table that pages lazily through the
daemon's ``query`` method, so 100k items cost one page (200 rows) at a time.

The daemon sorts (``query``'s ``sort``/``descending``): changing the order reloads from
the first page, so the top rows are the top of the whole library, not of what happened
to be loaded. Nothing is re-sorted here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static

from djml.client import RemoteError

from .connection import DaemonUnavailable
from .daemon_screen import DaemonScreen
from .messages import DaemonConnected, DaemonEvent, DaemonLost
from .offline import OFFLINE_HINT
from .filters import Pager, parse_filter
from .widgets.badges import bpm_text, energy_text, key_text, name_text, plain
from .widgets.columns import flex_column
from .widgets.energy import strip_line
from .widgets.help import HelpScreen, screen_keys

PREFETCH = 50  # load the next page when the cursor is this close to the end
STRIP_DELAY = 0.15  # seconds the cursor rests on a row before its strip is fetched
# Fixed widths, so a long label or genre cannot squeeze the name; the name takes the rest.
WIDTHS = {"id": 5, "kind": 4, "name": 26, "bpm": 6, "key": 3, "energy": 2, "label": 10, "genre": 10}
SCALED = {"label": (10, 22), "genre": (10, 22)}   # width at 80 columns → from 160 columns
COLUMNS = (  # (key = the daemon's sort name, djml.query.SORTS; title)
    ("id", "ID"),
    ("kind", "Kind"),
    ("name", "Artist – Title / file"),
    ("bpm", "BPM"),
    ("key", "Key"),
    ("energy", "En"),
    ("label", "Label"),
    ("genre", "Genre"),
)


class LibraryScreen(DaemonScreen):
    AUTO_FOCUS = "#library-table"
    BINDINGS = [
        Binding("slash", "filter", "filter", key_display="/"),
        Binding("o", "sort", "sort"),
        Binding("O", "reverse", "reverse", show=False),
        Binding("m", "recommend", "next track (or Enter)"),
        Binding("p", "preview", "play"),
        Binding("G", "load_all", "load all", show=False),
        Binding("r", "reload", "reload", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("escape", "close_input", "close the input", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.filter_text = ""
        self.sort_column = 0
        self.sort_reverse = False
        self.pager: Pager | None = None
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Static("Library", id="library-header", classes="header")
        yield Input(id="library-input", classes="hidden",
                    placeholder="kind:track bpm:120-128 key:8A~ genre:techno label:peak-time words…")
        table = DataTable(id="library-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="library-strip")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, title in COLUMNS:
            table.add_column(title, key=key, width=WIDTHS.get(key))

    def on_daemon_lost(self, message: DaemonLost) -> None:
        if not self.rows:
            self.query_one("#library-header", Static).update(f"Library · {OFFLINE_HINT}")

    def on_resize(self) -> None:
        flex_column(self.query_one(DataTable), "name", scaled=SCALED)

    def on_daemon_connected(self, message: DaemonConnected) -> None:
        self.reload()

    def on_daemon_event(self, message: DaemonEvent) -> None:
        if message.name == "item.added" and self.pager is not None and self.pager.exhausted:
            self.notify("new items in the library: r reloads", timeout=3)

    # -- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        try:
            params = parse_filter(self.filter_text)
        except ValueError as exc:
            self.notify(f"filter: {exc}", severity="error")
            return
        params.update(sort=COLUMNS[self.sort_column][0], descending=self.sort_reverse)
        self.pager = Pager(lambda p: self.app.link.call("query", **p), params)
        self.rows = []
        self.query_one(DataTable).clear()
        self.load_more()

    @work(exclusive=True, group="library-page", thread=True)
    def load_more(self, everything: bool = False) -> None:
        pager = self.pager
        if pager is None or pager.exhausted:
            return
        self._loading = True
        try:
            while True:
                page = pager.next_page()
                if pager is not self.pager:
                    return  # a new filter replaced this pager while we waited
                self.app.call_from_thread(self._append, pager, page)
                if not everything or not page:
                    break
        except (DaemonUnavailable, RemoteError) as exc:
            self.app.call_from_thread(self.notify, f"cannot load the library: {exc}", severity="error")
        finally:
            self._loading = False
            self.app.call_from_thread(self._render_header)

    def _append(self, pager: Pager, page: list[dict[str, Any]]) -> None:
        """Runs on the UI thread: a page from a pager that a newer filter replaced since
        the worker checked is dropped here, where no reload can slip in between."""
        if pager is not self.pager:
            return
        table = self.query_one(DataTable)
        self.rows.extend(page)
        for row in page:
            table.add_row(*self._cells(row), key=str(row["id"]))
        self._render_header()

    @staticmethod
    def _cells(row: dict[str, Any]) -> tuple[Any, ...]:
        label = row.get("label") or ""
        if label and row.get("label_source") == "model":
            label += "?"
        name = Text(name_text(row) + (" (missing)" if row.get("missing") else ""))
        return (str(row["id"]), row["kind"][0].upper() if row.get("kind") else "", name, bpm_text(row),
                key_text(row), energy_text(row), plain(label), plain(row.get("genre") or ""))

    def _render_header(self) -> None:
        pager = self.pager
        more = pager is not None and not pager.exhausted
        count = f"{len(self.rows)}{'+' if more else ''} items"
        parts = ["Library", count]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        column = COLUMNS[self.sort_column][1]
        parts.append(f"sorted by {column}{' ↓' if self.sort_reverse else ''}")
        self.query_one("#library-header", Static).update(" · ".join(parts))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if (event.cursor_row >= len(self.rows) - PREFETCH and self.pager is not None
                and not self.pager.exhausted and not self._loading):
            self.load_more()
        row = next((r for r in self.rows if str(r["id"]) == event.row_key.value), None)
        self.load_strip(row)

    @work(exclusive=True, group="library-strip")
    async def load_strip(self, row: dict[str, Any] | None) -> None:
        """The focused track's energy strip and cues, from the daemon's ``show`` (the
        library rows do not carry them); fetched once the cursor rests on the row."""
        strip = self.query_one("#library-strip", Static)
        if row is None or row.get("kind") != "track":
            strip.update("")
            return
        await asyncio.sleep(STRIP_DELAY)
        try:
            info = await self.app.request("show", ref=row["id"])
        except (DaemonUnavailable, RemoteError):
            strip.update("")
            return
        strip.update(strip_line(info, strip.size.width or self.size.width))

    # -- sorting -------------------------------------------------------------------------------

    def action_sort(self) -> None:
        self.sort_column = (self.sort_column + 1) % len(COLUMNS)
        self._resort()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._resort()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        index = event.column_index
        if index == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        self.sort_column = index
        self._resort()

    def _resort(self) -> None:
        """A new order is a new query from the first page. Without a daemon the loaded rows
        stay as they are; the reconnect reloads them in the new order."""
        if self.app.link.connected:
            self.reload()
        else:
            self._render_header()
            self.notify("sorting needs the daemon: the new order applies when it is back", timeout=3)

    # -- actions -------------------------------------------------------------------------------

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None:
            return None
        try:
            key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return next((r for r in self.rows if str(r["id"]) == key), None)

    def action_filter(self) -> None:
        field = self.query_one("#library-input", Input)
        field.value = self.filter_text
        field.remove_class("hidden")
        field.focus()

    def action_close_input(self) -> None:
        self.query_one("#library-input", Input).add_class("hidden")
        self.query_one(DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            parse_filter(text)
        except ValueError as exc:
            self.notify(f"filter: {exc}", severity="error")
            return
        self.filter_text = text
        self.action_close_input()
        self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_recommend()

    def action_recommend(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.open_recommendations(row)

    def action_preview(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.preview(row.get("path"))

    def action_load_all(self) -> None:
        self.load_more(everything=True)

    def action_reload(self) -> None:
        self.reload()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Library", screen_keys(self.BINDINGS)))
