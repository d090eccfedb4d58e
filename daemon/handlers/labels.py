"""Labels and the review queue: what to review next, labels set and undone, label CSVs,
buckets. After a change clients are told (``review.changed``) and a task with enough new
labels is retrained in the background."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import params

if TYPE_CHECKING:
    from ..service import Service

log = logging.getLogger(__name__)


async def review_list(service: "Service", task: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    limit = limit or 50
    if task is not None:
        task = params.task(task)
    from djml.models.service import review_queue

    return await service.read(review_queue, service.read_conn, service.config, task, limit)


async def review_next(service: "Service", task: str | None = None) -> dict[str, Any] | None:
    items = await review_list(service, task=task, limit=1)
    return items[0] if items else None


async def after_label_set(service: "Service", result: dict[str, Any]) -> None:
    task = result["task"]
    service.emit("review.changed", {"task": task, "item_ids": [result["item_id"]]})
    if result.get("changed") and await service.write(_train_needed, service, result["item_id"], task):
        result["training"] = True  # enough new labels: retrain in the background
        service.start_training(task)


def _train_needed(service: "Service", item_id: int, task: str) -> bool:
    """On the writer thread: does this label make ``task`` due for retraining?"""
    from djml.models.service import on_label

    try:
        return bool(on_label(service.library, service.config, item_id, task).get("train_needed"))
    except Exception:  # the label is stored; a model problem must not lose it
        log.exception("models.on_label failed for item %s", item_id)
        return False


async def after_label_undo(service: "Service", result: dict[str, Any]) -> None:
    service.emit("review.changed", {"task": result["task"], "item_ids": [result["item_id"]]})


async def after_buckets_changed(service: "Service", result: dict[str, Any]) -> None:
    """Labels now name other buckets (a rename, a delete): the bucket model learns the new names."""
    service.emit("review.changed", {"task": "bucket", "item_ids": []})
    if await service.read(lambda: service.read_conn.execute(
            "SELECT 1 FROM models WHERE task = 'bucket' AND active = 1").fetchone() is not None):
        result["training"] = True
        service.start_training("bucket")


async def after_labels_import(service: "Service", result: dict[str, Any]) -> None:
    await labels_came_in(service, result.get("item_ids", []), result.get("fresh", {}))


async def labels_came_in(service: "Service", item_ids: list[int], fresh: dict[str, int]) -> None:
    """Many labels at once (a CSV, an import): clients reload, and a task with enough
    new labels is retrained, as after `retrain_after` labels made one by one."""
    for task in fresh:
        service.emit("review.changed", {"task": task, "item_ids": item_ids})
    for task, n in fresh.items():
        if n >= service.config.retrain_after:
            service.start_training(task)
