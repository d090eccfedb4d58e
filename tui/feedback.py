"""Recording "I played B after A" from the recommendations screen.

The daemon should own this write; the protocol has no method for it yet, so when the
daemon answers ``method_not_found`` the TUI records it the way ``djml recommend --accept``
does: one short transaction through :class:`djml.library.Library` (WAL + busy timeout make
that safe next to a running daemon). Runs in a worker thread (it re-ranks the seed to know
which higher-ranked suggestions were passed over).
"""

from __future__ import annotations

from typing import Any

from djml.client import RemoteError
from djml.config import Config
from djml.protocol import METHOD_NOT_FOUND

ACCEPT_METHOD = "recommend.accept"


def accept(call, config: Config, seed_id: int, accepted_id: int, options: dict[str, Any]) -> str:
    """Record the acceptance; returns where it went ("daemon" or "library")."""
    try:
        call(ACCEPT_METHOD, ref=seed_id, item_id=accepted_id, options=options)
        return "daemon"
    except RemoteError as exc:
        if exc.code != METHOD_NOT_FOUND:
            raise
    record_locally(config, seed_id, accepted_id, options)
    return "library"


def record_locally(config: Config, seed_id: int, accepted_id: int, options: dict[str, Any]) -> None:
    from djml import db
    from djml.library import Library
    from djml.recommend import accept_feedback

    opts = {k: v for k, v in options.items() if k != "n" and v is not None}
    conn = db.connect(config.db_path)
    try:
        record = accept_feedback(conn, config, seed_id, accepted_id, n=50, **opts)
        Library(conn).record_recommendation(record["seed"], record["accepted"], record["data"], record["skipped"])
    finally:
        conn.close()
