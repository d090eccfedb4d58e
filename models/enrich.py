"""What happens to items right after the writer stored their analysis: predict with the
active models, embed their text (daemon only), and add them to the similarity index.

One function for both `djml scan` and the daemon, so an item gets the same predictions
and index entries whichever path brought it in. Each step is isolated: a broken model or
index must never undo or block the analysis that was just stored, but its failure is
returned (:class:`Enriched.errors`) so the scan summary, its exit code and `djml status`
say so instead of a log line nobody reads.

Derived data is a cache of the analysis, so it is made resumable the simple way:
:func:`lacking` finds every item whose predictions (for the active model versions) or text
vector are missing, whatever interrupted their computation (a ``kill -9`` between storing
an analysis and predicting, or between activating a model and re-predicting), and the
daemon and `djml scan` run :func:`after_store` on those ids at start.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djml.config import Config
    from djml.library import Library

log = logging.getLogger(__name__)


@dataclass
class Enriched:
    """Predictions made, and one line per step that failed (empty: all done)."""

    predictions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def after_store(
    library: "Library", config: "Config", item_ids: list[int], *, embed_text: bool = False
) -> Enriched:
    """Predict, optionally embed text (loading sentence-transformers costs ~10 s, so only
    the long-running daemon does it), then update the index."""
    from djml import index
    from djml.models import service

    done = Enriched()
    if not item_ids:
        return done
    try:
        done.predictions = service.predict_items(library, config, item_ids)
    except Exception as exc:
        log.error("predicting items %s failed", item_ids[:10], exc_info=_bug(exc))
        done.errors.append(f"predicting {len(item_ids)} item(s) failed: {type(exc).__name__}: {exc}")
    if embed_text:
        try:
            from djml.models import text
            from djml.models.features import load_rows

            tracks = [r for r in load_rows(library.conn, item_ids) if r.kind == "track"]
            text.ensure_embeddings(library, tracks)
        except Exception as exc:
            log.error("embedding text of items %s failed", item_ids[:10], exc_info=_bug(exc))
            done.errors.append(f"embedding text of {len(item_ids)} item(s) failed: {type(exc).__name__}: {exc}")
    try:
        index.update_items(library.conn, config, item_ids)
    except Exception as exc:
        log.error("updating the similarity index failed", exc_info=_bug(exc))
        done.errors.append(f"updating the similarity index failed: {type(exc).__name__}: {exc}")
    return done


def _bug(exc: Exception) -> bool:
    """Worth a traceback: not the disk or the database saying no (full, locked, damaged)."""
    return not isinstance(exc, (OSError, sqlite3.Error))


def lacking(conn: sqlite3.Connection, *, embed_text: bool = False) -> list[int]:
    """Items whose derived data is incomplete: a task with an active model and no
    prediction of that model version for the item, or (``embed_text``) a track with no
    text vector. Cheap: two anti-joins, no model loaded."""
    from djml.models import KIND_OF_TASK

    ids: set[int] = set()
    active = conn.execute("SELECT task, version FROM models WHERE active = 1").fetchall()
    for task, version in active:
        kind = KIND_OF_TASK.get(task)
        if kind is None:
            continue
        ids.update(r[0] for r in conn.execute(
            "SELECT i.id FROM items i JOIN analyses a ON a.item_id = i.id WHERE i.kind = ? AND NOT EXISTS"
            " (SELECT 1 FROM predictions p WHERE p.item_id = i.id AND p.task = ? AND p.model_version = ?)",
            (kind, task, version)))
    if embed_text:
        ids.update(r[0] for r in conn.execute(
            "SELECT i.id FROM items i JOIN analyses a ON a.item_id = i.id WHERE i.kind = 'track' AND NOT EXISTS"
            " (SELECT 1 FROM vectors v WHERE v.item_id = i.id AND v.space = 'text')"))
    return sorted(ids)


def pending(library: "Library", *, embed_text: bool = False) -> list[int]:
    """:func:`lacking`, after registering the shipped sample model if this library never
    saw it (a first scan killed before its first prediction left no active model)."""
    from djml.models import registry

    try:
        registry.ensure_shipped(library)
    except Exception:  # a broken package install: predictions will say why
        log.exception("registering the shipped sample model failed")
    return lacking(library.conn, embed_text=embed_text)
