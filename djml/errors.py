"""Errors every command may end with (exit code 2), importable without the modules that
raise them: the CLI catches these on every run, and `djml.db` pulls in sqlite3."""


class DatabaseError(Exception):
    """The library cannot be opened or upgraded (the message says why and where)."""
