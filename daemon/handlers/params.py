"""Request parameters: the checks the protocol's type table cannot express, and their
short form for the log."""

from __future__ import annotations

from typing import Any

from djml import protocol as p


def task(text: str) -> str:
    """Normalise a task name ("samples" → "sample_type"), or an invalid_params error."""
    from djml.models import task_name

    try:
        return task_name(text)
    except ValueError as exc:
        raise p.ProtocolError(p.INVALID_PARAMS, str(exc)) from None


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def brief(params: dict[str, Any]) -> str:
    """A request's parameters for the log: short values as they are, long ones by size."""
    def short(value: Any) -> Any:
        if isinstance(value, str) and (len(value) > 80 or "\n" in value):
            return f"<{len(value)} characters>"
        if isinstance(value, (list, dict)) and len(str(value)) > 120:
            return f"<{len(value)} entries>"
        return value
    return " ".join(f"{k}={short(v)!r}" for k, v in params.items() if k != "progress")
