"""The library screen's filter line and lazy paging.

Filter syntax (one line, words combine with AND):
``kind:track bpm:120-128 energy:6-8 key:8A genre:techno label:peak-time daft punk``
(``bpm:128`` means 127.5–128.5, what a DJ calls 128; see :func:`djml.query.parse_bpm_range`);
``key:8A~`` means "8A and every key that mixes with it" (Camelot neighbours, relative…).
Free words become a full-text search over artist/title/album/genre/comment.

Paging never loads the whole library: rows come from the daemon's ``query`` method in
pages (limit/offset), already sorted by the daemon, as the cursor approaches the end of
what is loaded. ``key:8A~`` goes to the daemon as is: the query itself selects the
mixable keys (:class:`djml.query.Filters`), so one sorted stream serves every filter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from djml import keys
from djml.query import parse_bpm_range, parse_energy_range

PAGE = 200
FIELDS = ("kind", "bpm", "energy", "key", "genre", "label")


def parse_filter(text: str) -> dict[str, Any]:
    """Query params for the daemon's ``query``. Raises ValueError naming the bad word."""
    params: dict[str, Any] = {}
    words: list[str] = []
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
        elif name in ("bpm", "energy"):
            (parse_bpm_range if name == "bpm" else parse_energy_range)(value)  # raises for bad input
            params[name] = value  # the daemon widens it the same way (one value: ±0.5)
        elif name == "key":
            mixable = value.endswith("~")
            params["key"] = keys.camelot(keys.parse(value.rstrip("~"))) + ("~" if mixable else "")
        else:
            params[name] = value
    if words:
        params["search"] = " ".join(words)
    return params


_EXAMPLES = {"kind": "track", "bpm": "120-128", "energy": "6-8", "key": "8A", "genre": "techno",
             "label": "peak-time"}


class Pager:
    """Rows of a filtered library in the order of ``params["sort"]`` / ``params["descending"]``
    (default: id), fetched page by page. ``fetch(params)`` is the daemon's ``query``
    (returns {"items", "more"})."""

    def __init__(self, fetch: Callable[[dict[str, Any]], dict[str, Any]], params: dict[str, Any],
                 page: int = PAGE) -> None:
        self._fetch = fetch
        self._params = dict(params)
        self.page = page
        self.more = True
        self.loaded = 0

    @property
    def exhausted(self) -> bool:
        return not self.more

    def next_page(self) -> list[dict[str, Any]]:
        """Up to ``page`` more rows (empty when exhausted). Blocking: call from a thread."""
        if not self.more:
            return []
        answer = self._fetch({**self._params, "limit": self.page, "offset": self.loaded})
        items = list(answer.get("items", []))
        self.loaded += len(items)
        self.more = bool(answer.get("more")) and bool(items)
        return items
