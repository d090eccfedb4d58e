"""The one error type analysis raises for input it cannot use."""

from __future__ import annotations


class AnalysisError(Exception):
    """Unreadable, corrupt, empty or non-audio input.

    ``str(e)`` is a short human reason ("not an audio file (unknown format)",
    "truncated or corrupt audio: …", "no audio frames", "file vanished") that the
    daemon stores and shows as is, so callers never need to parse library messages.
    """
