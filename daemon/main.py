"""Running the daemon: foreground (`djml daemon run`, for systemd and containers) or in the
background (`start` / `stop` / `status`), with a pid file, signals and logging.

The pid file is also a lock (``flock``): the running daemon holds it for its whole life, so
"is the daemon in the pid file really ours and alive?" has an exact answer even after
``kill -9`` (the kernel drops the lock) or pid reuse (a stranger holds no lock on our file).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from djml.config import Config
from djml.private import make_folder, open_log

log = logging.getLogger("djml.daemon")

LOG_ROTATE_BYTES = 10 << 20


class DaemonError(Exception):
    """The daemon cannot be started or stopped (message says why)."""


# -- pid file -------------------------------------------------------------------------------


def acquire_pid_file(path: Path) -> IO[str]:
    """Lock and fill the pid file; raises DaemonError if another daemon holds it."""
    make_folder(path.parent)
    handle = open(path, "a+", encoding="ascii")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip()
        handle.close()
        raise DaemonError(f"a djml daemon is already running (pid {other or '?'}, {path})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def release_pid_file(path: Path, handle: IO[str]) -> None:
    try:
        path.unlink()
    except OSError:
        pass
    handle.close()


def running_pid(path: Path) -> int | None:
    """The pid of the live daemon that holds the pid file lock, else None."""
    try:
        handle = open(path, encoding="ascii")
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else None
        return None  # nobody holds it: stale file from a crash


# -- foreground -----------------------------------------------------------------------------


def setup_logging(level: str = "INFO") -> None:
    from djml.safetext import escape_streams

    escape_streams()   # a file name with undecodable bytes must not break a log line
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("watchdog").setLevel(logging.WARNING)


THREADS_CHOSEN_BY: str | None = None   # djml.procs.daemon_threads, once the daemon runs


def run(config: Config) -> None:
    """Run in the foreground until SIGTERM/SIGINT or a `shutdown` request."""
    global THREADS_CHOSEN_BY
    from djml.procs import daemon_threads

    THREADS_CHOSEN_BY = daemon_threads()   # before the service imports numpy
    if "numpy" in sys.modules:
        log.warning("numpy was loaded before the daemon set its BLAS threads; it keeps its own number")
    pid_handle = acquire_pid_file(config.pid_path)
    try:
        asyncio.run(_serve(config))
    finally:
        release_pid_file(config.pid_path, pid_handle)


def exit_now(code: int = 0) -> None:
    """End the daemon process at once after a clean stop (every change committed, the
    database closed, the pid file released). Interpreter teardown with torch and the
    sentence model loaded took 7 s on 2 cores, which `djml daemon stop` waited for."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


async def _serve(config: Config) -> None:
    from djml.private import NotPrivate, prepare_socket_folder

    from .server import Server
    from .service import Service

    try:   # before anything starts: a socket folder someone else prepared stops us here
        prepare_socket_folder(config.socket_path.parent)
    except NotPrivate as exc:
        raise DaemonError(str(exc)) from None
    service = Service(config)
    server = Server(service, config.socket_path)
    stop = server.shutdown_requested
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # survive a closed SSH session
    log.info("djml daemon %d starting (library %s)", os.getpid(), config.db_path)
    await service.start()
    await server.start()
    log.info("ready: %d worker(s), settle %.1f s", config.workers, config.settle_seconds)
    await stop.wait()
    log.info("shutting down")
    t0 = time.monotonic()
    await server.close()
    await service.stop()
    log.info("stopped in %.1f s", time.monotonic() - t0)


# -- background control ---------------------------------------------------------------------


@dataclass
class Started:
    pid: int
    already: bool


def start(config: Config, timeout: float = 60.0) -> Started:
    """Start a background daemon and return once its socket answers."""
    from djml.client import Client, DaemonNotRunning

    pid = running_pid(config.pid_path)
    if pid is not None:
        return Started(pid, already=True)
    log_path = config.log_path
    make_folder(log_path.parent)
    if log_path.exists() and log_path.stat().st_size > LOG_ROTATE_BYTES:
        os.replace(log_path, log_path.with_suffix(".log.1"))
    command = [sys.executable, "-m", "djml.daemon"]
    if config.config_path.exists():
        command += ["--config", str(config.config_path)]
    with open_log(log_path) as log_file, open(os.devnull, "rb") as devnull:
        child = subprocess.Popen(command, stdin=devnull, stdout=log_file, stderr=log_file,
                                 start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise DaemonError(f"the daemon exited with code {child.returncode}; see {log_path}:\n"
                              + _tail(log_path))
        try:
            with Client(config.socket_path, timeout=2.0) as client:
                return Started(client.server["pid"], already=False)
        except DaemonNotRunning:
            time.sleep(0.1)
    raise DaemonError(f"the daemon (pid {child.pid}) did not answer within {timeout:.0f} s; see {log_path}")


def stop(config: Config, timeout: float = 15.0) -> int | None:
    """SIGTERM the daemon named by the pid file (only if it holds the lock); wait for it.
    Returns the stopped pid, or None if none was running."""
    pid = running_pid(config.pid_path)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(config.pid_path) != pid and not _alive(pid):
            return pid
        time.sleep(0.05)
    raise DaemonError(f"the daemon (pid {pid}) is still running {timeout:.0f} s after SIGTERM; "
                      f"see {config.log_path}")


def _alive(pid: int) -> bool:
    """Running (a zombie is not: a daemon that exited but whose parent, init in a container
    or a service manager, has not reaped it yet kept `djml daemon stop` waiting 2–5 s)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS): kill(0) answered, so it runs
        return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> None:
    """`python -m djml.daemon [--config FILE]`: what `djml daemon start` launches."""
    import argparse

    from djml import config as cfg
    from djml.errors import DatabaseError

    parser = argparse.ArgumentParser(prog="python -m djml.daemon")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--log-level", default=os.environ.get("DJML_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    setup_logging(args.log_level.upper())
    try:
        run(cfg.load(args.config))
    except (DaemonError, cfg.ConfigError, DatabaseError) as exc:
        log.error("%s", exc)
        sys.exit(2)
    exit_now(0)
