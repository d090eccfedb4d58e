"""The library screen sorts on the daemon's side: `o`/`O` re-query from the first page, so
with more items than one page holds the top row is the top of the whole library. The link
answers ``query`` from a real library database exactly as the daemon's handler does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from djml import compat, db, keys, query
from djml.client import RemoteError
from djml.config import from_dict
from djml.protocol import METHOD_NOT_FOUND
from djml.tui.app import DjmlApp
from djml.tui.filters import PAGE, Pager, parse_filter
from library_support import random_library

pytestmark = pytest.mark.timeout(120)
ITEMS = PAGE * 2 + 50


class DbLink:
    """The daemon's ``query`` (limit + 1 rows to know whether more remain) over a real
    database; any other method (the strip's ``show``) is answered as by a daemon without it."""

    connected = True
    server = {"pid": 1, "protocol": 1, "version": "test"}

    def __init__(self, db_path) -> None:
        self.db_path = db_path
        self.queries: list[dict[str, Any]] = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def call(self, method: str, **params: Any) -> Any:
        if method != "query":
            raise RemoteError(METHOD_NOT_FOUND, f"no method {method!r}")
        self.queries.append(dict(params))
        limit, offset = params.pop("limit"), params.pop("offset", 0)
        conn = db.connect_readonly(self.db_path)  # the TUI calls from worker threads
        try:
            rows = query.list_items(conn, query.Filters.from_dict({**params, "limit": limit + 1, "offset": offset}))
        finally:
            conn.close()
        return {"items": rows[:limit], "more": len(rows) > limit, "limit": limit, "offset": offset}


def test_sorting_loads_the_globally_top_rows(tmp_path):
    path = tmp_path / "data" / "library.db"
    path.parent.mkdir()
    random_library(path, ITEMS, seed=1).conn.close()
    conn = db.connect_readonly(path)
    max_bpm, min_bpm = conn.execute("SELECT MAX(bpm), MIN(bpm) FROM analyses").fetchone()
    fastest = conn.execute("SELECT item_id FROM analyses ORDER BY bpm DESC LIMIT 1").fetchone()[0]
    assert fastest > PAGE  # not on the first page: a sort of the loaded rows would miss it
    conn.close()
    link = DbLink(path)
    config = from_dict({"data_dir": str(tmp_path / "data")}, tmp_path / "config.toml")
    app = DjmlApp(config, link=link, start="library")

    async def run() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.5)
            screen = app.screen
            assert len(screen.rows) == PAGE and [r["id"] for r in screen.rows[:3]] == [1, 2, 3]
            await pilot.press("o", "o", "o")                  # id → kind → name → bpm
            await pilot.pause(0.5)
            assert screen.rows[0]["bpm"] == min_bpm and len(screen.rows) == PAGE
            await pilot.press("O")                            # reverse: fastest first
            await pilot.pause(0.5)
            assert screen.rows[0]["bpm"] == max_bpm
            assert link.queries[-1] == {"sort": "bpm", "descending": True, "limit": PAGE, "offset": 0}
            table = screen.query_one("DataTable")
            assert table.get_row_at(0)[0] == str(screen.rows[0]["id"]) and table.cursor_row == 0
            assert "sorted by BPM ↓" in str(screen.query_one("#library-header").render())
            screen.load_more(everything=True)                 # G: the rest follows in the same order
            await pilot.pause(1.0)
            bpms = [r["bpm"] for r in screen.rows]
            known = [b for b in bpms if b is not None]
            assert len(bpms) == ITEMS and known == sorted(known, reverse=True)
            assert bpms[len(known):] == [None] * (ITEMS - len(known))

    asyncio.run(run())


@pytest.mark.parametrize("sort", ["bpm", "name", "key"])
def test_compatible_keys_page_in_the_daemons_order(tmp_path, sort):
    """key:8A~ is one query (the daemon selects the mixable keys): its pages are the rows of
    the whole sorted library whose key mixes with 8A, in that order."""
    path = tmp_path / "library.db"
    random_library(path, 300, seed=2).conn.close()
    wanted = compat.compatible_keys(keys.parse("8A"), compat.RELAXED)
    link = DbLink(path)
    pager = Pager(lambda p: link.call("query", **p), {**parse_filter("key:8A~"), "sort": sort, "descending": True},
                  page=30)
    got = []
    while page := pager.next_page():
        got += page
    conn = db.connect_readonly(path)
    whole = query.list_items(conn, query.Filters(sort=sort, descending=True))
    conn.close()
    expected = [r["id"] for r in whole if r["camelot"] and keys.parse(r["camelot"]) in wanted]
    assert len(wanted) > 1 and len(expected) > 30
    assert [r["id"] for r in got] == expected
