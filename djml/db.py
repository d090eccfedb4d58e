"""Opening the library database and keeping its schema current.

Migrations are plain numbered SQL files in ``djml.migrations`` (the repository's
``migrations/`` folder). Each is applied in its own transaction and recorded in
``schema_migrations``; opening an older database upgrades it. Readers (CLI one-shots while
the daemon runs) open read-only so they can never take the write lock.

Only :mod:`sqlite3` is used here, not sqlite-utils: it imports numpy (~200 ms) and the CLI
one-shots must stay fast.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from djml.errors import DatabaseError

BUSY_TIMEOUT_MS = 10_000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def now() -> str:
    """UTC timestamp used for every *_at column (sortable text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def migrations() -> list[tuple[int, str, str]]:
    """All migrations as (number, name, sql), in order."""
    found = []
    for entry in resources.files("djml.migrations").iterdir():
        if m := _MIGRATION_NAME.match(entry.name):
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise DatabaseError(f"migrations are not numbered 1..N without gaps: {numbers}")
    return found


def schema_version() -> int:
    return len(migrations())


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")


def connect(path: Path, *, upgrade: bool = True, upto: int | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the library for writing, in WAL mode, migrated to the latest
    schema (or only up to migration ``upto``, which the upgrade test uses)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        _configure(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if upgrade:
            migrate(conn, upto=upto)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot open library {path}: {exc}") from None
    except OSError as exc:
        raise DatabaseError(f"cannot create library folder {path.parent}: {exc.strerror}") from None
    return conn


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
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        _configure(conn)
        current = applied_version(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot read library {path}: {exc}") from None
    if current < schema_version():
        conn.close()
        # An old file is upgraded once by a writer, then read normally.
        connect(path).close()
        return connect_readonly(path)
    return conn


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
