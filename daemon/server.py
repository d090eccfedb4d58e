"""The Unix-socket server: JSON lines in, JSON lines out (see :mod:`djml.protocol`).

Robustness rules: every malformed line gets an error reply and the connection goes on;
a line over ``MAX_LINE_BYTES`` gets ``too_large`` and the connection is closed (the rest of
that line cannot be told apart from the next request); a client over its request rate gets
``rate_limited``; a handler bug becomes ``internal`` with the traceback in the log. Nothing
a client sends can stop the daemon. Requests on one connection are answered in order;
events go only to connections that subscribed, and a subscriber that stops reading is
disconnected instead of growing the daemon's memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from djml import protocol as p

from .service import Service

log = logging.getLogger(__name__)

MAX_SUBSCRIBER_BACKLOG = 8 << 20   # bytes of unsent events before a slow subscriber is dropped


class SocketInUse(Exception):
    """Another daemon answers on the socket."""


class _Connection:
    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self.events: set[str] = set()
        self.tokens = float(p.RATE_BURST)
        self.refilled = time.monotonic()

    def allow(self) -> bool:
        """Token bucket: RATE_PER_SECOND sustained, RATE_BURST at once."""
        now = time.monotonic()
        self.tokens = min(p.RATE_BURST, self.tokens + (now - self.refilled) * p.RATE_PER_SECOND)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class Server:
    def __init__(self, service: Service, socket_path: Path):
        self.service = service
        self.socket_path = socket_path
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_Connection] = set()
        self._handlers: set[asyncio.Task] = set()
        self.shutdown_requested = asyncio.Event()
        service.emit = self.broadcast

    async def start(self) -> None:
        path = self.socket_path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The folder is djml's own (runtime dir or data dir): private even if it pre-existed.
        os.chmod(path.parent, 0o700)
        _remove_stale_socket(path)
        # The umask makes the socket 0600 from the moment it exists: no window for others.
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(path), limit=p.MAX_LINE_BYTES)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        log.info("listening on %s", path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        try:
            if self.socket_path.is_socket():
                self.socket_path.unlink()
        except OSError:
            pass

    def broadcast(self, name: str, data: dict[str, Any]) -> None:
        self.service.remember(name, data)
        line = None
        for conn in list(self._connections):
            if name not in conn.events and "*" not in conn.events:
                continue
            if conn.writer.transport.get_write_buffer_size() > MAX_SUBSCRIBER_BACKLOG:
                log.warning("dropping a subscriber that stopped reading events")
                conn.writer.close()
                self._connections.discard(conn)
                continue
            line = line or p.event(name, data)
            conn.send(line)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        conn = _Connection(writer)
        self._connections.add(conn)
        try:
            await self._serve(conn, reader)
        except (asyncio.CancelledError, ConnectionResetError, BrokenPipeError):
            pass  # shutdown or client gone: nothing to answer
        finally:
            self._connections.discard(conn)
            if task is not None:
                self._handlers.discard(task)
            writer.close()

    async def _serve(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than MAX_LINE_BYTES
                conn.send(p.error(None, p.TOO_LARGE, f"request line longer than {p.MAX_LINE_BYTES} bytes"))
                await conn.writer.drain()
                return
            if not line:
                return
            if not line.strip():
                continue
            conn.send(await self._answer(conn, line))
            await conn.writer.drain()

    async def _answer(self, conn: _Connection, line: bytes) -> bytes:
        request_id = None
        try:
            allowed = conn.allow()  # every line counts, malformed ones too
            request = p.parse_request(line)
            request_id = request.id  # so a rate-limited client can match the error to its call
            if not allowed:
                raise p.ProtocolError(p.RATE_LIMITED, f"more than {p.RATE_PER_SECOND:.0f} requests per second")
            if self.service.closing and request.method != "hello":
                raise p.ProtocolError(p.UNAVAILABLE, "the daemon is shutting down")
            if request.method in ("subscribe", "unsubscribe"):
                return p.response(request_id, self._subscribe(conn, request.method, request.params))
            def progress(report: dict[str, Any], request: p.Request = request) -> None:
                conn.send(p.progress(request.id, request.method, report))

            result = await self.service.call(request.method, request.params, progress)
            if request.method == "shutdown":
                self.shutdown_requested.set()
            return p.response(request_id, result)
        except p.ProtocolError as exc:
            return p.error(exc.request_id if exc.request_id is not None else request_id, exc.code, exc.message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("request %r failed", line[:200])
            return p.error(request_id, p.INTERNAL, f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _subscribe(conn: _Connection, method: str, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("events")
        if method == "unsubscribe" and names is None:
            conn.events.clear()
            return {"subscribed": []}
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise p.ProtocolError(p.INVALID_PARAMS, "events must be a list of event names")
        unknown = sorted(set(names) - p.EVENTS - {"*"})
        if unknown:
            raise p.ProtocolError(p.INVALID_PARAMS, f"unknown events {unknown}; known: {sorted(p.EVENTS)}")
        if method == "subscribe":
            conn.events.update(names)
        else:
            conn.events.difference_update(names)
        return {"subscribed": sorted(conn.events)}


def _remove_stale_socket(path: Path) -> None:
    """A socket file left by a killed daemon is removed; a live one means we must not start."""
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_socket():
        raise SocketInUse(f"{path} exists and is not a socket; remove it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:  # refused / timed out: nobody serves it
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise SocketInUse(f"another daemon is listening on {path}")
