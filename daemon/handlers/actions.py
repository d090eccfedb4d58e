"""Running an entry of the action table (:data:`djml.models.actions.ACTIONS`) in the daemon.

The CLI runs the same function directly when no daemon runs; here it runs on the right
thread (writer, reader, or trainer with a connection of its own), and a handler may add
what only a running daemon does afterwards (events, retraining, watching) as an ``after``
step.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from djml import protocol as p
from djml.errors import ActionError
from djml.models.actions import ACTIONS

if TYPE_CHECKING:
    from ..service import Service

Progress = Callable[[dict[str, Any]], None]
Handler = Callable[..., Awaitable[Any]]      # (service, **params) -> JSON-ready result
After = Callable[["Service", Any], Awaitable[None]]


async def run_action(service: "Service", method: str, params: dict[str, Any],
                     progress: Progress | None = None) -> Any:
    """Run ``ACTIONS[method]`` where it belongs; a refused action becomes the protocol
    error it names."""
    action = ACTIONS[method]
    if action.progress:
        loop = asyncio.get_running_loop()
        report = progress or (lambda data: None)
        params = {**params, "progress": lambda data: loop.call_soon_threadsafe(report, data)}
    try:
        if action.long:
            return await service.run_long(lambda library: action.run(library, service.config, **params))
        if not action.library:
            run = functools.partial(action.run, service.config, **params)
        else:
            target = service.library if action.writes else service.read_conn
            run = functools.partial(action.run, target, service.config, **params)
        return await (service.write(run) if action.writes else service.read(run))
    except ActionError as exc:
        raise p.ProtocolError(exc.code, exc.message) from None


def action(method: str, after: After | None = None) -> Handler:
    """The handler of an action the daemon runs as the CLI would, then ``after``."""
    async def handle(service: "Service", progress: Progress | None = None, **params: Any) -> Any:
        result = await run_action(service, method, params, progress)
        if after is not None:
            await after(service, result)
        return result

    handle.__qualname__ = f"action({method!r})"
    return handle
