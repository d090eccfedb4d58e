"""The user's crate buckets (warm-up, peak-time, closing, …): one list, wherever it is shown.

Buckets come from two places a user touches: ``buckets`` in config.toml (the ones they
start with, in their order) and the library's ``buckets`` table (every bucket a label
created: in the TUI, `djml label`, a CSV import). :func:`names` is the one answer to "which
buckets exist", used by the TUI's label choices, `djml buckets`, exports and imports, so a
bucket created anywhere exists everywhere. Renaming or deleting changes both places (and
the labels and predictions that use the name) through the one library writer and
:func:`djml.configfile.edit`.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from djml.errors import ActionError
from djml.tasks import clean_label

if TYPE_CHECKING:
    from djml.config import Config
    from djml.library import Library


def names(conn: sqlite3.Connection, config: "Config") -> list[str]:
    """Every bucket: the configured ones in their order, then the library's by creation."""
    known = list(config.buckets)
    for (name,) in conn.execute("SELECT name FROM buckets ORDER BY created_at, name"):
        if name not in known:
            known.append(name)
    return known


def summary(conn: sqlite3.Connection, config: "Config") -> list[dict[str, Any]]:
    """Each bucket with how many tracks you put in it and how many the model guesses."""
    labelled = dict(conn.execute(
        "SELECT label, COUNT(*) FROM labels WHERE id IN (SELECT MAX(id) FROM labels WHERE task = 'bucket'"
        " AND undone_at IS NULL GROUP BY item_id) GROUP BY label").fetchall())
    guessed = dict(conn.execute(
        "SELECT p.label, COUNT(*) FROM predictions p WHERE p.task = 'bucket' AND NOT EXISTS"
        " (SELECT 1 FROM labels l WHERE l.item_id = p.item_id AND l.task = 'bucket' AND l.undone_at IS NULL)"
        " GROUP BY p.label").fetchall())
    in_library = {r[0] for r in conn.execute("SELECT name FROM buckets")}
    return [{"name": n, "labelled": labelled.get(n, 0), "predicted": guessed.get(n, 0),
             "in_config": n in config.buckets, "in_library": n in in_library}
            for n in names(conn, config)]


def check_name(name: str) -> str:
    """A bucket name as stored (see :func:`djml.tasks.clean_label`)."""
    return clean_label(name, "a bucket name")


def require_known(conn: sqlite3.Connection, config: "Config", name: str) -> str:
    """``name`` if it is a bucket, else an error that suggests the closest one (a typo in a
    CSV or on the command line must not quietly become a new bucket)."""
    import difflib

    known = names(conn, config)
    if name in known:
        return name
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ActionError("not_found", f"unknown bucket {name!r}: {hint}buckets are {', '.join(known) or 'none yet'}"
                                   " (create it with `djml buckets create NAME`, or --new-bucket)")


def create(library: "Library", config: "Config", name: str) -> dict[str, Any]:
    name = check_name(name)
    existed = name in names(library.conn, config)
    library.add_bucket(name)
    return {"name": name, "created": not existed}


def rename(library: "Library", config: "Config", old: str, new: str) -> dict[str, Any]:
    """Rename ``old`` to ``new`` everywhere: labels (history included), predictions, the
    library's list and the config (its ``buckets`` and ``playlist_buckets``). Renaming onto
    an existing bucket merges the two (a typo bucket folded into the right one)."""
    from djml import configfile

    new = check_name(new)
    old = require_known(library.conn, config, old)
    if old == new:
        raise ActionError("invalid_params", f"{old!r} is already called that")
    merged = new in names(library.conn, config)
    relabelled = library.rename_bucket(old, new)
    if old in config.buckets or any(v == old for v in config.playlist_buckets.values()):
        def change(settings: dict[str, Any]) -> None:
            order = [new if b == old else b for b in settings.get("buckets", [])]
            settings["buckets"] = list(dict.fromkeys(order))
            if settings.get("playlist_buckets"):
                settings["playlist_buckets"] = {k: new if v == old else v
                                                for k, v in settings["playlist_buckets"].items()}
        configfile.edit(config, change)
    return {"old": old, "new": new, "merged": merged, "labels": relabelled}


def delete(library: "Library", config: "Config", name: str, *, force: bool = False) -> dict[str, Any]:
    """Forget a bucket. One that still holds your labels is refused unless ``force``: then
    those labels are undone (kept in the history, as any undo) and the model's guesses of
    it are dropped until it is retrained."""
    from djml import configfile

    name = require_known(library.conn, config, name)
    held = library.conn.execute(
        "SELECT COUNT(*) FROM labels WHERE id IN (SELECT MAX(id) FROM labels WHERE task = 'bucket'"
        " AND undone_at IS NULL GROUP BY item_id) AND label = ?", (name,)).fetchone()[0]
    if held and not force:
        raise ActionError("invalid_params", f"bucket {name!r} holds {held} of your labels; move them first "
                                            "(djml buckets rename), or delete with --force to undo them")
    mapped = [k for k, v in config.playlist_buckets.items() if v == name]
    if mapped:
        raise ActionError("invalid_params", f"playlists {', '.join(map(repr, mapped))} map to {name!r} in "
                                            f"{config.config_path} (playlist_buckets): change them first")
    undone = library.delete_bucket(name)
    if name in config.buckets:
        configfile.edit(config, lambda s: s.__setitem__("buckets", [b for b in s.get("buckets", []) if b != name]))
    return {"name": name, "labels_undone": undone}
