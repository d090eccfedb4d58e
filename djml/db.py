"""Opening the library database and keeping its schema current.

Migrations are plain numbered SQL files in ``djml.migrations`` (the repository's
``migrations/`` folder). Each is applied in its own transaction and recorded in
``schema_migrations``; opening an older database upgrades it. Readers (CLI one-shots while
the daemon runs) open read-only so they can never take the write lock.

Only :mod:`sqlite3` is used here, not sqlite-utils: it imports numpy (~200 ms) and the CLI
one-shots must stay fast.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from djml import private
from djml.errors import DatabaseError

BUSY_TIMEOUT_MS = 10_000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def now() -> str:
    """UTC timestamp used for every *_at column (sortable text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _numbered() -> list[tuple[int, Path]]:
    """The migration files as (number, path), in order, checked for gaps.

    Listed from the package's folder (``djml.migrations`` is a plain directory in the
    wheel and in the repository, found by its import spec as ``importlib.resources``
    finds it), not through ``importlib.resources``: importing that pulls in tempfile,
    shutil, zipfile and the compression modules, ~15 ms of every CLI one-shot that only
    compares its library's version with :func:`schema_version`."""
    spec = importlib.util.find_spec("djml.migrations")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError("the djml.migrations package is missing (a broken installation)")
    found = []
    for folder in spec.submodule_search_locations:
        for entry in os.scandir(folder):
            if m := _MIGRATION_NAME.match(entry.name):
                found.append((int(m.group(1)), Path(entry.path)))
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise DatabaseError(f"migrations are not numbered 1..N without gaps: {numbers}")
    return found


def migrations() -> list[tuple[int, str, str]]:
    """All migrations as (number, name, sql), in order."""
    return [(n, path.name, path.read_text(encoding="utf-8")) for n, path in _numbered()]


def schema_version() -> int:
    return len(_numbered())


# -- text that SQLite cannot hold as UTF-8 ---------------------------------------------------
# File names are bytes. Python hands undecodable bytes to us as lone surrogates
# (surrogateescape: byte 0xff -> U+DCFF), which sqlite3 refuses to bind, and which a disk
# copied from old Windows, Samba or FAT easily contains. Every connection therefore maps
# those 128 surrogates onto the last 128 code points of plane 16 (private use, U+10FF80..)
# on the way in and back on the way out; a real character from that range (or the marker
# U+10FF7F itself) is written as marker + character, so the mapping is lossless for any
# text. Stored text stays valid UTF-8, so equality, prefixes, ORDER BY and FTS work.
_MARK = "\U0010ff7f"
_SURROGATE_BASE, _PRIVATE_BASE = 0xDC80, 0x10FF80
_TO_DB = re.compile("[\udc80-\udcff\U0010ff7f-\U0010ffff]")
_FROM_DB = re.compile("\U0010ff7f(.)|([\U0010ff80-\U0010ffff])", re.DOTALL)


def _encode_char(m: re.Match) -> str:
    code = ord(m.group())
    if code <= 0xDCFF:
        return chr(_PRIVATE_BASE + code - _SURROGATE_BASE)
    return _MARK + m.group()


def _decode_char(m: re.Match) -> str:
    if m.group(1) is not None:
        return m.group(1)
    return chr(_SURROGATE_BASE + ord(m.group(2)) - _PRIVATE_BASE)


def to_db_text(text: str) -> str:
    """Text as stored (see above); identical for all valid Unicode outside plane 16's end."""
    return text if text.isascii() else _TO_DB.sub(_encode_char, text)


def from_db_text(text: str) -> str:
    return text if text.isascii() else _FROM_DB.sub(_decode_char, text)


def _needs_encoding(value: object) -> bool:
    return type(value) is str and not value.isascii() and _TO_DB.search(value) is not None


def _encode_params(params):  # noqa: ANN001, ANN202 - a sequence or a mapping, as sqlite3 takes
    if isinstance(params, dict):
        if any(_needs_encoding(v) for v in params.values()):
            return {k: to_db_text(v) if type(v) is str else v for k, v in params.items()}
        return params
    if any(_needs_encoding(v) for v in params):
        return tuple(to_db_text(v) if type(v) is str else v for v in params)
    return params


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters=(), /):  # noqa: ANN001, ANN201
        return super().execute(sql, _encode_params(parameters))

    def executemany(self, sql: str, seq_of_parameters: Iterable, /):  # noqa: ANN201
        return super().executemany(sql, map(_encode_params, seq_of_parameters))


class _Connection(sqlite3.Connection):
    """sqlite3.Connection that stores any Python text losslessly (see _MARK above)."""

    def cursor(self, factory=_Cursor):  # noqa: ANN001, ANN201
        return super().cursor(factory)

    def execute(self, sql: str, parameters=(), /):  # noqa: ANN001, ANN201
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable, /):  # noqa: ANN201
        return self.cursor().executemany(sql, seq_of_parameters)


def _row(cursor: sqlite3.Cursor, row: tuple) -> sqlite3.Row:
    """sqlite3.Row, with stored text decoded (a no-op for ASCII and ordinary Unicode)."""
    for value in row:
        if type(value) is str and not value.isascii() and _MARK <= max(value):
            row = tuple(from_db_text(v) if type(v) is str else v for v in row)
            break
    return sqlite3.Row(cursor, row)


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = _row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")


def connect(path: Path, *, upgrade: bool = True, upto: int | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the library for writing, in WAL mode, migrated to the latest
    schema (or only up to migration ``upto``, which the upgrade test uses)."""
    path = Path(path)
    try:
        private.library_files(path, own_folder=_is_default_data_dir(path.parent))
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               factory=_Connection)
        _configure(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if upgrade:
            migrate(conn, upto=upto)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot open library {path}: {explain(exc, path)}") from None
    except OSError as exc:
        raise DatabaseError(f"cannot create library folder {path.parent}: {exc.strerror}") from None
    return conn


def _is_default_data_dir(folder: Path) -> bool:
    """djml's own data folder by name, which djml may make private even if it exists
    (see djml.private); a folder the user configured keeps its mode."""
    from djml.config import default_data_dir

    return os.path.abspath(folder) == os.path.abspath(default_data_dir())


def connect_readonly(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open an existing library read-only (never blocks the daemon's writes, never writes).
    With ``create`` a missing library is first created empty: after `djml init` an empty
    library is a normal state to list or report on, not an error."""
    path = Path(path)
    if create and not path.exists():
        connect(path).close()
    if not path.exists():
        raise DatabaseError(
            f"no library at {path} yet — run `djml init` and `djml scan` (or start the daemon)"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                               factory=_Connection)
        _configure(conn)
        current = applied_version(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot read library {path}: {explain(exc, path)}") from None
    if current < schema_version():
        conn.close()
        # An old file is upgraded once by a writer, then read normally.
        connect(path).close()
        return connect_readonly(path)
    return conn


def recovery_hint(path: Path) -> str:
    """What to do about a damaged library file (the music files are never touched)."""
    return (f"Your music files are untouched. To recover: stop the daemon (`djml daemon stop`), keep a copy "
            f"(`cp {path} {path}.damaged`), then either salvage it with the sqlite3 tool "
            f"(`sqlite3 {path}.damaged .recover | sqlite3 {path}.recovered` and move that into place), "
            f"or move {path.name} away and run `djml scan` to rebuild it (labels and history are lost then).")


def check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` (seconds for a large library: the daemon runs it once at
    start); a damaged file raises :class:`DatabaseError` saying what and how to recover."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems != ["ok"]:
        raise DatabaseError(f"the library {path} is damaged ({'; '.join(problems)[:300]}). {recovery_hint(path)}")


def explain(exc: sqlite3.Error, path: Path) -> str:
    """One line for an SQLite error that ended a command: a full disk, a damaged file, or
    the error itself."""
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered:
        return (f"disk full: the library {path} could not be written. Everything stored before this is kept "
                "(each file is stored in its own transaction); free some space and run the command again "
                "(files already stored are skipped).")
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return f"the library {path} is damaged ({text}). {recovery_hint(path)}"
    return f"the library {path} could not be used: {text}"


def applied_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return row[0] or 0


def migrate(conn: sqlite3.Connection, *, upto: int | None = None) -> int:
    """Apply pending migrations, each atomically. Returns the resulting version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    current = applied_version(conn)
    available = migrations()
    if current > len(available):
        raise DatabaseError(
            f"library schema {current} is newer than this djml ({len(available)}); upgrade djml"
        )
    for number, name, sql in available:
        if number <= current or (upto is not None and number > upto):
            continue
        # executescript() commits first; BEGIN inside the script keeps each file atomic.
        try:
            conn.executescript(
                "BEGIN IMMEDIATE;\n"
                + sql
                + f"\nINSERT INTO schema_migrations (version, name, applied_at)"
                f" VALUES ({number}, '{name}', '{now()}');\nCOMMIT;"
            )
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise DatabaseError(f"migration {name} failed: {exc}") from None
        current = number
    return current
