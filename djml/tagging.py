"""`djml tags write|undo` as actions (:mod:`djml.actions`): the same code runs in the
daemon (its writer thread) and in the CLI when no daemon runs.

The daemon gets the filters as the user typed them and resolves them against the
library itself; the answer is plain data (what changed per file, what was refused and
why) that the CLI prints the same way either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djml import query
from djml.errors import ActionError

if TYPE_CHECKING:
    from djml.actions import Progress
    from djml.config import Config
    from djml.interop.tagwrite import Outcome
    from djml.library import Library


def write(library: "Library", config: "Config", filters: dict[str, Any], *, dry_run: bool = False,
          verify: bool = True, progress: "Progress | None" = None) -> dict[str, Any]:
    """Tag the files of the items matching ``filters`` (default: every track)."""
    from djml.interop.collect import collect
    from djml.interop.tagwrite import tags_write

    try:
        flt = query.Filters.from_dict({"kind": "track", **filters})
    except (TypeError, ValueError) as exc:
        raise ActionError("invalid_params", str(exc)) from None
    collected = collect(library.conn, flt)
    outcome = tags_write(library, config, collected.tracks, dry_run=dry_run, verify=verify, progress=progress)
    guessed = {t.item_id: t.guessed for t in collected.tracks if t.guessed}
    return {**outcome_dict(outcome), "dry_run": dry_run,
            "guessed": [{"item_id": i, "fields": g} for i, g in guessed.items()]}


def undo(library: "Library", config: "Config", batch: str | None = None, *, force: bool = False,
         progress: "Progress | None" = None) -> dict[str, Any]:
    """Restore what a tag-write batch replaced (default: the newest one not fully undone);
    ``force`` also restores fields edited since djml wrote them."""
    from djml.interop.tagio import TagError
    from djml.interop.tagwrite import tags_undo

    try:
        return outcome_dict(tags_undo(library, config, batch, force=force, progress=progress))
    except TagError as exc:
        raise ActionError("not_found", str(exc)) from None


def outcome_dict(outcome: "Outcome") -> dict[str, Any]:
    return {
        "written": [{"item_id": c.item_id, "path": c.path, "changes": {k: list(v) for k, v in c.changes.items()}}
                    for c in outcome.written],
        "unchanged": outcome.unchanged,
        "refused": [list(r) for r in outcome.refused],
        "batch": outcome.batch,
        "left": outcome.left,
    }
