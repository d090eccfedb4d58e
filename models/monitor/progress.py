"""Live progress of trainings running in this process (the daemon's trainer thread): the
stage, step of steps and an ETA from how long the task's last training took.

Kept in memory, not in the database: it changes several times a second and means nothing
once the process ends. `models.history` asked of the daemon includes it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

STAGES = ("loading labels", "training candidate", "shadow evaluation", "training final model", "re-predicting")
_lock = threading.Lock()
_live: dict[str, dict[str, Any]] = {}


def start(task: str, reason: str, expected_seconds: float | None, clock=time.monotonic) -> None:
    with _lock:
        _live[task] = {"task": task, "reason": reason, "stage": STAGES[0], "step": 1, "steps": len(STAGES),
                       "started": clock(), "expected_seconds": expected_seconds, "detail": None}


def stage(task: str, name: str, detail: str | None = None) -> None:
    with _lock:
        if task in _live:
            _live[task].update(stage=name, step=STAGES.index(name) + 1, detail=detail)


def finish(task: str) -> None:
    with _lock:
        _live.pop(task, None)


def snapshot(clock=time.monotonic) -> dict[str, dict[str, Any]]:
    """task -> {stage, step, steps, elapsed, eta (seconds or None), reason, detail}."""
    now = clock()
    with _lock:
        out = {}
        for task, p in _live.items():
            elapsed = now - p["started"]
            expected = p["expected_seconds"]
            eta = None
            if expected:
                eta = max(0.0, expected - elapsed)
            out[task] = {"task": task, "reason": p["reason"], "stage": p["stage"], "step": p["step"],
                         "steps": p["steps"], "detail": p["detail"], "elapsed": round(elapsed, 1),
                         "eta": None if eta is None else round(eta, 1)}
        return out
