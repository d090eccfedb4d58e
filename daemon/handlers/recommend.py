"""Recommendations: what follows a track (accepting one and re-learning from sets are
plain actions, see the table in :mod:`djml.daemon.handlers`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djml import protocol as p

if TYPE_CHECKING:
    from ..service import Service


async def recommend(service: "Service", ref: int | str, options: dict | None = None) -> Any:
    from djml.models.recommend import recommend_result

    try:
        return await service.read(lambda: recommend_result(service.read_conn, service.config, ref, **(options or {})))
    except (TypeError, ValueError, LookupError) as exc:
        raise p.ProtocolError(p.INVALID_PARAMS, str(exc)) from None
