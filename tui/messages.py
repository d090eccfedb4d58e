"""What the daemon link tells the TUI, as Textual messages (thread-safe to post).

Small and data-only, so screens can react to the daemon without knowing about sockets. The
connection thread posts them to the app; the app hands a fresh copy to every
:class:`djml.tui.daemon_screen.DaemonScreen` (``dataclasses.replace`` gives each screen a
message of its own). They do not bubble: a screen's copy must not travel back up to the
app and be handed out again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass(eq=False)
class DaemonConnected(Message, bubble=False):
    """A (re)connection succeeded; ``server`` is the daemon's hello reply (pid, version…).
    ``initial``: not news, the state the link was in when the screen was mounted."""

    server: dict[str, Any] = field(default_factory=dict)
    initial: bool = False


@dataclass(eq=False)
class DaemonLost(Message, bubble=False):
    """No daemon answers (never started, stopped, or restarting); ``reason`` says which
    (empty for ``initial``: the link was down when the screen was mounted)."""

    reason: str = ""
    initial: bool = False


@dataclass(eq=False)
class DaemonEvent(Message, bubble=False):
    """One pushed event (item.added, review.changed, model.trained, …)."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
