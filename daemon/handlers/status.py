"""The daemon itself: hello, status, what happened lately, shutdown."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import djml
from djml import db, query
from djml import protocol as p
from djml.models.embedder import EMBEDDER
from djml.procs import rss_mb, thread_report

if TYPE_CHECKING:
    from ..service import Service


async def hello(service: "Service", client: str | None = None, protocol: int | None = None) -> dict[str, Any]:
    """The version this connection speaks (an older served client gets its own, see
    :func:`djml.protocol.answered_protocol`) and, from protocol 4, the streamed methods."""
    speaks = p.answered_protocol(protocol)
    answer = {"protocol": speaks, "schema": db.schema_version(), "version": djml.version(), "pid": os.getpid()}
    if speaks >= 4:
        answer["streams"] = sorted(p.STREAMED)
    return answer


async def status(service: "Service") -> dict[str, Any]:
    snapshot, counts, models = await service.read(_status_reads, service)
    return {
        "pid": os.getpid(), "version": djml.version(), "protocol": p.PROTOCOL_VERSION,
        "uptime": round(time.time() - service.started, 1), "workers": service.workers.size,
        "workers_running": service.workers.running, "watching": [str(r) for r in service.watched],
        "polling": service.config.polling, "queue": snapshot, "library": counts, "models": models,
        "derived": service.derived.status(), "warnings": service.warnings(),
        "memory": {"rss_mb": rss_mb(), "text_model": EMBEDDER.status()},
        "threads": await service.read(thread_report, _threads_chosen_by()),
        "caches": {"lines": service.lines.status(), "recommend": service.answers.status()},
    }


def _threads_chosen_by() -> str:
    from ..main import THREADS_CHOSEN_BY

    return THREADS_CHOSEN_BY or "not set (the service runs outside djml.daemon.main.run)"


def _status_reads(service: "Service") -> tuple[dict, dict, list]:
    conn = service.read_conn
    return service.queue_snapshot(), query.library_counts(conn), query.active_models(conn)


async def events_recent(service: "Service", limit: int | None = None) -> list[dict[str, Any]]:
    limit, most = limit or 50, service.recent.maxlen
    if not 1 <= limit <= most:
        raise p.ProtocolError(p.INVALID_PARAMS, f"limit must be 1..{most}")
    return list(service.recent)[-limit:]


async def shutdown(service: "Service") -> dict[str, Any]:
    """The server stops the daemon once this answer is sent (as on SIGTERM)."""
    return {"pid": os.getpid(), "stopping": True}
