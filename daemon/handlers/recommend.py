"""Recommendations: what follows a track (accepting one and re-learning from sets are
plain actions, see the table in :mod:`djml.daemon.handlers`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from djml import protocol as p

from ..readcache import data_version, model_files

if TYPE_CHECKING:
    from ..service import Service


async def recommend(service: "Service", ref: int | str, options: dict | None = None) -> Any:
    """The same seed and options again, with the library and the model files as they were,
    give the answer already made (:mod:`djml.daemon.readcache`): asking twice, or coming
    back to a track in the TUI, costs no ranking."""
    try:
        return await service.read(_recommend, service, ref, options or {})
    except (TypeError, ValueError, LookupError) as exc:
        raise p.ProtocolError(p.INVALID_PARAMS, str(exc)) from None


def _recommend(service: "Service", ref: int | str, options: dict[str, Any]) -> Any:
    """On the reader thread (one at a time, so the versions read here are this answer's)."""
    from djml import index
    from djml.models.recommend import recommend_result

    conn = service.read_conn
    key = json.dumps([ref, sorted(options.items())])
    library = data_version(conn)
    version = (library, model_files(service.config))
    answer = service.answers.get(key, version)
    if answer is None:
        # what the similarity indexes must hold depends on the library alone
        known = service.fingerprints.get("all", library)
        if known is None:
            known = index.fingerprints(conn)
            service.fingerprints.put("all", library, known)
        answer = recommend_result(conn, service.config, ref, **options, known=known)
        if (data_version(conn), model_files(service.config)) == version:
            service.answers.put(key, version, answer)
    return answer   # shared with later hits: the server only encodes it
