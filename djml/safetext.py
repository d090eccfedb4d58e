"""Text that came from the file system or a client, made safe to show and to send.

File names are bytes; Python hands undecodable bytes over as lone surrogates (byte 0xff
becomes U+DCFF, "surrogateescape"), which no UTF-8 stream accepts: one such name in a
listing used to end the command with UnicodeEncodeError. Names may also carry control
characters (a terminal escape sequence in a file name is a real attack). So:

- people see :func:`display` text: undecodable bytes as ``\\xff``, control characters as
  ``\\x1b``-style escapes;
- programs get :func:`dumps` JSON: valid, and lossless (a lone surrogate becomes the JSON
  escape ``\\udcff``, which ``json.loads`` turns back into the same Python string);
- :func:`escape_streams` makes stdout/stderr write undecodable bytes as ``\\xff`` instead
  of raising, as a last line of defence for output that did not go through ``display``.

Standard library only: every CLI one-shot imports this.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from typing import Any

_ERRORS = "djml-escape"
# C0 and C1 controls and DEL, plus the lone surrogates of undecodable bytes.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"     # surrogateescape: back to the original byte
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def display(text: str | None) -> str:
    """``text`` for a terminal: undecodable bytes and control characters escaped."""
    if text is None:
        return ""
    return text if text.isprintable() and text.isascii() else _UNSAFE.sub(lambda m: _escape_char(m.group()), text)


def dumps(value: Any, **kwargs: Any) -> str:
    """JSON for a UTF-8 stream: readable Unicode where possible, \\u escapes where needed."""
    text = json.dumps(value, ensure_ascii=False, default=str, **kwargs)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, default=str, **kwargs)
    return text


def _stream_errors(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(map(_escape_char, exc.object[exc.start:exc.end])), exc.end


codecs.register_error(_ERRORS, _stream_errors)


def escape_streams() -> None:
    """Make stdout and stderr escape what they cannot encode instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=_ERRORS)
            except (ValueError, OSError):  # a closed or detached stream: nothing to protect
                pass
