"""Messages the connection thread posts to the app (Textual messages are thread-safe to post).

Small and data-only, so screens can react to the daemon without knowing about sockets.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class DaemonConnected(Message):
    """A (re)connection succeeded; ``server`` is the daemon's hello reply (pid, version…)."""

    def __init__(self, server: dict[str, Any]) -> None:
        super().__init__()
        self.server = server


class DaemonLost(Message):
    """No daemon answers (never started, stopped, or restarting); ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class DaemonEvent(Message):
    """One pushed event (item.added, review.changed, model.trained, …)."""

    def __init__(self, name: str, data: dict[str, Any]) -> None:
        super().__init__()
        self.name = name
        self.data = data
