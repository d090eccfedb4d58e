"""Talking to the daemon: the one client class used by the CLI and the TUI.

Blocking and stdlib-only on purpose (imports nothing but :mod:`djml.protocol`): a CLI
one-shot pays ~1 ms to ask the daemon, and the TUI runs it in a worker thread. When no
daemon runs, connecting raises :class:`DaemonNotRunning` at once (no socket file, or a
stale one nobody listens on), so callers can fall back to reading the library themselves.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections import deque
from pathlib import Path

from djml import protocol as p
from djml.protocol import RemoteError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing: CLI one-shots import this
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

__all__ = ["Client", "DaemonNotRunning", "RemoteError", "connect_if_running", "wire_ref"]


class DaemonNotRunning(Exception):
    """No daemon answers on the socket."""


class Client:
    """One connection to the daemon. ``server`` holds the handshake reply (protocol,
    schema, version, pid). Events that arrive while waiting for a response are kept and
    returned by :meth:`next_event` / :meth:`events`."""

    def __init__(self, socket_path: str | os.PathLike, *, timeout: float | None = 30.0, name: str = "djml"):
        self.socket_path = Path(socket_path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(self.socket_path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            self._sock.close()
            raise DaemonNotRunning(
                f"no djml daemon is running (nothing answers on {self.socket_path}); "
                "start one with `djml daemon start`"
            ) from exc
        except OSError as exc:
            self._sock.close()
            raise DaemonNotRunning(f"cannot reach the djml daemon at {self.socket_path}: {exc}") from exc
        self._buffer = bytearray()
        self._scanned = 0
        self._ids = itertools.count(1)
        self._events: deque[tuple[str, dict[str, Any]]] = deque()
        try:
            self.server: dict[str, Any] = self.call("hello", client=name, protocol=p.PROTOCOL_VERSION)
        except (ConnectionError, TimeoutError) as exc:
            self.close()
            raise DaemonNotRunning(f"the djml daemon at {self.socket_path} did not answer: {exc}") from exc
        speaks = self.server.get("protocol")
        if not isinstance(speaks, int) or not p.OLDEST_PROTOCOL <= speaks <= p.PROTOCOL_VERSION:
            self.close()
            raise RemoteError(
                p.INVALID_REQUEST,
                f"the daemon speaks protocol {speaks}, this djml {p.PROTOCOL_VERSION}; "
                "restart the daemon after upgrading (djml daemon stop && djml daemon start)",
            )
        # an older daemon (protocol 3) streams nothing: callers then use the paged methods
        self.streams: frozenset[str] = frozenset(self.server.get("streams") or ())

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def call(self, method: str, *, on_progress: Callable[[dict[str, Any]], None] | None = None,
             **params: Any) -> Any:
        """Send one request and wait for its answer; raises :class:`RemoteError`.
        ``on_progress`` receives the progress reports of this request (long actions)."""
        return self._request(method, params, on_progress, None)

    def call_streamed(self, method: str, on_part: Callable[[str], Any], **params: Any) -> Any:
        """A streamed method (one of :attr:`streams`): ``on_part`` gets each part's text
        as it arrives (whole output lines), then the result is returned."""
        if method not in self.streams:
            raise RemoteError(p.METHOD_NOT_FOUND, f"the daemon does not stream {method!r}")
        return self._request(method, params, None, on_part)

    def _request(self, method: str, params: dict[str, Any], on_progress: Callable[[dict[str, Any]], None] | None,
                 on_part: Callable[[str], Any] | None) -> Any:
        request_id = next(self._ids)
        self._sock.sendall(p.request(request_id, method, params))
        while True:
            message = self._read()
            if "event" in message:
                data = message.get("data") or {}
                if message["event"] == p.PROGRESS:
                    if on_progress is not None and data.get("id") == request_id:
                        on_progress(data)
                    continue
                self._events.append((message["event"], data))
                continue
            if message.get("id") != request_id:
                continue  # an error reply to a line we never sent as a request
            if "part" in message:
                if on_part is not None:
                    on_part(message["part"])
                continue
            if "error" in message:
                err = message["error"] or {}
                raise RemoteError(str(err.get("code", p.INTERNAL)), str(err.get("message", "")))
            return message.get("result")

    def subscribe(self, events: list[str]) -> list[str]:
        return self.call("subscribe", events=list(events))["subscribed"]

    def set_timeout(self, seconds: float | None) -> None:
        """How long a call may wait for its answer from now on (the connection and
        ``hello`` used the constructor's)."""
        self._sock.settimeout(seconds)

    def next_event(self, timeout: float | None = None) -> tuple[str, dict[str, Any]]:
        """The next pushed event (raises TimeoutError after ``timeout`` seconds)."""
        if self._events:
            return self._events.popleft()
        previous = self._sock.gettimeout()
        self._sock.settimeout(timeout)
        try:
            while True:
                message = self._read()
                if "event" in message:
                    return message["event"], message.get("data") or {}
        finally:
            self._sock.settimeout(previous)

    def events(self, timeout: float | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Pushed events forever (or until ``timeout`` seconds pass without one)."""
        while True:
            try:
                yield self.next_event(timeout)
            except TimeoutError:
                return

    def _read(self) -> dict[str, Any]:
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                self._scanned = 0
                return p.parse_message(line)
            self._scanned = len(self._buffer)
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the djml daemon closed the connection")
            self._buffer += chunk


def connect_if_running(config: Any, *, timeout: float | None = 30.0) -> Client | None:
    """A connected client when a daemon runs for ``config``, else None (never raises for
    "not running"). CLI commands use this to go through the daemon when it is there."""
    try:
        return Client(config.socket_path, timeout=timeout)
    except DaemonNotRunning:
        return None


def wire_ref(text: str | int) -> str | int:
    """An item reference as the daemon must receive it: an id as a number, a file that
    exists here as its absolute path (the daemon runs in another working directory, so
    ``./track.mp3`` means nothing to it), anything else as the words typed."""
    if isinstance(text, int):
        return text
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped)
    local = Path(stripped).expanduser()
    try:
        if local.exists():
            return str(local.absolute())
    except OSError:  # a name too long for the file system is just words
        pass
    return text
