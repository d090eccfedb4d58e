"""The TUI's link to the daemon: one thread listens for events, one lock guards requests.

Why two connections: :class:`djml.client.Client` is blocking and not thread-safe, and an
event listener spends its life inside ``next_event``. The listener thread owns its own
client (subscribed to every event) and is the one that notices a daemon restart: it posts
:class:`DaemonLost`, retries every ``retry_seconds`` and posts :class:`DaemonConnected`
when a daemon answers again. Requests go through a second client, created on demand and
dropped on any connection error, so the first request after a restart reconnects by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.message import Message

from djml.client import Client, DaemonNotRunning
from djml.protocol import EVENTS

from .messages import DaemonConnected, DaemonEvent, DaemonLost

__all__ = ["DaemonLink", "DaemonUnavailable"]


class DaemonUnavailable(Exception):
    """A request could not reach the daemon (not running, or it went away mid-call)."""


class DaemonLink:
    def __init__(
        self,
        socket_path: Path,
        post: Callable[[Message], Any] | None = None,
        *,
        client_factory: Callable[..., Client] = Client,
        retry_seconds: float = 1.0,
        request_timeout: float = 60.0,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.post = post or (lambda message: None)
        self._factory = client_factory
        self._retry = retry_seconds
        self._timeout = request_timeout
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self.server: dict[str, Any] = {}

    # -- requests (any thread; the app calls them via asyncio.to_thread) -----------------

    def call(self, method: str, **params: Any) -> Any:
        """One request; raises :class:`DaemonUnavailable` or :class:`djml.client.RemoteError`."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._factory(self.socket_path, timeout=self._timeout, name="djml-tui")
                except DaemonNotRunning as exc:
                    raise DaemonUnavailable(str(exc)) from None
            try:
                return self._client.call(method, **params)
            except (ConnectionError, OSError, ValueError) as exc:
                self._drop_request_client()
                raise DaemonUnavailable(f"lost the daemon during {method}: {exc}") from None

    def _drop_request_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- events (the listener thread) -------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen, name="djml-tui-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        with self._lock:
            self._drop_request_client()

    def _listen(self) -> None:
        announced_loss = False
        while not self._stop.is_set():
            try:
                client = self._factory(self.socket_path, timeout=5.0, name="djml-tui-events")
                client.subscribe(sorted(EVENTS))
            except (DaemonNotRunning, ConnectionError, OSError) as exc:
                if not announced_loss:
                    self.connected = False
                    self.post(DaemonLost(str(exc)))
                    announced_loss = True
                self._stop.wait(self._retry)
                continue
            announced_loss = False
            self._on_connected(client.server)
            try:
                while not self._stop.is_set():
                    try:
                        name, data = client.next_event(timeout=0.5)
                    except TimeoutError:
                        continue
                    self.post(DaemonEvent(name, data))
            except (ConnectionError, OSError, ValueError) as exc:
                self.connected = False
                self.post(DaemonLost(f"the daemon went away ({exc}); reconnecting…"))
                announced_loss = True
            finally:
                client.close()

    def _on_connected(self, server: dict[str, Any]) -> None:
        if server.get("pid") != self.server.get("pid"):
            with self._lock:  # a new daemon: the request client points at a dead socket
                self._drop_request_client()
        self.server = dict(server)
        self.connected = True
        self.post(DaemonConnected(self.server))
