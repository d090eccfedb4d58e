"""`djml ls`, `djml recommend` and `djml analyze` answered by a running daemon before click
is imported.

Why: through the daemon these commands do almost nothing themselves, and the start-up was
the cost (importing click alone is about twice `python -c pass`). So :func:`run` reads the
command line with a small strict parser, asks the daemon, and writes its answer; click is
never loaded. Anything it does not take exactly as click would — an unknown or repeated
short form, ``--help``, a value click would refuse, no daemon, an older daemon, a table for
a terminal, an answer with nothing to print — it leaves to the click command (returns
None) before writing a byte, so errors, help and every other case read as they always did.

`djml analyze` gains most: its own process would import the analysis stack (numpy and
the decoders, most of a one-shot's CPU) where the daemon's workers hold it already. It
opens each file itself and hands the daemon the open descriptor (protocol ``analyze``),
so the daemon reads only what this process could.

Standard library and djml core only (djml.locate, djml.client, djml.render).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing: CLI one-shots import this
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    # option -> (parameter name, converter or None for a flag); a converter returns None for a
    # value click would refuse (the click command then says why)
    Spec = dict[str, tuple[str, Callable[[str], Any] | None]]

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
KINDS = ("track", "sample")
KEY_MODES = ("strict", "relaxed", "any")
ENERGY_DIRECTIONS = ("up", "down", "steady")


def _choice(*values: str) -> Callable[[str], str | None]:
    return lambda text: text if text in values else None


def _int_in(low: int, high: int | None = None) -> Callable[[str], int | None]:
    def convert(text: str) -> int | None:
        try:
            value = int(text)
        except ValueError:
            return None
        return value if value >= low and (high is None or value <= high) else None
    return convert


def _tolerance(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value <= 50 else None


def _text(text: str) -> str:
    return text


LS: Spec = {
    "--kind": ("kind", _choice(*KINDS)), "--bpm": ("bpm", _text), "--energy": ("energy", _text),
    "--key": ("key", _text), "--genre": ("genre", _text), "--label": ("label", _text),
    "--search": ("search", _text), "-s": ("search", _text), "--missing": ("missing", None),
    "--sort": ("sort", _text), "--desc": ("descending", None), "--limit": ("limit", _int_in(1)),
    "-n": ("limit", _int_in(1)), "--json": ("json", None),
}
ANALYZE: Spec = {"--kind": ("kind", _choice("track", "sample", "auto")), "--json": ("json", None)}
ANALYZE_BATCH = 16       # files per request: a row block is printed as soon as its batch is done
ANALYZE_TIMEOUT = 900.0  # seconds one batch may take on a busy daemon (16 long tracks behind its queue)
RECOMMEND: Spec = {
    "-n": ("n", _int_in(1, 200)), "--json": ("json", None), "--bpm-tolerance": ("bpm_tolerance", _tolerance),
    "--key": ("key_mode", _choice(*KEY_MODES)), "--energy": ("energy", _choice(*ENERGY_DIRECTIONS)),
}


def parse(spec: Spec, args: list[str], positionals: int) -> tuple[dict[str, Any], list[str]] | None:
    """Options and exactly ``positionals`` arguments (-1: one or more), or None for anything else."""
    values: dict[str, Any] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if not arg.startswith("-") or arg == "-":
            rest.append(arg)
        elif name in spec:
            param, convert = spec[name]
            if convert is None:
                if eq:
                    return None
                values[param] = True
            else:
                if not eq:
                    i += 1
                    if i == len(args):
                        return None
                    inline = args[i]
                value = convert(inline)
                if value is None:
                    return None
                values[param] = value
        else:
            return None    # --help, --, -n5, an option of the other path (--failed, --accept …)
        i += 1
    return (values, rest) if len(rest) == positionals or positionals < 0 and rest else None


def run(argv: list[str]) -> int | None:
    """The exit code when the daemon answered the command; None to let click run it."""
    config_path: str | None = os.environ.get("DJML_CONFIG") or None
    if argv[:1] == ["--config"] and len(argv) > 1:
        config_path, argv = argv[1], argv[2:]
    elif argv[:1] and argv[0].startswith("--config="):
        config_path, argv = argv[0].partition("=")[2], argv[1:]
    command = {"ls": (_ls, LS, 0), "recommend": (_recommend, RECOMMEND, 1),
               "analyze": (_analyze, ANALYZE, -1)}.get(argv[0] if argv else "")
    if command is None or (config_path is not None and (not config_path or os.path.isdir(config_path))):
        return None
    serve, spec, positionals = command
    parsed = parse(spec, argv[1:], positionals)
    if parsed is None:
        return None
    client = _connect(config_path)
    if client is None:
        return None
    try:
        with client:
            return serve(client, *parsed)
    except BrokenPipeError:   # `djml ls | head`: not an error
        _quiet_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _connect(config_path: str | None) -> Any:
    """A client of the daemon for this config, or None. Only the socket's place is read
    from the config (djml.locate): the daemon checked the whole file when it started."""
    from djml.client import Client, DaemonNotRunning, RemoteError
    from djml.locate import socket_path

    socket = socket_path(config_path)
    if socket is None:
        return None   # the click command reports what is wrong with the config
    try:
        return Client(socket, timeout=30.0)
    except (DaemonNotRunning, RemoteError, OSError):
        return None


def _ls(client: Any, options: dict[str, Any], _: list[str]) -> int | None:
    """Rows as the daemon rendered them, written as they come: JSON lines, or the
    tab-separated lines `djml ls` writes into a pipe (a terminal's table is rich's)."""
    from djml.client import RemoteError

    as_json = options.pop("json", False)
    out = sys.stdout
    if "query.lines" not in client.streams or not as_json and out.isatty():
        return None
    # the daemon's lines are escaped already (djml.safetext): into a pipe they go as bytes
    write: Callable[[str], Any] = out.write if out.isatty() else _binary_writer(out)
    written = False

    def on_part(text: str) -> None:
        nonlocal written
        if text:
            written = True
            write(text)

    try:
        result = client.call_streamed("query.lines", on_part, format="json" if as_json else "plain", **options)
    except (RemoteError, ConnectionError, TimeoutError) as exc:
        if not written:
            return None   # a filter the daemon refused: the click command explains it
        out.flush()
        message = exc.message if isinstance(exc, RemoteError) else str(exc)
        print(f"djml: {message}", file=sys.stderr)
        return EXIT_USAGE
    out.flush()
    if not as_json:
        if not result["count"]:
            return None   # "No items match." / "The library is empty": the click command's words
        print(f"{result['count']} item(s)", file=sys.stderr)
    return EXIT_OK


def _recommend(client: Any, options: dict[str, Any], refs: list[str]) -> int:
    from djml.client import RemoteError, wire_ref
    from djml.recommend_view import echo, print_answer, print_json
    from djml.render import warn_ambiguous
    from djml.safetext import display

    as_json = options.pop("json", False)
    wanted = {"n": 10, "bpm_tolerance": 6.0, "key_mode": "relaxed", "energy": None, **options}
    try:
        answer = client.call("recommend", ref=wire_ref(refs[0]), options=wanted)
    except RemoteError as exc:
        echo(f"djml: {display(exc.message)}", err=True)
        return EXIT_USAGE
    warn_ambiguous(answer["seed"].get("resolved") or {}, refs[0], "recommend")
    (print_json if as_json else print_answer)(answer)
    sys.stdout.flush()
    return EXIT_OK


def _analyze(client: Any, options: dict[str, Any], names: list[str]) -> int | None:
    """Each file opened here, a batch at a time, and analysed by the daemon's workers
    through the open descriptors; rows printed as `djml analyze` prints them. Files this
    process cannot read (missing, unreadable) are left to the click command, which says
    why in its words, as is a daemon that cannot serve ``analyze`` (older, on a cluster)."""
    from pathlib import Path

    from djml.client import RemoteError

    paths = [str(Path(name).expanduser().absolute()) for name in names]
    if (client.server.get("protocol", 0) < 5 or not sys.platform.startswith("linux")
            or not all(os.access(path, os.R_OK) for path in paths)):
        return None
    kind = {"kind": options["kind"]} if options.get("kind") in KINDS else {}
    client.set_timeout(ANALYZE_TIMEOUT)
    print_rows = _json_writer() if options.get("json") else _table_writer()
    failed = False
    for first in range(0, len(paths), ANALYZE_BATCH):
        batch = paths[first:first + ANALYZE_BATCH]
        opened = [_open(path) for path in batch]
        try:
            wanted = [{"fd": fd, "suffix": _suffix(path)} for path, fd in zip(batch, opened) if isinstance(fd, int)]
            rows = iter(client.call("analyze", files=wanted, **kind)["rows"] if wanted else ())
        except (RemoteError, ConnectionError, TimeoutError) as exc:
            if not first:
                return None   # nothing printed yet: the click command analyses here
            print(f"djml: the daemon stopped answering: {exc}", file=sys.stderr)
            return EXIT_PARTIAL
        finally:
            for fd in opened:
                if isinstance(fd, int):
                    os.close(fd)
        answered = [{**next(rows), "path": path} if isinstance(fd, int) else {"path": path, "error": fd}
                    for path, fd in zip(batch, opened)]
        failed = failed or any("error" in row for row in answered)
        print_rows(answered)
    sys.stdout.flush()
    return EXIT_PARTIAL if failed else EXIT_OK


def _open(path: str) -> int | str:
    """A read-only descriptor (non-blocking: a FIFO must not hang us), or why there is none
    (a file removed since the check)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot open: {exc.strerror or exc}"


def _suffix(path: str) -> str:
    """The extension decoders may go by (what djml.confine keeps for its aliases)."""
    dot = path.rfind(".")
    suffix = path[dot:] if dot > path.rfind("/") else ""
    return suffix if 2 <= len(suffix) <= 9 and suffix[1:].isascii() and suffix[1:].isalnum() else ""


def _json_writer() -> Callable[[list[dict]], None]:
    from djml.render import json_lines

    return json_lines


def _table_writer() -> Callable[[list[dict]], None]:
    from djml.analyze_view import print_table

    return print_table


def _binary_writer(stream: Any) -> Callable[[str], Any]:
    """Write text to the stream's bytes (what a pipe receives) once what is buffered is out."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return stream.write
    stream.flush()
    return lambda text: buffer.write(text.encode("utf-8", "backslashreplace"))


def _quiet_stdout() -> None:
    """After a closed pipe: nothing more is written, and no flush at exit complains."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
