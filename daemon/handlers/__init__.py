"""Every protocol method the daemon serves, and the one handler that serves it.

:data:`HANDLERS` is the dispatch table: ``method → async handler(service, **params)``.
Handlers live in one module per area (library, labels, models, recommend, interop,
status) and stay small: they check what the protocol's type table cannot, then ask the
running :class:`djml.daemon.service.Service` (its reader, writer or trainer thread, its
queue, its watcher). Methods that are entries of the action table
(:data:`djml.models.actions.ACTIONS`) run the same code as the CLI without a daemon,
through :func:`actions.action`, plus an ``after`` step for what only a running daemon does.

``subscribe`` and ``unsubscribe`` are about the connection, not the library: the server
answers them itself (:data:`CONNECTION_METHODS`). A test checks that every method of
:data:`djml.protocol.METHODS` is in exactly one of the two.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from djml import protocol as p
from djml.models.actions import ACTIONS

from . import analysis, interop, labels, library, models, recommend, status
from .actions import Handler, Progress, action
from .params import brief

if TYPE_CHECKING:
    from ..service import Service

log = logging.getLogger(__name__)

HANDLERS: dict[str, Handler] = {
    # the daemon itself
    "hello": status.hello,
    "status": status.status,
    "events.recent": status.events_recent,
    "shutdown": status.shutdown,
    # the library and its folders
    "query": library.query,
    "query.lines": library.query_lines,
    "show": library.show,
    "failed": library.failed,
    "scan": library.scan,
    "retry": library.retry,
    "folders.list": action("folders.list"),
    "folders.add": action("folders.add", after=library.after_folders_add),
    "folders.remove": action("folders.remove", after=library.after_folders_remove),
    # labels, the review queue and buckets
    "review.list": labels.review_list,
    "review.next": labels.review_next,
    "label.set": action("label.set", after=labels.after_label_set),
    "label.undo": action("label.undo", after=labels.after_label_undo),
    "labels.choices": action("labels.choices"),
    "labels.count": action("labels.count"),
    "labels.import": action("labels.import", after=labels.after_labels_import),
    "buckets.list": action("buckets.list"),
    "buckets.create": action("buckets.create"),
    "buckets.rename": action("buckets.rename", after=labels.after_buckets_changed),
    "buckets.delete": action("buckets.delete", after=labels.after_buckets_changed),
    # models
    "train": models.train,
    "models.list": models.models_list,
    "models.stats": models.models_stats,
    "models.history": models.models_history,
    "models.activate": action("models.activate", after=models.after_activate),
    "models.rollback": action("models.rollback", after=models.after_activate),
    "models.delete": action("models.delete", after=models.after_delete),
    "predict": action("predict"),
    # the analysis engine for a client's own files (nothing stored)
    "analyze": analysis.analyze,
    # recommendations
    "recommend": recommend.recommend,
    "recommend.accept": action("recommend.accept"),
    "recommend.train": action("recommend.train"),
    # other DJ software and the files' tags
    "import": action("import", after=interop.after_import),
    "tags.write": action("tags.write"),
    "tags.undo": action("tags.undo"),
}
CONNECTION_METHODS = frozenset({"subscribe", "unsubscribe"})   # answered by djml.daemon.server
PEER_METHODS = frozenset({"analyze"})   # handlers told the client's pid (``peer``) by the server

# Methods that change the library (or the files, or the config): each one is logged, so
# the log shows that the daemon did every write while it ran.
WRITES = frozenset({name for name, entry in ACTIONS.items() if entry.writes} | {"scan", "retry"})


async def dispatch(service: "Service", method: str, params: dict[str, Any],
                   progress: Progress | None = None, peer: int | None = None) -> Any:
    """Serve one request (already checked against :data:`djml.protocol.METHODS`);
    ``progress`` (on the loop) carries a long action's reports, ``peer`` is the client's
    pid as the kernel reports it (for :data:`PEER_METHODS`)."""
    handler = HANDLERS.get(method)
    if handler is None:
        raise p.ProtocolError(p.METHOD_NOT_FOUND, f"no method {method!r}")
    if method in PEER_METHODS:
        result = await handler(service, **params, peer=peer)
    elif method in ACTIONS and ACTIONS[method].progress:
        result = await handler(service, **params, progress=progress)
    else:
        result = await handler(service, **params)
    if method in WRITES:
        log.info("write %s %s", method, brief(params))
    return result

