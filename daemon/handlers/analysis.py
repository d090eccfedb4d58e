"""`djml analyze` served by the daemon's warm workers (protocol ``analyze``).

Why the daemon: a `djml analyze` process of its own imports the analysis stack before its
first file (most of a one-shot's cost), while the daemon's workers hold it already. Why
descriptors: the files are the client's, named on its command line and often outside the
configured folders, and the daemon must not read a path a client names. So the client
opens each file itself and sends the descriptor's number; the worker opens
``/proc/<peer pid>/fd/<fd>``, the very file the client opened, whose peer pid the kernel
vouches for (``SO_PEERCRED``), not the client.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from djml import protocol as p

from ..workers import SUSPECT

if TYPE_CHECKING:
    from ..service import Service

KINDS = ("track", "sample")


async def analyze(service: "Service", files: list[Any], kind: str | None = None, *, peer: int | None) -> dict:
    """Rows for the client's open ``files`` ([{fd, suffix}]), in their order; each row's
    ``path`` is the /proc name the worker read, for the client to replace with its own."""
    if peer is None:
        raise p.ProtocolError(p.METHOD_NOT_AVAILABLE, "the daemon cannot tell which process is asking")
    workers = service.workers
    if not hasattr(workers, "describe"):
        raise p.ProtocolError(p.METHOD_NOT_AVAILABLE, "analysis runs on a cluster: analyse in the client")
    if kind is not None and kind not in KINDS:
        raise p.ProtocolError(p.INVALID_PARAMS, f"kind must be one of {', '.join(KINDS)}")
    if not 1 <= len(files) <= p.ANALYZE_MAX_FILES:
        raise p.ProtocolError(p.INVALID_PARAMS, f"files: 1 to {p.ANALYZE_MAX_FILES} per request")
    wanted = [_checked(entry) for entry in files]
    rows = list(await asyncio.gather(*(workers.describe(peer, fd, suffix, kind) for fd, suffix in wanted)))
    for i, (fd, suffix) in enumerate(wanted):
        if rows[i].get("error") == SUSPECT:   # one of the files in flight killed the worker: which one?
            rows[i] = await workers.describe_alone(peer, fd, suffix, kind)
    return {"rows": rows}


def _checked(entry: Any) -> tuple[int, str]:
    if not isinstance(entry, dict) or set(entry) - {"fd", "suffix"}:
        raise p.ProtocolError(p.INVALID_PARAMS, "each file is {\"fd\": int, \"suffix\": str}")
    fd, suffix = entry.get("fd"), entry.get("suffix", "")
    if type(fd) is not int or not 0 <= fd < 1 << 31 or not isinstance(suffix, str) or len(suffix) > 9:
        raise p.ProtocolError(p.INVALID_PARAMS, "fd must be a descriptor number, suffix a file extension")
    return fd, suffix
