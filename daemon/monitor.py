"""The daemon's model monitor: every ``monitor_seconds`` it asks what is due
(:func:`djml.models.monitor.schedule.due`, a few SQL counts on the reader thread), runs
due drift checks on the writer thread (pure Python: no model is loaded) and starts due
retrainings on the trainer thread with their reason. Between ticks it sleeps.

The clock is injectable: tests give a fake one (``DJML_MONITOR_CLOCK`` names a file
holding the time in seconds since the epoch) to make a weekly schedule fire at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djml.models.monitor import acceptance, drift, history, schedule

from .handlers import models as model_handlers

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)
CLOCK_ENV = "DJML_MONITOR_CLOCK"


def clock_from_env() -> Callable[[], float]:
    """time.time, or the test clock file named by DJML_MONITOR_CLOCK (read on every tick)."""
    path = os.environ.get(CLOCK_ENV)
    if not path:
        return time.time

    def fake() -> float:
        try:
            return float(Path(path).read_text().strip())
        except (OSError, ValueError):
            return time.time()
    return fake


class Monitor:
    def __init__(self, service: "Service", clock: Callable[[], float] | None = None):
        self.service = service
        self.clock = clock or clock_from_env()

    async def run(self) -> None:
        while not self.service.closing:
            await asyncio.sleep(self.service.config.monitor_seconds)
            try:
                await self.tick()
            except Exception:  # a failed check must not stop the monitor (nor the daemon)
                log.exception("model monitor tick failed")

    async def tick(self) -> list[dict[str, Any]]:
        """One round: due drift checks, then due trainings (a drift just found may be one's
        reason). Returns what was done (for tests and the log)."""
        service, config = self.service, self.service.config
        now = self.clock()
        done: list[dict[str, Any]] = []
        for work in await service.read(schedule.due, service.read_conn, config, now, set(service.training)):
            if work.kind != "drift":
                continue
            result = await service.write(lambda t=work.task: drift.check(service.library, t,
                                                                       config.drift_threshold, now))
            if result is None:
                continue
            done.append({"kind": "drift", **result})
            if result["drifted"]:
                log.warning("drift in %s: %s", work.task, result["message"])
                service.emit("model.drift", {k: result[k] for k in (
                    "task", "version", "model", "features", "labels", "message", "n_items")})
        for work in await service.read(schedule.due, service.read_conn, config, now, set(service.training)):
            if work.kind == "train" and work.task not in service.training:
                log.info("retraining %s: %s", work.task, work.reason)
                service.training.add(work.task)
                service.emit("model.training", {"task": work.task, "reason": work.reason})
                done.append({"kind": "train", "task": work.task, "reason": work.reason})
                service.spawn(self.train(work.task, work.reason, now))
        return done

    async def train(self, task: str, reason: str, clock: float | None = None) -> None:
        """A retraining with its reason; failures are logged and sent as events, not raised."""
        try:
            await model_handlers.train(self.service, task, reason=reason, clock=clock)
        except Exception as exc:
            log.warning("automatic retraining of %s failed: %s", task, exc)
            self.service.emit("model.trained", {"task": task, "error": str(exc), "reason": reason})

    async def stats(self, task: str | None) -> dict[str, Any]:
        return await self.service.read(acceptance.stats, self.service.read_conn, task)

    async def history(self, task: str | None) -> dict[str, Any]:
        return await self.service.read(history.history, self.service.read_conn, task)
