"""Model registry: every trained version is kept; one is active per task.

Rows live in the ``models`` table (written only through :class:`djml.library.Library`);
files live under ``config.models_dir``. A version id is ``{task}-{UTC timestamp}-{hash8}``
(hash of the model file), so ids sort by creation time and name their content.

The shipped sample-type model is registered on first use with the path
``package:shipped/sample_type.npz`` (resolved inside the installed package, never copied),
so it appears in ``djml models list`` and is a rollback target like any other version.

Reading functions take a plain connection (read-only is fine) and import nothing heavy:
``djml models list`` must stay a fast one-shot.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djml.config import Config
    from djml.library import Library
    from djml.models.estimators import Estimator

PACKAGE_PREFIX = "package:"
SHIPPED_FILE = "shipped/sample_type.npz"   # portable arrays + sample_type.json (portable.py)
_cache: dict[str, Any] = {}  # version -> loaded Estimator (the daemon predicts often)


class RegistryError(Exception):
    """Unknown version, or an operation that would leave a task in a bad state."""


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    d["metadata"] = json.loads(d["metadata"])
    d["metrics"] = json.loads(d["metrics"])
    d["active"] = bool(d["active"])
    return d


def list_models(conn: sqlite3.Connection, task: str | None = None) -> list[dict[str, Any]]:
    """Every version, newest first (optionally of one task)."""
    sql = "SELECT * FROM models" + (" WHERE task = ?" if task else "") + " ORDER BY created_at DESC, version DESC"
    return [_row(r) for r in conn.execute(sql, (task,) if task else ())]


def get(conn: sqlite3.Connection, version: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM models WHERE version = ?", (version,)).fetchone()
    if row is None:
        raise RegistryError(f"no model version {version!r} (see `djml models list`)")
    return _row(row)


def active(conn: sqlite3.Connection, task: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM models WHERE task = ? AND active = 1", (task,)).fetchone()
    return _row(row) if row else None


def best_by_metric(conn: sqlite3.Connection, task: str, metric: str = "holdout_accuracy") -> dict[str, Any] | None:
    """The version with the highest value of ``metric`` (versions lacking it are skipped)."""
    scored = [m for m in list_models(conn, task) if isinstance(m["metrics"].get(metric), (int, float))]
    return max(scored, key=lambda m: (m["metrics"][metric], m["created_at"]), default=None)


def new_version(task: str, file_hash: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{task}-{stamp}-{file_hash[:8]}"


def register(library: "Library", config: "Config", estimator: "Estimator", metrics: dict[str, Any],
             *, activate: bool) -> str:
    """Save the estimator under models_dir and record it; returns the version id."""
    import hashlib

    data = estimator.dumps()
    version = new_version(estimator.task, hashlib.sha256(data).hexdigest())
    path = config.models_dir / f"{version}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    meta = {k: v for k, v in estimator.metadata.items() if k not in ("metrics", "feature_means")}
    library.register_model(version, estimator.task, estimator.backend, str(path), meta, metrics,
                           activate=activate)
    _cache[version] = estimator
    return version


def activate(library: "Library", version: str) -> dict[str, Any]:
    """Make ``version`` the active model of its task; returns its row."""
    if library.activate_model(version) is None:
        raise RegistryError(f"no model version {version!r} (see `djml models list`)")
    return get(library.conn, version)


def rollback(library: "Library", task: str) -> dict[str, Any]:
    """Activate the version created just before the active one (the previous model).

    Versions that training rejected (worse than the model they would have replaced) are
    skipped: rolling back to a model already judged worse would be surprising."""
    current = active(library.conn, task)
    if current is None:
        raise RegistryError(f"no active {task} model to roll back from")
    older = [m for m in list_models(library.conn, task)
             if (m["created_at"], m["version"]) < (current["created_at"], current["version"])
             and not m["metrics"].get("rejected")]
    if not older:
        raise RegistryError(f"{current['version']} is the oldest usable {task} model; nothing to roll back to")
    return activate(library, older[0]["version"])


def delete(library: "Library", version: str) -> None:
    """Delete an inactive version: its row, its predictions and its file (never shipped files)."""
    row = get(library.conn, version)
    if row["active"]:
        raise RegistryError(f"{version} is active; activate another version or roll back first")
    library.delete_model(version)
    _cache.pop(version, None)
    if not row["path"].startswith(PACKAGE_PREFIX):
        Path(row["path"]).unlink(missing_ok=True)


def resolve_path(path: str) -> Path:
    if path.startswith(PACKAGE_PREFIX):
        return Path(str(resources.files("djml.models").joinpath(path[len(PACKAGE_PREFIX):])))
    return Path(path)


def load(row: dict[str, Any]) -> "Estimator":
    """The estimator of a registry row, loaded once per process."""
    from djml.models.estimators import Estimator

    version = row["version"]
    if version not in _cache:
        _cache[version] = Estimator.load(resolve_path(row["path"]))
    return _cache[version]


def preload(conn: sqlite3.Connection) -> int:
    """Load the active models, and the shipped sample-type weights a library without an
    active sample_type model will activate at its first prediction, into the cache; returns
    how many were loaded now. Read-only, so the daemon can call it from its reader thread
    while files settle: the first prediction after a burst then does not load them on the
    writer thread, where every store waits behind it."""
    rows = [dict(r) for r in conn.execute("SELECT task, version, path FROM models WHERE active = 1")]
    shipped = shipped_path()
    if shipped.exists() and not any(r["task"] == "sample_type" for r in rows):
        card = json.loads(shipped.with_suffix(".json").read_text(encoding="utf-8"))
        rows.append({"version": card["version"], "path": PACKAGE_PREFIX + SHIPPED_FILE})
    loaded = 0
    for row in rows:
        if row["version"] not in _cache:
            load(row)
            loaded += 1
    return loaded


def shipped_path() -> Path:
    return resolve_path(PACKAGE_PREFIX + SHIPPED_FILE)


def ensure_shipped(library: "Library") -> dict[str, Any] | None:
    """Register the shipped sample-type model once; make it active if no sample_type model is.

    Returns the active sample_type row (None when the package has no shipped weights)."""
    path = shipped_path()
    if not path.exists():
        return active(library.conn, "sample_type")
    card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    version = card["version"]
    known = library.conn.execute("SELECT 1 FROM models WHERE version = ?", (version,)).fetchone()
    if not known:
        library.register_model(version, "sample_type", card["backend"], PACKAGE_PREFIX + SHIPPED_FILE,
                               card["metadata"], card["metrics"],
                               activate=active(library.conn, "sample_type") is None)
    current = active(library.conn, "sample_type")
    if current is None or (current["path"].startswith(PACKAGE_PREFIX) and current["version"] != version):
        return activate(library, version)  # first run, or an upgraded djml ships newer weights
    return current
