"""Short names for model versions: "bucket v7" is the task's seventh version, oldest first.

A version id (``bucket-20261201T101500000000-1a2b3c4d``) is exact but unreadable in a
sentence; the ordinal is what a status line and the dashboard say.
"""

from __future__ import annotations

import sqlite3


def ordinals(conn: sqlite3.Connection, task: str) -> dict[str, int]:
    rows = conn.execute("SELECT version FROM models WHERE task = ? ORDER BY created_at, version", (task,))
    return {r[0]: n for n, r in enumerate(rows, start=1)}


def short_name(conn: sqlite3.Connection, task: str, version: str) -> str:
    number = ordinals(conn, task).get(version)
    return f"{task} v{number}" if number else version
