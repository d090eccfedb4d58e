"""Models: training, versions (list, activate, roll back, delete), how they do
(acceptance, history) and predicting one item now."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import params
from .actions import Progress, run_action

if TYPE_CHECKING:
    from ..service import Service

log = logging.getLogger(__name__)


async def train(service: "Service", task: str, model: str | None = None, reason: str = "manual",
                clock: float | None = None, progress: Progress | None = None) -> Any:
    """The ``train`` action with what the daemon adds: the task is marked as training
    while it runs (labels and the monitor do not start it twice), the reason is kept
    (schedule, drift, new labels), and the event and back-fill follow."""
    task = params.task(task)
    service.training.add(task)
    try:
        result = await run_action(service, "train",
                                  {"task": task, "model": model, "reason": reason, "clock": clock}, progress)
        await _trained(service, result)
    finally:
        service.training.discard(task)
    if reason != "manual":   # asked by no client: dispatch() does not log it
        log.info("write train %s", params.brief({"task": task, "reason": reason}))
    return result


async def _trained(service: "Service", result: dict[str, Any]) -> None:
    service.emit("model.trained", {"task": result["task"], "result": result})
    if isinstance(result, dict) and result.get("status") == "activated":
        service.spawn(service.backfill_derived())  # in case the re-prediction was cut short


async def models_list(service: "Service", task: str | None = None) -> list[dict[str, Any]]:
    task = params.task(task) if task else None
    rows = await service.read(lambda: service.read_conn.execute(
        "SELECT version, task, estimator, active, metrics, metadata, created_at FROM models"
        " WHERE ? IS NULL OR task = ? ORDER BY task, created_at DESC", (task, task)).fetchall())
    return [dict(r) for r in rows]


async def models_stats(service: "Service", task: str | None = None) -> dict[str, Any]:
    return await service.monitor.stats(params.task(task) if task else None)


async def models_history(service: "Service", task: str | None = None) -> dict[str, Any]:
    return await service.monitor.history(params.task(task) if task else None)


async def after_activate(service: "Service", result: dict[str, Any]) -> None:
    """activate and rollback: the newly active version predicts everything."""
    service.emit("model.trained", {"activated": result})
    service.spawn(service.backfill_derived())


async def after_delete(service: "Service", result: dict[str, Any]) -> None:
    service.emit("model.trained", {"deleted": result["version"]})
