"""Running one action (:mod:`djml.models.actions`) from the CLI: through the daemon when
it runs — it is then the only writer, and it follows up (events to the TUI, retraining,
watching a new folder) — and directly on the library when it does not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from djml.cli import EXIT_USAGE


def perform(state, method: str, *, show_progress: bool = False, **params: Any) -> tuple[Any, bool]:
    """(result, True if the daemon did it). A request that cannot be done as asked ends
    the command with its reason and exit code 2. With ``show_progress`` a long action's
    stages are shown on stderr (rich), whoever runs it."""
    from djml.client import RemoteError, connect_if_running
    from djml.models.actions import ACTIONS

    params = {k: v for k, v in params.items() if v is not None}
    action = ACTIONS[method]
    try:   # an action that reports progress may take minutes: no time limit on its answer
        client = connect_if_running(state.config, timeout=None if action.progress else 30.0)
    except RemoteError as exc:   # a daemon of another protocol version: it says what to do
        fail(exc.message)
    with _progress(show_progress) as on_progress:
        if client is not None:
            with client:
                try:
                    return client.call(method, on_progress=on_progress, **params), True
                except RemoteError as exc:
                    fail(exc.message)
        from djml.errors import ActionError
        from djml.models.actions import run_local

        try:
            return run_local(state.config, method, progress=on_progress, **params), False
        except ActionError as exc:
            fail(exc.message)


@contextmanager
def _progress(wanted: bool) -> Iterator[Callable[[dict[str, Any]], None] | None]:
    """A callback that shows {stage, done, total, file} reports as a rich progress line
    (on stderr, so `--json` output stays clean); None when not wanted."""
    if not wanted:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from djml.render import console

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[file]}"), console=console(stderr=True), transient=True)
    task = bar.add_task("starting", total=None, file="")

    def show(report: dict[str, Any]) -> None:
        bar.update(task, description=str(report.get("stage", "")), total=report.get("total"),
                   completed=report.get("done") or 0, file=str(report.get("file") or "")[-40:])

    with bar:
        yield show


def fail(message: str) -> None:
    click.echo(f"djml: {message}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)
