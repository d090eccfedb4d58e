"""Running one everyday action (:mod:`djml.actions`) from the CLI: through the daemon when
it runs — it is then the only writer, and it follows up (events to the TUI, retraining,
watching a new folder) — and directly on the library when it does not."""

from __future__ import annotations

from typing import Any

import click

from djml.cli import EXIT_USAGE


def perform(state, method: str, **params: Any) -> tuple[Any, bool]:
    """(result, True if the daemon did it). A request that cannot be done as asked ends
    the command with its reason and exit code 2."""
    from djml.client import RemoteError, connect_if_running

    params = {k: v for k, v in params.items() if v is not None}
    client = connect_if_running(state.config)
    if client is not None:
        with client:
            try:
                return client.call(method, **params), True
            except RemoteError as exc:
                fail(exc.message)
    from djml.actions import run_local
    from djml.errors import ActionError

    try:
        return run_local(state.config, method, **params), False
    except ActionError as exc:
        fail(exc.message)


def fail(message: str) -> None:
    click.echo(f"djml: {message}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)
