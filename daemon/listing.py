"""`djml ls` rendered in the daemon: the ``query.lines`` stream and its cache.

Why render here: a client that receives rows as JSON objects decodes every row, builds
its line and encodes it again, which cost the CLI more than reading the library itself
(`djml ls` at 100k items, 7,237 rows). The daemon sends the lines as the CLI prints them,
in parts, and the client only writes them out.

Why a cache: the daemon stays up, so a repeated listing (a script polling, the same
filter typed twice) need do no SQL and no rendering at all. An entry is valid while the
library is unchanged (:mod:`djml.daemon.readcache`); a listing larger than a quarter of
the byte budget is streamed but not kept.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from djml import protocol as p
from djml import query as q
from djml.render import json_line, plain_line

from .readcache import ReadCache, data_version

CACHE_ENTRIES = 16
CACHE_BYTES = 64 << 20     # encoded parts kept at most, over all entries
FIRST_PART_ROWS = q.FIRST_PAGE   # a small first part: the first row shows at once
PART_ROWS = q.PAGE

RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {"json": json_line, "plain": plain_line}


def render(conn: sqlite3.Connection, ids: list[int], fmt: str) -> tuple[bytes, int]:
    """The lines of ``ids`` (one page), encoded, and how many rows they are."""
    line = RENDERERS[fmt]
    rows = q.rows_by_id(conn, ids)
    return p.part_text("".join(line(r) for r in rows)), len(rows)


@dataclass
class Stream:
    """What a streamed handler returns: the parts as JSON strings
    (:func:`djml.protocol.part_text`, sent with :func:`djml.protocol.part_line`) and,
    once they are exhausted, the final result."""

    parts: AsyncIterator[bytes]
    result: dict[str, Any] = field(default_factory=dict)


def new_cache() -> ReadCache:
    return ReadCache(CACHE_ENTRIES, CACHE_BYTES)


def cache_key(fmt: str, filters: dict[str, Any]) -> str:
    return json.dumps([fmt, sorted((k, v) for k, v in filters.items() if v is not None)])


def lines_stream(read: Callable[..., Any], conn_of: Callable[[], sqlite3.Connection], cache: ReadCache,
                 flt: q.Filters, fmt: str, key: str) -> Stream:
    """The stream of one ``query.lines`` request. ``read`` runs a function on the daemon's
    reader thread (each page is one call, so a slow client never holds that thread);
    ``conn_of`` gives the reader's connection."""
    result: dict[str, Any] = {}

    async def parts() -> AsyncIterator[bytes]:
        version = await read(lambda: data_version(conn_of()))
        cached = cache.get(key, version)   # (parts, count)
        if cached is not None:
            for encoded in cached[0]:
                yield encoded
            result.update(count=cached[1], cached=True)
            return
        ids = await read(q.matching_ids, conn_of(), flt)
        made: list[bytes] = []
        count, start, size = 0, 0, FIRST_PART_ROWS
        while start < len(ids):
            encoded, rows = await read(render, conn_of(), ids[start:start + size], fmt)
            count += rows
            made.append(encoded)
            yield encoded
            start, size = start + size, PART_ROWS
        result.update(count=count, cached=False)
        # kept only if nothing was committed while the pages were read
        if await read(lambda: data_version(conn_of())) == version:
            cache.put(key, version, (tuple(made), count), sum(len(x) for x in made))

    return Stream(parts(), result)
