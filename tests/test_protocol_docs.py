"""docs/daemon.md lists what djml.protocol defines: every method and event, and nothing
that is not there (a renamed or removed method must leave the docs too)."""

from __future__ import annotations

import re
from pathlib import Path

from djml import protocol as p

DOC = (Path(__file__).resolve().parents[1] / "docs" / "daemon.md").read_text(encoding="utf-8")


def section(start: str, end: str) -> str:
    return DOC[DOC.index(start):DOC.index(end, DOC.index(start))]


def names(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)*)`", text))


def test_every_method_is_documented_and_every_documented_method_exists():
    listed = names(section("Methods (every one", "A reference that matches"))
    assert set(p.METHODS) - listed == set()
    dotted = {n for n in listed if "." in n and not n.startswith("djml.")} - p.EVENTS
    assert dotted - set(p.METHODS) == set()


def test_the_events_listed_are_the_protocol_events():
    assert {n for n in names(section("Events: ", "Errors are")) if "." in n} == set(p.EVENTS)
    assert f'"event": "{p.PROGRESS}"' in DOC and f'"protocol": {p.PROTOCOL_VERSION},' in DOC


def test_the_error_codes_listed_are_the_protocol_codes():
    assert names(section("Errors are", "Limits and security")) - {"id", "error", "code", "message"} == p.ERROR_CODES
