"""`djml daemon run|start|stop|status` and `djml status`."""

from __future__ import annotations

import json

import click

from djml.cli import EXIT_PARTIAL, EXIT_USAGE
from djml.render import fmt_uptime

EXIT_NOT_RUNNING = 3  # `daemon status` when no daemon runs (the LSB/systemctl convention)


@click.group()
def daemon() -> None:
    """Run the background daemon that watches your folders.

    \b
    The daemon analyses new and changed files as they appear, keeps the library
    current (moves, renames, deletes), and serves the TUI and CLI over a Unix socket.
    Examples:
      djml daemon start     # in the background (pid file + log file in the data dir)
      djml daemon status
      djml daemon stop
      djml daemon run       # in the foreground, logging to stderr (systemd, containers)
    """


@daemon.command()
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.pass_obj
def run(state, log_level: str) -> None:
    """Run in the foreground until SIGTERM or Ctrl-C; logs go to stderr.

    \b
    Examples:
      djml daemon run                    # what the systemd unit in contrib/ runs
      djml daemon run --log-level DEBUG
    """
    from djml.daemon.main import DaemonError, exit_now, run as run_daemon, setup_logging

    setup_logging(log_level.upper())
    try:
        run_daemon(state.config)
    except DaemonError as exc:
        click.echo(f"djml: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_USAGE) from None
    exit_now(0)


@daemon.command()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the socket to answer.")
@click.pass_obj
def start(state, timeout: float) -> None:
    """Start the daemon in the background; returns once it answers on its socket.

    \b
    Example:
      djml daemon start && djml tui
    """
    from djml.daemon.main import DaemonError, start as start_daemon

    config = state.config
    try:
        started = start_daemon(config, timeout=timeout)
    except DaemonError as exc:
        click.echo(f"djml: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_PARTIAL) from None
    if started.already:
        click.echo(f"djml daemon already running (pid {started.pid})")
    else:
        click.echo(f"djml daemon started (pid {started.pid}); socket {config.socket_path}, log {config.log_path}")


@daemon.command()
@click.option("--timeout", default=15.0, show_default=True, help="Seconds to wait for it to exit.")
@click.pass_obj
def stop(state, timeout: float) -> None:
    """Stop the daemon (SIGTERM to the pid in the pid file, only if it is ours). Running
    analyses are re-queued for the next start; nothing is lost.

    \b
    Example:
      djml daemon stop
    """
    from djml.daemon.main import DaemonError, stop as stop_daemon

    try:
        pid = stop_daemon(state.config, timeout=timeout)
    except DaemonError as exc:
        click.echo(f"djml: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_PARTIAL) from None
    click.echo("djml daemon is not running" if pid is None else f"djml daemon stopped (pid {pid})")


@daemon.command("status")
@click.option("--json", "as_json", is_flag=True, help="The daemon's status as JSON.")
@click.pass_obj
def daemon_status(state, as_json: bool) -> None:
    """Is the daemon running? Exit code 0 if it is, 3 if not.

    \b
    Examples:
      djml daemon status || djml daemon start
      djml daemon status --json | jq .pid
    """
    from djml.client import connect_if_running

    client = connect_if_running(state.config, timeout=5.0)
    if client is None:
        click.echo(json.dumps({"running": False}) if as_json else "djml daemon is not running")
        raise click.exceptions.Exit(EXIT_NOT_RUNNING)
    with client:
        info = client.call("status")
    if as_json:
        click.echo(json.dumps({"running": True, **info}))
        return
    click.echo(f"djml daemon running (pid {info['pid']}, up {fmt_uptime(info['uptime'])}, "
               f"version {info['version']}, socket {state.config.socket_path})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON object.")
@click.pass_obj
def status(state, as_json: bool) -> None:
    """Library and daemon status: queue depth, throughput, failures, uptime, model
    versions and library counts. Works without a daemon (reads the library); right after
    `djml init` it reports an empty library.

    \b
    Examples:
      djml status
      djml status --json | jq .library
    """
    from djml.client import connect_if_running

    client = connect_if_running(state.config, timeout=10.0)
    if client is not None:
        with client:
            info = {"daemon": "running", **client.call("status")}
    else:
        info = {"daemon": "not running", **_offline_status(state)}
    if as_json:
        click.echo(json.dumps(info, default=str))
        return
    _print_status(info)


def _offline_status(state) -> dict:
    from djml import query

    conn = state.reader()
    models = query.active_models(conn)
    rows = conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    queue = {"queued": 0, "running": 0, "failed": 0}
    queue.update({s: n for s, n in rows if s in queue})
    return {"library": query.library_counts(conn), "models": models, "queue": queue}


def _print_status(info: dict) -> None:
    lib, queue = info["library"], info["queue"]
    if info["daemon"] == "running":
        click.echo(f"daemon:   running, pid {info['pid']}, up {fmt_uptime(info['uptime'])}, "
                   f"{info['workers']} worker(s), watching {len(info['watching'])} folder(s)"
                   + (" (polling)" if info.get("polling") else ""))
        click.echo(f"queue:    {queue['queued']} queued, {queue['running']} running, "
                   f"{queue['settling']} settling, {queue['done']} done this run, "
                   f"{queue['files_per_second']:.2f} files/s")
        if early := queue.get("early"):
            click.echo(f"early:    {early['used']} analysed while settling and kept, "
                       f"{early['redone']} analysed again (changed meanwhile, or failed)")
        if memory := info.get("memory"):
            click.echo(f"memory:   {_memory_line(memory)}")
        if threads := info.get("threads"):
            click.echo(f"threads:  {_threads_line(threads)}")
    else:
        click.echo("daemon:   not running (`djml daemon start` to watch your folders)")
        click.echo(f"queue:    {queue['queued'] + queue['running']} waiting for the daemon")
    click.echo(f"library:  {lib['tracks']} tracks, {lib['samples']} samples, {lib['labels']} labels, "
               f"{lib['missing']} missing")
    click.echo(f"failures: {lib['failed']} file(s) failed" + (" — see `djml ls --failed`" if lib["failed"] else ""))
    for warning in info.get("warnings", []):
        click.echo(f"warning:  {warning}")
    if info["models"]:
        for m in info["models"]:
            click.echo(f"model:    {m['task']}: {m['version']} ({m.get('members') or m['estimator']}, "
                       f"{m['created_at']})")   # an older daemon sends no members
    else:
        click.echo("models:   none active yet")


def _threads_line(threads: dict) -> str:
    """The daemon's BLAS/OpenMP threads: what the loaded libraries use, and who chose."""
    pools = ", ".join(f"{p['api']} {p['threads']}" for p in threads.get("pools") or []) or "none loaded yet"
    env = threads.get("env") or {}
    if threads.get("chosen_by") == "user":
        chosen = ", ".join(f"{k}={v}" for k, v in env.items() if v)
        return f"BLAS/OpenMP {pools} (your {chosen})"
    return f"BLAS/OpenMP {pools} (one thread, djml's default beside the workers; set OMP_NUM_THREADS to choose)"


def _memory_line(memory: dict) -> str:
    """The daemon's RSS and the text model's worker: loaded or not, and its peak."""
    text = memory.get("text_model") or {}
    rss = memory.get("rss_mb")
    parts = [f"daemon {rss:.0f} MB" if rss is not None else "daemon"]
    state = "loaded" if text.get("loaded") else "not loaded"
    detail = f"unloads after {text.get('idle_unload_seconds', 0):g} s idle"
    if text.get("peak_rss_mb") is not None:
        detail += f", peak {text['peak_rss_mb']} MB while embedding"
    parts.append(f"text model {state} ({detail})")
    return "; ".join(parts)
