"""The library and its folders: query, show, failed files, scan, retry, folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djml import protocol as p
from djml import query as q

from ..listing import Stream, cache_key, lines_stream
from .params import is_number

if TYPE_CHECKING:
    from ..service import Service

QUERY_DEFAULT_LIMIT = 100


async def query(service: "Service", **filters: Any) -> dict[str, Any]:
    limit = filters.pop("limit", None) or QUERY_DEFAULT_LIMIT
    offset = filters.pop("offset", None) or 0
    if not 1 <= limit <= q.MAX_PAGE or offset < 0:
        raise p.ProtocolError(p.INVALID_PARAMS, f"limit must be 1..{q.MAX_PAGE}, offset >= 0")
    flt = _checked_filters({**filters, "limit": limit + 1, "offset": offset})
    rows = await service.read(q.list_items, service.read_conn, flt)
    return {"items": rows[:limit], "limit": limit, "offset": offset, "more": len(rows) > limit}


async def query_lines(service: "Service", format: str, **filters: Any) -> Stream:
    """Every row ``filters`` select (``limit`` caps the whole listing, not a page), as the
    CLI prints them in ``format``, streamed in parts (see :mod:`djml.daemon.listing`);
    the final result is ``{count, cached}``."""
    if format not in p.LINE_FORMATS:
        raise p.ProtocolError(p.INVALID_PARAMS, f"format must be one of {', '.join(p.LINE_FORMATS)}")
    limit, offset = filters.get("limit"), filters.get("offset") or 0
    if limit is not None and limit < 1 or offset < 0:
        raise p.ProtocolError(p.INVALID_PARAMS, "limit must be >= 1, offset >= 0")
    flt = _checked_filters({**filters, "offset": offset})
    if flt.limit is None and offset:
        flt.limit = -1   # SQLite: no limit, but the OFFSET applies
    key = cache_key(format, filters)
    return lines_stream(service.read, lambda: service.read_conn, service.lines, flt, format, key)


def _checked_filters(filters: dict[str, Any]) -> q.Filters:
    """What the type table cannot check: ranges as pairs of numbers, a key number 0..23."""
    key = filters.get("key")
    for name in ("bpm", "energy"):
        value = filters.get(name)
        if isinstance(value, list) and (len(value) != 2 or not all(is_number(b) for b in value)):
            raise p.ProtocolError(p.INVALID_PARAMS, f"{name} must be 'LOW-HIGH' or [low, high]")
    if isinstance(key, int) and not 0 <= key <= 23:
        raise p.ProtocolError(p.INVALID_PARAMS, "key must be 0..23 or a key name such as 8A")
    try:
        return q.Filters.from_dict(filters)
    except (ValueError, TypeError) as exc:
        raise p.ProtocolError(p.INVALID_PARAMS, str(exc)) from None


async def show(service: "Service", ref: int | str) -> dict[str, Any]:
    info = await service.read(q.show, service.read_conn, ref)
    if info is None:
        raise p.ProtocolError(p.NOT_FOUND, f"no item matches {ref!r}")
    return info


async def failed(service: "Service") -> list[dict[str, Any]]:
    return await service.read(q.list_failed, service.read_conn)


async def scan(service: "Service", paths: list | None = None) -> dict[str, Any]:
    if paths is not None and not all(isinstance(x, str) for x in paths):
        raise p.ProtocolError(p.INVALID_PARAMS, "paths must be a list of strings")
    targets = [Path(service.checked_path(x)) for x in paths] if paths else list(service.watched)
    for target in targets:
        if not target.exists():
            raise p.ProtocolError(p.NOT_FOUND, f"{target} does not exist")
    # Naming a folder confirms its state: an emptied folder is then judged, not paused.
    return await service.scan(targets, guard=not paths)


async def retry(service: "Service", path: str) -> dict[str, Any]:
    path = service.checked_path(path)
    if not os.path.exists(path):
        raise p.ProtocolError(p.NOT_FOUND, f"{path} does not exist")
    added = await service.enqueue([path])
    return {"path": path, "queued": bool(added)}


async def after_folders_add(service: "Service", result: dict[str, Any]) -> None:
    await service.rewatch()
    result["scan"] = await scan(service, [result["path"]])


async def after_folders_remove(service: "Service", result: dict[str, Any]) -> None:
    await service.rewatch()
    result["dropped_jobs"] = await service.forget_folder(result["path"])
