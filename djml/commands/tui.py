"""`djml tui` and `djml review`: the terminal UI over the daemon socket.

Textual (~0.37 s to import) is imported only inside the command functions, so
`djml --help` and other one-shots never pay for it.
"""

from __future__ import annotations

import click

SCREENS = ("review", "library", "recommend", "status")
TASK_CHOICES = ("samples", "buckets", "genre", "mood")


def _run(state, start: str, task: str | None) -> None:
    from djml.tui.app import DjmlApp

    app = DjmlApp(state.config, start=start, task=task)
    app.run()


@click.command()
@click.option("--screen", "start", type=click.Choice(SCREENS), default="review", show_default=True,
              help="Screen to open first.")
@click.pass_obj
def tui(state, start: str) -> None:
    """Open the terminal UI: review queue, library browser, recommendations, status.

    \b
    Talks to the background daemon (offers to start it when none runs, and reconnects
    by itself after a restart). Keyboard only, works at 80×24 and over SSH; honours
    NO_COLOR. Screens: F1/R review · F2/L library · F3/M mix · F4/S status · ? help · q quit.
    """
    _run(state, start, None)


@click.command()
@click.option("--task", type=click.Choice(TASK_CHOICES), help="Only this task's queue (default: all).")
@click.pass_obj
def review(state, task: str | None) -> None:
    """Label unsure items, most useful first (opens the TUI on the review queue).

    \b
    Keys: j/k move · 1–9 choose a label · Enter accept the top prediction · e new label
    · s skip · u undo · / filter · p play · t retrain now · ? help.
    """
    from djml.models import task_name

    _run(state, "review", task_name(task) if task else None)
