"""The daemon's dispatch table: every protocol method has exactly one handler, registered
in one place, and a method without one (``shutdown`` had none) is caught here rather than
by a client getting a confusing error."""

from __future__ import annotations

import ast
import asyncio
import inspect
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import pytest

from djml import protocol as p
from djml.daemon import handlers
from djml.models.actions import ACTIONS

TABLE_SOURCE = Path(handlers.__file__)


def test_every_protocol_method_has_exactly_one_handler():
    served = set(handlers.HANDLERS)
    assert served & handlers.CONNECTION_METHODS == set()          # not answered twice
    assert served | handlers.CONNECTION_METHODS == set(p.METHODS)  # nothing unanswered, nothing extra


def test_the_table_is_one_literal_without_repeated_methods():
    """A repeated key in a dict literal silently replaces the first handler."""
    tree = ast.parse(TABLE_SOURCE.read_text(encoding="utf-8"))
    tables = [node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)
              and isinstance(node.target, ast.Name) and node.target.id == "HANDLERS"]
    assert len(tables) == 1 and isinstance(tables[0], ast.Dict)
    keys = [key.value for key in tables[0].keys]
    assert len(keys) == len(set(keys)) == len(handlers.HANDLERS)


def test_handlers_are_coroutines_and_every_action_is_served():
    for method, handler in handlers.HANDLERS.items():
        assert inspect.iscoroutinefunction(handler), method
    assert set(ACTIONS) <= set(handlers.HANDLERS)
    # the long actions report progress: their handlers take it
    for method, entry in ACTIONS.items():
        if entry.progress:
            assert "progress" in inspect.signature(handlers.HANDLERS[method]).parameters, method


def test_dispatch_runs_the_handler_and_refuses_an_unknown_method():
    service = SimpleNamespace(recent=deque([{"event": "item.added", "data": {}, "at": 1.0}] * 3, maxlen=200))
    got = asyncio.run(handlers.dispatch(service, "events.recent", {"limit": 2}))
    assert len(got) == 2
    with pytest.raises(p.ProtocolError) as refused:
        asyncio.run(handlers.dispatch(service, "events.recent", {"limit": 201}))
    assert refused.value.code == p.INVALID_PARAMS
    with pytest.raises(p.ProtocolError) as unknown:
        asyncio.run(handlers.dispatch(service, "no.such.method", {}))
    assert unknown.value.code == p.METHOD_NOT_FOUND


def test_shutdown_over_the_socket_stops_the_daemon(tmp_path):
    from daemon_support import running_daemon

    (tmp_path / "home").mkdir()
    with running_daemon(tmp_path / "home", tmp_path / "music", settle=0.3) as d:
        with d.client() as c:
            assert c.call("shutdown")["stopping"] is True
        assert d.proc.wait(timeout=30) == 0
