"""CSV imports of labels and corrections, validated row by row before anything is written.

Accepted headers (case-insensitive, any column order, extra columns ignored):

- an item column: ``track_id`` / ``item_id`` / ``sample_id`` / ``id`` (library item id) or
  ``path`` (any known file location of the item);
- a label column: ``correct_bucket`` / ``bucket`` (task bucket), ``sample_type`` / ``class``
  (task sample_type), ``genre``, ``mood``, or ``label`` (task from a ``task`` column or the
  command's ``--task``).

Labels are checked exactly as `djml label` checks them (:func:`djml.labelling.check_label`):
a bucket must exist unless new buckets are allowed, so a typo (``peak-tme``) is an error
with a suggestion instead of a new bucket. Every problem is reported with its line number;
if any row is bad, nothing is imported (the caller writes all rows in one transaction only
when ``errors`` is empty).
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from djml.errors import ActionError
from djml.labelling import check_label
from djml.models import KIND_OF_TASK, task_name

if TYPE_CHECKING:
    from djml.config import Config

ID_COLUMNS = ("track_id", "item_id", "sample_id", "id")
LABEL_COLUMNS = {"correct_bucket": "bucket", "bucket": "bucket", "sample_type": "sample_type",
                 "class": "sample_type", "genre": "genre", "mood": "mood", "label": None}
MAX_ERRORS = 50


@dataclass
class Parsed:
    rows: list[tuple[int, str, str]] = field(default_factory=list)   # (item_id, task, label)
    errors: list[str] = field(default_factory=list)


def _resolve_path(conn: sqlite3.Connection, text: str) -> int | None:
    candidates = [text]
    p = Path(text).expanduser()
    candidates += [str(p.absolute())]
    try:
        candidates.append(str(p.resolve()))
    except OSError:
        pass
    for c in candidates:
        row = conn.execute("SELECT item_id FROM locations WHERE path = ? AND item_id IS NOT NULL", (c,)).fetchone()
        if row:
            return row[0]
    return None


def parse_csv(conn: sqlite3.Connection, path: Path, default_task: str | None = None, *,
              config: "Config", new_buckets: bool = False) -> Parsed:
    """Read and validate a label CSV against the library (see module docstring)."""
    text, error = read_csv_text(path)
    if error is not None:
        out = Parsed()
        out.errors.append(error)
        return out
    return parse_csv_text(conn, text, str(path), default_task, config=config, new_buckets=new_buckets)


def read_csv_text(path: Path) -> tuple[str, str | None]:
    """(the file's text, None) or ("", why it cannot be read). The CLI reads the file and
    sends the text, so the daemon never opens a file the user named."""
    try:
        return Path(path).read_text(encoding="utf-8-sig"), None
    except UnicodeDecodeError:
        return "", f"{path}: not UTF-8 text"
    except OSError as exc:
        return "", f"{path}: cannot read ({exc.strerror or exc})"


def parse_csv_text(conn: sqlite3.Connection, text: str, path: str, default_task: str | None = None, *,
                   config: "Config", new_buckets: bool = False) -> Parsed:
    """Validate a label CSV's text (``path`` names it in the messages)."""
    out = Parsed()
    text = text.removeprefix("\ufeff")
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        out.errors.append(f"{path}: empty file (expected a header such as track_id,correct_bucket)")
        return out
    cols = {h.strip().lower(): i for i, h in enumerate(header)}
    id_col = next((cols[c] for c in ID_COLUMNS if c in cols), None)
    path_col = cols.get("path")
    label_name = next((c for c in LABEL_COLUMNS if c in cols), None)
    if (id_col is None and path_col is None) or label_name is None:
        out.errors.append(
            f"{path}: line 1: header {','.join(header)!r} needs an item column ({'/'.join(ID_COLUMNS)} or path)"
            f" and a label column ({'/'.join(LABEL_COLUMNS)})")
        return out
    task_col = cols.get("task")
    fixed_task = LABEL_COLUMNS[label_name] or default_task
    kinds = dict(conn.execute("SELECT id, kind FROM items").fetchall())
    seen: dict[tuple[int, str], tuple[int, str]] = {}
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        error = _row(conn, config, new_buckets, record, line, id_col, path_col, cols[label_name], task_col,
                     fixed_task, kinds, seen, out)
        if error:
            out.errors.append(f"line {line}: {error}")
            if len(out.errors) >= MAX_ERRORS:
                out.errors.append(f"stopped after {MAX_ERRORS} errors")
                break
    if not out.rows and not out.errors:
        out.errors.append(f"{path}: no data rows")
    return out


def _cell(record: list[str], col: int | None) -> str:
    return record[col].strip() if col is not None and col < len(record) else ""


def _row(conn, config, new_buckets, record, line, id_col, path_col, label_col, task_col, fixed_task, kinds, seen,
         out) -> str | None:
    ref, file_ref = _cell(record, id_col), _cell(record, path_col)
    if ref:
        if not ref.isdigit():
            return f"item id must be a whole number, got {ref!r}"
        item_id = int(ref)
        if item_id not in kinds:
            return f"no item with id {item_id} in the library"
    elif file_ref:
        item_id = _resolve_path(conn, file_ref)
        if item_id is None:
            return f"no library item at {file_ref!r} (scan it first)"
    else:
        return "no item id or path"
    task_text = _cell(record, task_col) or fixed_task
    if not task_text:
        return "no task: add a task column or pass --task"
    try:
        task = task_name(task_text)
    except ValueError as exc:
        return str(exc)
    label = _cell(record, label_col)
    if not label:
        return "empty label"
    try:
        label = check_label(conn, config, task, label, create=new_buckets)
    except ActionError as exc:
        return exc.message.replace("or --new-bucket", "or --new-buckets")
    if kinds[item_id] != KIND_OF_TASK[task]:
        return f"item {item_id} is a {kinds[item_id]}; {task} labels are for {KIND_OF_TASK[task]}s"
    previous = seen.get((item_id, task))
    if previous is not None:
        if previous[1] != label:
            return f"item {item_id} already labelled {previous[1]!r} on line {previous[0]}"
        return None
    seen[(item_id, task)] = (line, label)
    out.rows.append((item_id, task, label))
    return None
