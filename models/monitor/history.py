"""The training dashboard's data: per task the versions over time (held-out accuracy with
n and 95 % interval, acceptance of their predictions, drift found against their training
items, why each was trained, how the shadow evaluation went), recent runs and the live
progress of a training running in this process. `djml models history`, the daemon's
``models.history`` and the TUI status screen all show this one structure."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from djml.models.figures import figure
from djml.models.monitor import acceptance, progress, runs, shadow
from djml.models.monitor.versions import ordinals

def _drift_by_version(conn: sqlite3.Connection, task: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in conn.execute("SELECT version, drifted, features, message, n_items, checked_at, data FROM drift_checks"
                          " WHERE task = ? ORDER BY id", (task,)):
        out[r["version"]] = {"drifted": bool(r["drifted"]), "features": json.loads(r["features"]),
                             "labels": json.loads(r["data"]).get("labels", []), "message": r["message"],
                             "n_items": r["n_items"], "checked_at": r["checked_at"]}
    return out


def _reason_by_version(conn: sqlite3.Connection, task: str) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT version, reason FROM training_runs WHERE task = ? AND version IS NOT NULL ORDER BY id", (task,))}


def task_history(conn: sqlite3.Connection, task: str, live: dict[str, Any] | None = None) -> dict[str, Any]:
    numbers = ordinals(conn, task)
    accepted = acceptance.by_version(conn, task)
    drift = _drift_by_version(conn, task)
    reasons = _reason_by_version(conn, task)
    versions = []
    for r in conn.execute("SELECT version, estimator, path, metrics, metadata, active, created_at FROM models"
                          " WHERE task = ? ORDER BY created_at, version", (task,)):
        metrics, metadata = json.loads(r["metrics"]), json.loads(r["metadata"])
        shipped = r["path"].startswith("package:")
        versions.append({
            "version": r["version"], "name": f"{task} v{numbers[r['version']]}", "estimator": r["estimator"],
            "created_at": r["created_at"], "active": bool(r["active"]),
            "status": "shipped" if shipped else "rejected" if metrics.get("rejected") else "trained",
            "n_labels": metrics.get("n_labels"), "figure": figure(metrics, metadata),
            "shadow": shadow.summary(metrics), "acceptance": accepted.get(r["version"]),
            "drift": drift.get(r["version"]),
            "reason": reasons.get(r["version"], "shipped" if shipped else None),
        })
    return {"task": task, "versions": versions, "runs": runs.recent(conn, task, limit=10), "training": live}


def history(conn: sqlite3.Connection, task: str | None = None) -> dict[str, Any]:
    live = progress.snapshot()
    tasks = [task] if task else sorted({r[0] for r in conn.execute(
        "SELECT task FROM models UNION SELECT task FROM training_runs")} | set(live))
    return {"tasks": [task_history(conn, t, live.get(t)) for t in tasks]}
