"""Shown when no daemon answers: says so, offers to start one (``d`` runs
``djml daemon start``), and disappears by itself when the link reconnects."""

from __future__ import annotations

import asyncio
import sys

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from djml.config import Config


class OfflineScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("d", "start_daemon", "start the daemon"),
        Binding("escape", "dismiss", "continue offline"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, config: Config, reason: str | None) -> None:
        super().__init__()
        self.config = config
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="offline-box"):
            yield Static("[b]No djml daemon is running[/b]", id="offline-title")
            yield Static(
                f"Nothing answers on {self.config.socket_path}.\n\n"
                "The TUI talks to the background daemon that watches your folders.\n"
                "It reconnects by itself as soon as one runs.\n\n"
                "  [b]d[/b]    start it now (djml daemon start)\n"
                "  [b]Esc[/b]  continue without it (d starts it later, from any screen)\n"
                "  [b]q[/b]    quit", id="offline-text")
            yield Static("", id="offline-status")

    async def action_start_daemon(self) -> None:
        status = self.query_one("#offline-status", Static)
        status.update("starting the daemon…")
        code, text = await start_daemon(self.config)
        if code == 0:
            status.update(f"{text}\nconnecting…")
        else:
            status.update(f"[b]could not start it[/b] (exit {code}):\n{text}")


async def start_daemon(config: Config) -> tuple[int, str]:
    """Run `djml daemon start` for ``config``; (exit code, what it printed)."""
    argv = [sys.executable, "-c", "from djml.cli import main; main()"]
    if config.config_path.exists():
        argv += ["--config", str(config.config_path)]
    proc = await asyncio.create_subprocess_exec(
        *argv, "daemon", "start", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace").strip()


OFFLINE_HINT = "No djml daemon is running: press d to start it (or run `djml daemon start`); this screen fills in by itself."
