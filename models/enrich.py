"""What happens to items right after the writer stored their analysis: predict with the
active models, embed their text (daemon only), and add them to the similarity index.

One function for both `djml scan` and the daemon, so an item gets the same predictions
and index entries whichever path brought it in. Each step is isolated: a broken model or
index must never undo or block the analysis that was just stored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djml.config import Config
    from djml.library import Library

log = logging.getLogger(__name__)


def after_store(
    library: "Library", config: "Config", item_ids: list[int], *, embed_text: bool = False
) -> list[dict[str, Any]]:
    """Predict, optionally embed text (loading sentence-transformers costs ~10 s, so only
    the long-running daemon does it), then update the index. Returns the predictions."""
    from djml import index
    from djml.models import service

    if not item_ids:
        return []
    predictions: list[dict[str, Any]] = []
    try:
        predictions = service.predict_items(library, config, item_ids)
    except Exception:
        log.exception("predicting items %s failed", item_ids[:10])
    if embed_text:
        try:
            from djml.models import text
            from djml.models.features import load_rows

            tracks = [r for r in load_rows(library.conn, item_ids) if r.kind == "track"]
            text.ensure_embeddings(library, tracks)
        except Exception:
            log.exception("embedding text of items %s failed", item_ids[:10])
    try:
        index.update_items(library.conn, config, item_ids)
    except Exception:
        log.exception("updating the similarity index failed")
    return predictions
