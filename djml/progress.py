"""The progress bar of long CLI work (scan): count, files/s, elapsed, ETA, current file.

Imported only by commands that show one, so rich's progress machinery stays off the
one-shot path."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text


class FilesPerSecond(ProgressColumn):
    """Throughput, so a user sees what more workers (or a cluster) would buy."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} files/s", style="cyan")


def scan_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), FilesPerSecond(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("[dim]{task.fields[file]}"),
        console=console, transient=True,
    )
