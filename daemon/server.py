"""The Unix-socket server: JSON lines in, JSON lines out (see :mod:`djml.protocol`).

Robustness rules: every malformed line gets an error reply and the connection goes on;
a line over ``MAX_LINE_BYTES`` gets ``too_large`` and the connection is closed (the rest of
that line cannot be told apart from the next request); a client over its request rate gets
``rate_limited``; a handler bug becomes ``internal`` with the traceback in the log. Nothing
a client sends can stop the daemon. Requests on one connection are answered in order;
events go only to connections that subscribed, and a subscriber that stops reading is
disconnected instead of growing the daemon's memory. A client that reads nothing of an
answer for ``STALL_SECONDS`` is disconnected too: only its own connection ever waits for
it (a streamed answer is produced part by part, as the client takes them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any

from djml import protocol as p
from djml.private import prepare_socket_folder

from .handlers import PEER_METHODS, dispatch
from .listing import Stream
from .service import Service

log = logging.getLogger(__name__)

MAX_SUBSCRIBER_BACKLOG = 8 << 20   # bytes of unsent events before a slow subscriber is dropped
# 1,100 idle connections once exhausted a 1,024-fd daemon: beyond the cap a connection is
# answered `unavailable` and closed; one without subscriptions that sends nothing for the
# idle timeout is closed (subscribers wait for events, so they may stay quiet).
MAX_CONNECTIONS = 256
IDLE_TIMEOUT = 300.0
STALL_SECONDS = 60.0   # an answer (or a part of one) the client has not taken for this long: drop it
# Client mistakes that reach a handler as one of these are invalid params, not daemon bugs.
CLIENT_VALUE_ERRORS = (TypeError, ValueError, OverflowError, RecursionError)


class SocketInUse(Exception):
    """Another daemon answers on the socket."""


class _Stalled(Exception):
    """The client did not read what was sent to it within STALL_SECONDS."""


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
        self._logged: set[tuple[str, str]] = set()   # (method, error type) already logged
        service.emit = self.broadcast

    async def start(self) -> None:
        path = self.socket_path
        # Created 0700 if missing; an existing folder is never chmod'ed (djml.private).
        prepare_socket_folder(path.parent)
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
        if len(self._connections) >= MAX_CONNECTIONS:
            writer.write(p.error(None, p.UNAVAILABLE, f"too many connections (at most {MAX_CONNECTIONS})"))
            writer.close()
            if task is not None:
                self._handlers.discard(task)
            self._log_once("connect", "over the connection cap", f"refusing connections beyond {MAX_CONNECTIONS}")
            return
        self._connections.add(conn)
        try:
            await self._serve(conn, reader)
        except _Stalled:
            self._log_once("connection", "stalled", f"dropped a client that read nothing for {STALL_SECONDS:.0f} s")
        except (asyncio.CancelledError, ConnectionResetError, BrokenPipeError, TimeoutError):
            pass  # shutdown, client gone or idle: nothing to answer
        finally:
            self._connections.discard(conn)
            if task is not None:
                self._handlers.discard(task)
            writer.close()

    async def _serve(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), None if conn.events else IDLE_TIMEOUT)
            except ValueError:  # longer than MAX_LINE_BYTES
                conn.send(p.error(None, p.TOO_LARGE, f"request line longer than {p.MAX_LINE_BYTES} bytes"))
                await self._drain(conn)
                return
            if not line:
                return
            if not line.strip():
                continue
            answer = await self._answer(conn, line)
            if isinstance(answer, tuple):
                await self._stream(conn, line, *answer)
            else:
                conn.send(answer)
                await self._drain(conn)

    @staticmethod
    async def _drain(conn: _Connection) -> None:
        """Wait until the client has taken what was sent; raises _Stalled after STALL_SECONDS."""
        try:
            await asyncio.wait_for(conn.writer.drain(), STALL_SECONDS)
        except TimeoutError:
            raise _Stalled() from None

    async def _stream(self, conn: _Connection, line: bytes, request: p.Request, stream: Stream) -> None:
        """A streamed answer: each part once the client took the one before, then the
        result; a failure after the first part still ends with an error response."""
        try:
            async for encoded in stream.parts:
                conn.send(p.part_line(request.id, encoded))
                await self._drain(conn)
            reply = p.response(request.id, stream.result)
        except (_Stalled, asyncio.CancelledError, ConnectionError):
            await stream.parts.aclose()
            raise
        except Exception as exc:
            reply = self._failure(exc, request.id, request.method, line)
        conn.send(reply)
        await self._drain(conn)

    async def _answer(self, conn: _Connection, line: bytes) -> bytes | tuple[p.Request, Stream]:
        request_id, method = None, "?"
        try:
            allowed = conn.allow()  # every line counts, malformed ones too
            request = p.parse_request(line)
            request_id, method = request.id, request.method  # a rate-limited client can match its error
            if not allowed:
                raise p.ProtocolError(p.RATE_LIMITED, f"more than {p.RATE_PER_SECOND:.0f} requests per second")
            if self.service.closing and request.method != "hello":
                raise p.ProtocolError(p.UNAVAILABLE, "the daemon is shutting down")
            if request.method in ("subscribe", "unsubscribe"):
                return p.response(request_id, self._subscribe(conn, request.method, request.params))
            def progress(report: dict[str, Any], request: p.Request = request) -> None:
                conn.send(p.progress(request.id, request.method, report))

            peer = _peer_pid(conn.writer) if request.method in PEER_METHODS else None
            result = await dispatch(self.service, request.method, request.params, progress, peer)
            if isinstance(result, Stream):
                return request, result
            if request.method == "shutdown":
                self.shutdown_requested.set()
            return p.response(request_id, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._failure(exc, request_id, method, line)

    def _failure(self, exc: Exception, request_id: Any, method: str, line: bytes) -> bytes:
        """The error response for what a request raised (see the module docstring)."""
        if isinstance(exc, p.ProtocolError):
            return p.error(exc.request_id if exc.request_id is not None else request_id, exc.code, exc.message)
        if isinstance(exc, CLIENT_VALUE_ERRORS):   # an odd value (NUL, lone surrogate, 10**400) met a handler
            self._log_once(method, type(exc).__name__, f"{method}: a client sent a value it cannot take ({exc})")
            return p.error(request_id, p.INVALID_PARAMS, f"{type(exc).__name__}: {str(exc)[:300]}")
        self._log_once(method, type(exc).__name__, f"request {line[:200]!r} failed", exc)
        return p.error(request_id, p.INTERNAL, f"{type(exc).__name__}: {exc}")

    def _log_once(self, method: str, kind: str, message: str, exc: BaseException | None = None) -> None:
        """One log line (with the traceback of a real failure) per method and error type,
        so a client repeating a mistake cannot flood the log."""
        if (method, kind) in self._logged:
            log.debug("%s (repeated)", message)
            return
        self._logged.add((method, kind))
        if exc is not None:
            log.error("%s", message, exc_info=exc)
        else:
            log.warning("%s (logged once)", message)

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


def _peer_pid(writer: asyncio.StreamWriter) -> int | None:
    """The client's pid as the kernel recorded it at connect (SO_PEERCRED, Linux), or None."""
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None
    try:
        pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    except OSError:
        return None
    return pid if pid > 0 else None


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
