"""Other DJ software and the files' tags: after an import, the models whose labels came
in are retrained when enough are new (tag writes and undos are plain actions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .labels import labels_came_in

if TYPE_CHECKING:
    from ..service import Service


async def after_import(service: "Service", result: dict[str, Any]) -> None:
    if result["dry_run"]:
        return
    from djml.models import TASKS
    from djml.models.service import new_labels_since_training

    # an import also records BPM and key corrections: only the models' tasks retrain
    tasks = {task for report in result["reports"] for task in report["labels"]} & set(TASKS)
    fresh = await service.read(lambda: {task: new_labels_since_training(service.read_conn, task) for task in tasks})
    await labels_came_in(service, [], fresh)
