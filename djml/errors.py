"""Errors every command may end with (exit code 2), importable without the modules that
raise them: the CLI catches these on every run, and `djml.db` pulls in sqlite3."""


class DatabaseError(Exception):
    """The library cannot be opened or upgraded (the message says why and where)."""


class ActionError(Exception):
    """A user's request that cannot be done as asked (unknown bucket, ambiguous name …).

    ``code`` is a :mod:`djml.protocol` error code, so the daemon answers it as a client
    error and the CLI prints ``message`` as one line, whichever of them ran the action."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
