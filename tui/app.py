"""The djml TUI: four screens (review, library, recommendations, status) over one daemon link.

Screens are Textual *modes*, each with its own stack, switched with F1–F4 (or R/L/M/S).
The app owns the :class:`DaemonLink`; screens ask through :meth:`DjmlApp.request` (runs the
blocking client call in a thread). What the link posts (connected, lost, events) the app
handles for itself (the title, the offline dialog), then publishes on
:attr:`DjmlApp.daemon_messages`, from which every mounted screen gets its own copy as a
Textual message (:mod:`djml.tui.daemon_screen`), so one event reaches the review queue and
the status log alike.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.signal import Signal

from djml.config import Config

from .connection import DaemonLink
from .messages import DaemonConnected, DaemonEvent, DaemonLost
from .preview import Player
from .widgets.badges import markup_safe

SCREENS = ("review", "library", "recommend", "status")


class Link(Protocol):
    connected: bool
    server: dict[str, Any]

    def call(self, method: str, **params: Any) -> Any: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class DjmlApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "djml"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f1,R", "switch_mode('review')", "Review", show=False),
        Binding("f2,L", "switch_mode('library')", "Library", show=False),
        Binding("f3,M", "switch_mode('recommend')", "Mix", show=False),
        Binding("f4,S", "switch_mode('status')", "Status", show=False),
        Binding("d", "start_daemon", "start the daemon", show=False),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, config: Config, *, link: Link | None = None, start: str = "review",
                 task: str | None = None) -> None:
        from .library import LibraryScreen
        from .recommend import RecommendScreen
        from .review import ReviewScreen
        from .status import StatusScreen

        self.MODES = {
            "review": lambda: ReviewScreen(task=task),
            "library": LibraryScreen,
            "recommend": RecommendScreen,
            "status": StatusScreen,
        }
        super().__init__()
        self.config = config
        self.link: Link = link or DaemonLink(config.socket_path, self.post_message)
        self.start_mode = start
        self.player = Player()
        # the daemon's news for the screens (see djml.tui.daemon_screen)
        self.daemon_messages: Signal[Message] = Signal(self, "daemon-messages")
        self.pending_seed: dict[str, Any] | None = None
        self._offline_shown = False

    # -- life cycle ------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.link.start()
        self.switch_mode(self.start_mode)
        if not self.link.connected:
            self.set_timer(0.6, self._offer_start_if_offline)

    def _offer_start_if_offline(self) -> None:
        if not self.link.connected and not self._offline_shown:
            self._show_offline(None)

    def on_unmount(self) -> None:
        self.player.stop()
        self.link.stop()

    # -- talking to the daemon ---------------------------------------------------------------

    async def request(self, method: str, **params: Any) -> Any:
        """A daemon call without blocking the UI (raises DaemonUnavailable / RemoteError)."""
        return await asyncio.to_thread(self.link.call, method, **params)

    def on_daemon_event(self, message: DaemonEvent) -> None:
        self.daemon_messages.publish(message)

    def on_daemon_connected(self, message: DaemonConnected) -> None:
        from .offline import OfflineScreen

        if isinstance(self.screen, OfflineScreen):
            self.screen.dismiss()
        if self._offline_shown:
            self.notify(f"connected to the djml daemon (pid {message.server.get('pid')})")
        self._offline_shown = False
        self.sub_title = f"daemon pid {message.server.get('pid')}"
        self.daemon_messages.publish(message)

    def on_daemon_lost(self, message: DaemonLost) -> None:
        self.sub_title = "daemon not running"
        self.daemon_messages.publish(message)
        if not self._offline_shown:
            self._show_offline(message.reason)

    async def action_start_daemon(self) -> None:
        """`d` on any screen: start the daemon when none runs (the link then connects)."""
        from .offline import start_daemon

        if self.link.connected:
            self.notify(f"the daemon is running (pid {self.link.server.get('pid')})")
            return
        self.notify("starting the daemon…")
        code, text = await start_daemon(self.config)
        self.notify(text or f"djml daemon start exited {code}", severity="information" if code == 0 else "error",
                    timeout=10)

    def _show_offline(self, reason: str | None) -> None:
        from .offline import OfflineScreen

        self._offline_shown = True
        self.push_screen(OfflineScreen(self.config, reason))

    # -- shared actions ----------------------------------------------------------------------

    def preview(self, path: str | None) -> None:
        message = self.player.toggle(path)
        self.notify(markup_safe(message), severity="warning" if message.startswith("Cannot") else "information",
                    timeout=8)

    def open_recommendations(self, item: dict[str, Any]) -> None:
        """Show what follows ``item``; the recommendations screen picks the seed up when it
        becomes current (it may not exist yet)."""
        self.pending_seed = item
        self.switch_mode("recommend")
