"""Sorting the library in SQL (`djml ls --sort`, the daemon's query, the TUI): every order,
NULLs last both ways, Camelot key order, stable pages; and the mixable-keys filter."""

from __future__ import annotations

import json

import pytest

from djml import db, keys, query
from library_support import add_item, random_library


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    path = tmp_path_factory.mktemp("sort") / "library.db"
    random_library(path, 120)
    return db.connect_readonly(path)


def ids(rows):
    return [r["id"] for r in rows]


def test_bpm_sorts_both_ways_with_nulls_last_and_ties_by_id(tmp_path):
    library = random_library(tmp_path / "library.db", 0)
    root = tmp_path / "music"
    a = add_item(library, root, 1, bpm=124.0)
    b = add_item(library, root, 2, bpm=None)
    c = add_item(library, root, 3, bpm=90.5)
    d = add_item(library, root, 4, bpm=124.0)
    e = add_item(library, root, 5, bpm=171.0)
    conn = library.conn
    assert ids(query.list_items(conn, query.Filters(sort="bpm"))) == [c, a, d, e, b]
    assert ids(query.list_items(conn, query.Filters(sort="bpm", descending=True))) == [e, d, a, c, b]


def test_key_sorts_round_the_camelot_wheel(tmp_path):
    library = random_library(tmp_path / "library.db", 0)
    order = ["12B", "1A", "8B", "8A", "1B", "2A", "12A", "10A"]
    for n, camelot in enumerate(order):
        add_item(library, tmp_path, n, key=keys.parse(camelot))
    add_item(library, tmp_path, 99, key=None)
    rows = query.list_items(library.conn, query.Filters(sort="key"))
    assert [r["camelot"] for r in rows] == ["1A", "1B", "2A", "8A", "8B", "10A", "12A", "12B", None]
    rows = query.list_items(library.conn, query.Filters(sort="key", descending=True))
    assert [r["camelot"] for r in rows] == ["12B", "12A", "10A", "8B", "8A", "2A", "1B", "1A", None]


def test_text_sorts_ignore_case_and_put_blanks_last(tmp_path):
    library = random_library(tmp_path / "library.db", 0)
    add_item(library, tmp_path, 1, artist="beta", title="Zed")
    add_item(library, tmp_path, 2, artist="Alpha", title="b")
    add_item(library, tmp_path, 3, artist="", title="Only Title")
    add_item(library, tmp_path, 4, artist="alpha", title="A")
    add_item(library, tmp_path, 5, kind="sample", name="Clap 01.wav")
    by = lambda sort, desc=False: ids(query.list_items(library.conn, query.Filters(sort=sort, descending=desc)))  # noqa: E731
    assert by("artist") == [4, 2, 1, 3, 5]           # artist, then title; no artist: last
    assert by("artist", True) == [1, 2, 4, 3, 5]
    assert by("title") == [4, 2, 3, 1, 5]
    # name is what the TUI shows: 'Artist – Title', else the title or the file name
    assert by("name") == [4, 2, 1, 5, 3]             # alpha – A, Alpha – b, beta – Zed, Clap 01.wav, Only Title


def test_label_sort_uses_the_users_label_over_the_models(tmp_path):
    library = random_library(tmp_path / "library.db", 0)
    first, second, third = (add_item(library, tmp_path, n) for n in range(3))
    library.set_label(first, "bucket", "warm-up")
    library.set_label(third, "bucket", "closing")
    rows = query.list_items(library.conn, query.Filters(sort="label"))
    assert ids(rows) == [third, first, second]
    filtered = query.list_items(library.conn, query.Filters(sort="bpm", label="closing"))
    assert ids(filtered) == [third]


@pytest.mark.parametrize("sort", query.SORTS)
@pytest.mark.parametrize("descending", [False, True])
def test_pages_tile_the_full_order(conn, sort, descending):
    full = query.list_items(conn, query.Filters(sort=sort, descending=descending))
    assert len(full) == 120
    pages = []
    for offset in range(0, 120, 25):
        pages += query.list_items(conn, query.Filters(sort=sort, descending=descending, limit=25, offset=offset))
    assert ids(pages) == ids(full)
    if sort in ("id", "bpm", "energy"):
        values = [r[sort] for r in full if r[sort] is not None]
        assert values == sorted(values, reverse=descending)
        assert all(r[sort] is None for r in full[len(values):])


def test_filters_and_sort_combine(conn):
    rows = query.list_items(conn, query.Filters(bpm=(100, 140), sort="energy", descending=True, limit=10))
    everything = [r for r in query.list_items(conn, query.Filters()) if r["bpm"] is not None and 100 <= r["bpm"] <= 140]
    best = sorted(everything, key=lambda r: (-r["energy"], -r["id"]))[:10]
    assert ids(rows) == ids(best)


def test_unknown_sort_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown sort 'tempo': choose one of id, added, .*bpm, key"):
        query.Filters.from_dict({"sort": "tempo"})
    with pytest.raises(ValueError, match="descending"):
        query.Filters(descending="yes")


def test_ls_sort_bpm_desc(run_djml, djml_home):
    from djml import config as cfg

    library = random_library(cfg.load().db_path, 40)
    library.conn.close()
    proc = run_djml("ls", "--json", "--sort", "bpm", "--desc", check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    bpms = [r["bpm"] for r in rows]
    known = [b for b in bpms if b is not None]
    assert len(rows) == 40 and known == sorted(known, reverse=True) and bpms[len(known):] == [None] * (40 - len(known))
    top = run_djml("ls", "--json", "--sort", "bpm", "--desc", "-n", "3", check=True)
    assert [json.loads(line)["bpm"] for line in top.stdout.splitlines()] == known[:3]
    table = run_djml("ls", "--sort", "key", check=True)   # piped: one tab-separated line per item
    assert "40 item(s)" in table.stderr and len(table.stdout.splitlines()) == 40
    assert all(len(line.split("\t")) == 9 for line in table.stdout.splitlines())
    bad = run_djml("ls", "--sort", "tempo")
    assert bad.returncode == 2 and "'tempo' is not one of" in bad.stderr and "'bpm'" in bad.stderr
    helptext = run_djml("ls", "--help", check=True).stdout
    assert "--sort [id|added|kind|name|artist|title|bpm|key|energy|label|genre]" in helptext


def test_a_key_with_a_tilde_selects_every_key_that_mixes_with_it(conn):
    from djml import compat

    mixable = query.list_items(conn, query.Filters.from_dict({"key": "8A~", "sort": "key"}))
    wanted = {keys.camelot(k) for k in compat.compatible_keys(keys.parse("8A"), compat.RELAXED)}
    everything = query.list_items(conn, query.Filters(sort="key"))
    assert ids(mixable) == [r["id"] for r in everything if r["camelot"] in wanted]
    assert {"8A", "9A", "8B"} <= {r["camelot"] for r in mixable} and len(wanted) > 3
    assert ids(query.list_items(conn, query.Filters.from_dict({"key": "Am"}))) == \
        [r["id"] for r in everything if r["camelot"] == "8A"]


def test_streamed_listing_gives_the_same_rows_across_page_boundaries(conn, monkeypatch):
    """`djml ls` prints rows as pages are read (a small first page, then bigger ones):
    the stream must be the listing itself, in order, nothing lost or doubled at a page edge."""
    monkeypatch.setattr(query, "FIRST_PAGE", 7)
    monkeypatch.setattr(query, "PAGE", 11)
    for filters in (query.Filters(sort="bpm", descending=True), query.Filters(kind="track", sort="name"),
                    query.Filters(sort="energy", limit=30, offset=5)):
        listed = query.list_items(conn, filters)
        assert len(listed) > 11
        assert list(query.iter_items(conn, filters)) == listed


def test_a_samples_note_is_listed_and_a_track_has_none(tmp_path):
    library = random_library(tmp_path / "library.db", 0)
    shot = add_item(library, tmp_path, 1, kind="sample")
    track = add_item(library, tmp_path, 2, kind="track")
    library.conn.execute("UPDATE analyses SET data = json_set(data, '$.note', 'C4')")
    rows = {r["id"]: r for r in query.list_items(library.conn, query.Filters())}
    assert rows[shot]["note"] == "C4" and rows[track]["note"] is None
