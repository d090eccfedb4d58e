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
    exit_if_crashed(app, state.config)


def exit_if_crashed(app, config) -> None:
    """A crash must not look like a quit: Textual has printed the traceback; add one line
    that says what broke and where the traceback is kept, and exit 1 (it used to exit 0)."""
    if not app.return_code:
        return
    import traceback

    error = getattr(app, "_exception", None)
    what = f"{type(error).__name__}: {error}" if error is not None else "an unexpected error"
    kept = ""
    if error is not None and config.data_dir.is_dir():
        report = config.data_dir / "tui-crash.log"
        try:
            with open(report, "a", encoding="utf-8") as f:
                f.write("".join(traceback.format_exception(error)) + "\n")
            kept = f"; the traceback is also in {report}"
        except OSError:
            pass
    click.echo(f"djml tui stopped because of an error: {what}{kept}. Nothing you labelled is lost "
               "(the daemon stores each label at once). Please report this.", err=True)
    raise click.exceptions.Exit(app.return_code)


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

    \b
    Examples:
      djml tui
      djml tui --screen library
      ssh -t myserver djml tui
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

    \b
    Examples:
      djml review
      djml review --task samples
    """
    from djml.models import task_name

    _run(state, "review", task_name(task) if task else None)
