"""The library screen's filter line and lazy paging.

Filter syntax (one line, words combine with AND):
``kind:track bpm:120-128 key:8A genre:techno label:peak-time daft punk``;
``key:8A~`` means "8A and every key that mixes with it" (Camelot neighbours, relative…).
Free words become a full-text search over artist/title/album/genre/comment.

Paging never loads the whole library: rows come from the daemon's ``query`` method in
pages (limit/offset), already sorted by the daemon, as the cursor approaches the end of
what is loaded. A compatible-key filter is several ``query`` streams (one per key), each
paged lazily and merged in the same sort order (:func:`djml.query.sort_key`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from djml import compat, keys
from djml.query import parse_bpm_range, sort_key

PAGE = 200
FIELDS = ("kind", "bpm", "key", "genre", "label")


def parse_filter(text: str) -> tuple[dict[str, Any], list[int] | None]:
    """(query params, compatible key ints or None). Raises ValueError naming the bad word."""
    params: dict[str, Any] = {}
    words: list[str] = []
    compatible: list[int] | None = None
    for word in text.split():
        name, sep, value = word.partition(":")
        if not sep or name.lower() not in FIELDS:
            words.append(word)
            continue
        name = name.lower()
        if not value:
            raise ValueError(f"{name}: needs a value, e.g. {name}:{_EXAMPLES[name]}")
        if name == "kind":
            if value not in ("track", "sample"):
                raise ValueError(f"kind must be track or sample, got {value!r}")
            params["kind"] = value
        elif name == "bpm":
            params["bpm"] = "-".join(f"{x:g}" for x in parse_bpm_range(value))
        elif name == "key":
            mix = value.endswith("~")
            key = keys.parse(value.rstrip("~"))
            if mix:
                compatible = compat.compatible_keys(key, compat.RELAXED)
            else:
                params["key"] = keys.camelot(key)
        else:
            params[name] = value
    if words:
        params["search"] = " ".join(words)
    return params, compatible


_EXAMPLES = {"kind": "track", "bpm": "120-128", "key": "8A", "genre": "techno", "label": "peak-time"}


@dataclass
class _Stream:
    params: dict[str, Any]
    offset: int = 0
    more: bool = True
    buffer: list[dict[str, Any]] = field(default_factory=list)


class Pager:
    """Rows of a filtered library in the order of ``params["sort"]`` / ``params["descending"]``
    (default: id), fetched page by page.

    ``fetch(params)`` is the daemon's ``query`` (returns {"items", "more"}). One stream per
    compatible key (or just one); :meth:`next_page` k-way merges them in that order."""

    def __init__(self, fetch: Callable[[dict[str, Any]], dict[str, Any]], params: dict[str, Any],
                 compatible: list[int] | None = None, page: int = PAGE) -> None:
        self._fetch = fetch
        self.page = page
        self._order = (params.get("sort") or "id", bool(params.get("descending")))
        if compatible:
            self._streams = [_Stream({**params, "key": keys.camelot(k)}) for k in compatible]
        else:
            self._streams = [_Stream(dict(params))]
        self.loaded = 0

    @property
    def exhausted(self) -> bool:
        return all(not s.more and not s.buffer for s in self._streams)

    def _fill(self, stream: _Stream) -> None:
        if stream.buffer or not stream.more:
            return
        answer = self._fetch({**stream.params, "limit": self.page, "offset": stream.offset})
        items = answer.get("items", [])
        stream.buffer = list(items)
        stream.offset += len(items)
        stream.more = bool(answer.get("more")) and bool(items)

    def next_page(self) -> list[dict[str, Any]]:
        """Up to ``page`` more rows (empty when exhausted). Blocking: call from a thread."""
        out: list[dict[str, Any]] = []
        while len(out) < self.page:
            for s in self._streams:
                self._fill(s)
            heads = [(sort_key(s.buffer[0], *self._order), i) for i, s in enumerate(self._streams) if s.buffer]
            if not heads:
                break
            _, i = min(heads)
            out.append(self._streams[i].buffer.pop(0))
        self.loaded += len(out)
        return out
