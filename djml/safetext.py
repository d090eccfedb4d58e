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
  of raising, and escape every control character a terminal would act on (an OSC 52
  clipboard write, a title change) except the plain colour and cursor sequences rich
  draws with: a last line of defence for output that did not go through ``display``.

Standard library only: every CLI one-shot imports this.
"""

from __future__ import annotations

import codecs
import json
import re
import sys

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing: CLI one-shots import this
if TYPE_CHECKING:
    from typing import Any

_ERRORS = "djml-escape"
# C0 and C1 controls and DEL, plus the lone surrogates of undecodable bytes.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")
_C1 = re.compile("[\x7f-\x9f]")
# On an output stream: every control character but tab, newline and carriage return,
# unless it starts one of the CSI sequences rich draws with (colour, cursor moves, erase,
# cursor show/hide). OSC (ESC ]), DCS, APC, bare ESC and BEL never pass.
_TERMINAL_UNSAFE = re.compile("\x1b\\[[0-9;?]*[mABCDGHJKhl]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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
    """JSON for a UTF-8 stream: readable Unicode where possible, \\u escapes where needed.

    json escapes C0 controls itself; DEL and the C1 controls (U+0080–U+009F, which some
    terminals obey as ESC sequences) it leaves raw, so they become ``\\u009b`` here: the
    same JSON value, nothing a terminal acts on."""
    text = _READABLE.encode(value) if not kwargs else json.dumps(value, ensure_ascii=False, default=str, **kwargs)
    if text.isascii():     # most rows of a listing: nothing to check beyond DEL
        return text if "\x7f" not in text else _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, default=str, **kwargs)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# one encoder for every row (json.dumps with arguments builds a new one per call)
_READABLE = json.JSONEncoder(ensure_ascii=False, default=str)


def _stream_errors(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(map(_escape_char, exc.object[exc.start:exc.end])), exc.end


codecs.register_error(_ERRORS, _stream_errors)


def terminal_safe(text: str) -> str:
    """``text`` with every control sequence a terminal would act on escaped, except the
    plain colour/cursor CSI sequences of djml's own (rich) drawing."""
    return _TERMINAL_UNSAFE.sub(lambda m: m.group() if len(m.group()) > 1 else _escape_char(m.group()), text)


class TerminalSafeStream:
    """A text stream that passes everything written through :func:`terminal_safe`."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: Any) -> int:
        if isinstance(text, str):
            text = terminal_safe(text)
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:     # encoding, errors, isatty, fileno, flush …
        return getattr(self._stream, name)


def escape_streams() -> None:
    """Make stdout and stderr escape what they cannot encode instead of raising, and
    escape terminal control sequences (see :func:`terminal_safe`)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or isinstance(stream, TerminalSafeStream):
            continue
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=_ERRORS)
            except (ValueError, OSError):  # a closed or detached stream: nothing to protect
                continue
        setattr(sys, name, TerminalSafeStream(stream))
