"""A process that must not write the library: every SQLite connection it opens to a
``library.db`` gets an authorizer that refuses (and records) any statement that changes
the database. Used as ``python tests/write_guard.py TRACE ARGS...``: runs `djml ARGS...`
guarded, and appends one line per attempted write to TRACE.

Why an authorizer: it sees every statement whatever opened the connection (djml.db,
Library, a stray sqlite3.connect), and refusing makes the attempt visible as a failed
command as well as in the trace. Read-only connections (``mode=ro``) are left alone:
SQLite itself refuses their writes.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

WRITES = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_CREATE_TABLE,
          sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_ALTER_TABLE,
          sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_DROP_INDEX}
_connect = sqlite3.connect


def install(trace: Path, command: str) -> None:
    def connect(database, *args, **kwargs):
        conn = _connect(database, *args, **kwargs)
        if "library.db" in str(database) and "mode=ro" not in str(database):   # read-only: SQLite refuses writes
            def authorizer(action, arg1, arg2, schema, source):
                if action in WRITES and schema != "temp":
                    with open(trace, "a", encoding="utf-8") as f:
                        f.write(f"djml {command}: action {action} on {arg1}\n")
                    return sqlite3.SQLITE_DENY
                return sqlite3.SQLITE_OK
            conn.set_authorizer(authorizer)
        return conn

    sqlite3.connect = connect


if __name__ == "__main__":
    install(Path(sys.argv[1]), " ".join(sys.argv[2:]))
    from djml.cli import main

    sys.argv = ["djml", *sys.argv[2:]]
    main()
