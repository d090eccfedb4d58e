"""The base of every TUI screen that shows what the daemon knows.

A :class:`DaemonScreen` receives the daemon's news as Textual messages in its own message
queue — :class:`~djml.tui.messages.DaemonConnected`, :class:`~djml.tui.messages.DaemonLost`
and :class:`~djml.tui.messages.DaemonEvent` — and handles them with ordinary
``on_daemon_connected`` / ``on_daemon_lost`` / ``on_daemon_event`` methods. How they get
there: the app publishes each message the link posts on its ``daemon_messages`` signal
(a Textual :class:`~textual.signal.Signal`, which drops screens that were removed), and
this class, subscribed at mount, posts a copy to itself. A screen mounted later than the
connection (modes are created when first shown) is told the link's state at once, as a
message marked ``initial``, so it loads its data the same way it reloads after a reconnect.
"""

from __future__ import annotations

from dataclasses import replace

from textual.message import Message
from textual.screen import Screen

from .messages import DaemonConnected, DaemonLost


class DaemonScreen(Screen):
    def on_mount(self) -> None:
        """Runs after the subclass's own ``on_mount`` (Textual walks the MRO), so its
        widgets exist when the first message arrives."""
        self.app.daemon_messages.subscribe(self, self._deliver, immediate=True)
        link = self.app.link
        self.post_message(DaemonConnected(dict(link.server), initial=True) if link.connected
                          else DaemonLost("", initial=True))

    def _deliver(self, message: Message) -> None:
        self.post_message(replace(message))
