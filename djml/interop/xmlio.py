"""Small XML helpers shared by the rekordbox and Traktor modules.

Writes are atomic (temporary file in the target folder, fsync, ``os.replace``) so a
crash or a full disk never leaves a half-written collection that rekordbox or Traktor
would then refuse or, worse, partially import. Reads turn every parser failure into
:class:`InteropError` with the file name and position.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path


class InteropError(Exception):
    """A file that cannot be exported to or imported from (the message says why)."""


def write_xml(root: ET.Element, out: Path, *, standalone: bool = False) -> None:
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    decl = '<?xml version="1.0" encoding="UTF-8"' + (' standalone="no"' if standalone else "") + " ?>\n"
    atomic_write_text(out, decl + body + "\n")


def atomic_write_text(out: Path, text: str) -> None:
    out = Path(out)
    if out.is_dir():
        raise InteropError(f"{out} is a folder; give a file name")
    if not out.parent.is_dir():
        raise InteropError(f"folder {out.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_xml(path: Path, root_tag: str) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InteropError(f"{path}: not well-formed XML ({exc})") from None
    except OSError as exc:
        raise InteropError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if root.tag != root_tag:
        raise InteropError(f"{path}: expected a <{root_tag}> document, found <{root.tag}>")
    return root


def fnum(value: str | None) -> float | None:
    """A float attribute, or None when absent, empty, unparsable or zero (both programs
    write 0 for "not analysed")."""
    if not value:
        return None
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None
    return number if number > 0 else None
