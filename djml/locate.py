"""Where djml's files are: the config file, the data folder, the daemon's socket.

The rules live here, apart from :mod:`djml.config`, so that a client that only needs the
socket (:mod:`djml.oneshot`, answering `djml ls` through a running daemon) finds it
without importing what validating a whole config costs (``dataclasses`` alone doubled
that path's imports). :mod:`djml.config` uses the same functions, so both always agree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_KEYS = ("data_dir", "runtime_dir")
# `key = "value"` or `key = 'value'` alone on a line (a comment may follow): a basic string
# without escapes or a literal string, the only forms read without the TOML parser
_SIMPLE = re.compile(r"""[ \t]*(data_dir|runtime_dir)[ \t]*=[ \t]*(?:"([^"\\\n]*)"|'([^'\n]*)')[ \t]*(?:#[^\n]*)?""")


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def default_config_path() -> Path:
    if home := os.environ.get("DJML_HOME"):
        return Path(home) / "config.toml"
    return _env_path("XDG_CONFIG_HOME", Path.home() / ".config") / "djml" / "config.toml"


def default_data_dir() -> Path:
    if home := os.environ.get("DJML_HOME"):
        return Path(home) / "data"
    return _env_path("XDG_DATA_HOME", Path.home() / ".local" / "share") / "djml"


def default_runtime_dir() -> Path | None:
    """A private directory for the socket; None means "use the data dir"."""
    if os.environ.get("DJML_HOME"):
        return None
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "djml" if runtime else None


def resolve(value: str, base: Path) -> Path:
    """Expand ~ and make relative paths relative to the config file, then absolute."""
    p = Path(value).expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def socket_in(data_dir: Path, runtime_dir: Path | None) -> Path:
    """In the data dir, or in ``runtime_dir`` — or, when that is a folder other users
    may enter (e.g. /tmp), in a private ``djml-<uid>`` folder inside it."""
    if runtime_dir is None:
        return data_dir / "djml.sock"
    from djml.private import socket_folder

    return socket_folder(runtime_dir) / "djml.sock"


def simple_dirs(text: str) -> dict[str, str] | None:
    """``data_dir`` and ``runtime_dir`` of a config's TOML text when they can be read
    without the TOML parser (importing it costs a one-shot about a fifth of what it does
    besides starting Python), else None. Read only when every line that names either key
    is one of the simple forms of :data:`_SIMPLE`, before any table, each key once, and
    nothing in the file could spell a key another way or hide a line in a string (escapes,
    multi-line strings); a key named nowhere is not set. Anything else: None, and the
    caller parses the file. Whether the rest is valid TOML is not checked here."""
    if '"""' in text or "'''" in text or "\\u" in text or "\\U" in text:
        return None
    found: dict[str, str] = {}
    in_table = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("["):
            in_table = True
        if not any(key in line for key in _KEYS):
            continue
        match = _SIMPLE.fullmatch(line)
        if match is None or in_table or match[1] in found:
            return None
        found[match[1]] = match[2] if match[2] is not None else match[3]
    return found


def socket_path(config_path: Path | None = None) -> Path | None:
    """The socket a daemon for this config listens on, from the config's ``data_dir`` and
    ``runtime_dir`` alone; None when the file cannot say (unreadable, not TOML, a value
    that is no path): :func:`djml.config.load` then reports it."""
    path = Path(config_path) if config_path else default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if config_path:
            return None
        text = ""
    except (OSError, UnicodeDecodeError):
        return None
    raw = simple_dirs(text)
    if raw is None:
        import tomllib

        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
    dirs = []
    for key in ("data_dir", "runtime_dir"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            return None
        dirs.append(resolve(value, path.parent) if value else None)
    return socket_in(dirs[0] or default_data_dir(), dirs[1] or default_runtime_dir())
