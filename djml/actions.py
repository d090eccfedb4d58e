"""Every everyday change a user asks for, in one table: protocol method → implementation.

One code path per action: the CLI runs the same function through the daemon when one runs
(``djml.client`` → ``djml.protocol`` → the daemon's writer thread) and directly on the
library when none does; the TUI always goes through the daemon. So `djml label`, the
TUI's label keys and a CSV import cannot disagree on what a valid label is, and a bucket
created in one place exists in all of them.

Each entry says whether it writes (the daemon runs writers on its single writer thread,
readers on its reader connection). Functions take ``(library_or_conn, config, **params)``
with the parameters of the protocol method of the same name (:data:`djml.protocol.METHODS`)
and raise :class:`djml.errors.ActionError` for requests that cannot be done as asked.
Results are plain JSON data, so the CLI prints the same thing whoever did the work.

This is the core's part of the table (labels, buckets, folders, tags); the actions that
need the learning side (train, models, CSV and DJ-software imports) are added by
:mod:`djml.models.actions`, which holds the whole table the CLI and the daemon use — the
core never imports :mod:`djml.models`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from djml import buckets, folders, labelling, tagging
from djml.errors import ActionError

if TYPE_CHECKING:
    from djml.config import Config


Progress = Callable[[dict[str, Any]], None]   # {stage, done?, total?}: what a long action is doing


@dataclass(frozen=True)
class Action:
    run: Callable[..., Any]
    writes: bool           # needs the library writer (else a read-only connection)
    library: bool = True   # False: works on the config only (folders)
    progress: bool = False  # takes ``progress=``: reports stages (the CLI shows them, the daemon sends them)
    long: bool = False     # minutes (training): the daemon runs it beside its writer, on its own connection


def _ref(ref: str | int | None, item_id: int | None) -> str | int:
    if ref is None and item_id is None:
        raise ActionError("invalid_params", "give the item: ref (id, path or words) or item_id")
    return ref if ref is not None else item_id


ACTIONS: dict[str, Action] = {
    "label.set": Action(lambda lib, config, label, ref=None, item_id=None, task=None, create=False:
                        labelling.set_label(lib, config, _ref(ref, item_id), label, task, create=bool(create)),
                        writes=True),
    "label.undo": Action(lambda lib, config, ref=None, item_id=None, task=None:
                         labelling.undo_label(lib, config, _ref(ref, item_id), task), writes=True),
    "buckets.list": Action(lambda conn, config: buckets.summary(conn, config), writes=False),
    "buckets.create": Action(lambda lib, config, name: buckets.create(lib, config, name), writes=True),
    "buckets.rename": Action(lambda lib, config, old, new: buckets.rename(lib, config, old, new), writes=True),
    "buckets.delete": Action(lambda lib, config, name, force=False:
                             buckets.delete(lib, config, name, force=bool(force)), writes=True),
    "folders.list": Action(lambda config: folders.listing(config), writes=False, library=False),
    "folders.add": Action(lambda config, path, kind="library": folders.add(config, path, kind),
                          writes=True, library=False),
    "folders.remove": Action(lambda config, path: folders.remove(config, path), writes=True, library=False),
    "labels.choices": Action(lambda conn, config, task, limit=9: labelling.choices(conn, task, limit), writes=False),
    "labels.count": Action(lambda conn, config, since, source="user": labelling.count_since(conn, since, source),
                           writes=False),
    "tags.write": Action(lambda lib, config, filters=None, dry_run=False, verify=True, progress=None:
                         tagging.write(lib, config, filters or {}, dry_run=bool(dry_run),
                                       verify=verify is not False, progress=progress),
                         writes=True, progress=True),
    "tags.undo": Action(lambda lib, config, batch=None, force=False, progress=None:
                        tagging.undo(lib, config, batch, force=bool(force), progress=progress),
                        writes=True, progress=True),
}


def run_local(config: "Config", method: str, *, table: dict[str, Action] | None = None,
              progress: Progress | None = None, **params: Any) -> Any:
    """Run an action directly on the library (no daemon runs: this process is the writer)."""
    from djml import db
    from djml.library import Library

    action = (table or ACTIONS)[method]
    if action.progress:
        params["progress"] = progress
    if not action.library:
        return action.run(config, **params)
    if action.writes:
        library = Library(db.connect(config.db_path))
        try:
            return action.run(library, config, **params)
        finally:
            library.conn.close()
    conn = db.connect_readonly(config.db_path, create=config.config_path.exists())
    try:
        return action.run(conn, config, **params)
    finally:
        conn.close()
