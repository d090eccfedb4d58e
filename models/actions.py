"""The whole action table: the core's everyday actions (:data:`djml.actions.ACTIONS`) plus
the ones that need the learning side — training, model versions, label CSVs, imports from
DJ software and recommendation feedback.

The CLI and the daemon both run these entries, so `djml train` does the same thing whether
the daemon trains or the command does (the daemon only adds what a running service does
afterwards: events, warm caches). It lives in :mod:`djml.models` because the core must not
import the models package; the entries import their heavy modules only when they run, so
a CLI one-shot that looks the table up stays free of numpy and scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djml.actions import ACTIONS as CORE_ACTIONS
from djml.actions import Action, Progress
from djml.actions import run_local as _run_local
from djml.errors import ActionError

if TYPE_CHECKING:
    from djml.config import Config
    from djml.library import Library


def _task(text: str) -> str:
    from djml.models import task_name

    try:
        return task_name(text)
    except ValueError as exc:
        raise ActionError("invalid_params", str(exc)) from None


def train(library: "Library", config: "Config", task: str, model: str | None = None,
          progress: Progress | None = None, reason: str = "manual", clock: float | None = None) -> dict[str, Any]:
    """A new model version (``reason``/``clock``: the daemon's monitor retraining on a
    schedule or after drift; clients train for the "manual" reason)."""
    from djml.models.service import TrainError
    from djml.models.service import train as run_train

    try:
        return run_train(library, config, _task(task), model, reason=reason, clock=clock, listener=progress)
    except TrainError as exc:
        raise ActionError("invalid_params", str(exc)) from None


def _registry(library: "Library", what: str, name: str) -> dict[str, Any]:
    """activate / rollback (name = a task) / delete a model version."""
    from djml.models import registry

    try:
        if what == "rollback":
            return registry.rollback(library, _task(name))
        if what == "delete":
            registry.delete(library, name)
            return {"version": name, "deleted": True}
        return registry.activate(library, name)
    except registry.RegistryError as exc:
        raise ActionError("not_found", str(exc)) from None


def import_labels(library: "Library", config: "Config", text: str, file: str | None = None,
                  task: str | None = None, new_buckets: bool = False, correction: bool = False) -> dict[str, Any]:
    """A label CSV (its text: the client reads the file): all rows or none."""
    from djml.models.feedback import parse_csv_text
    from djml.models.service import new_labels_since_training

    parsed = parse_csv_text(library.conn, text, file or "labels.csv", _task(task) if task else None,
                            config=config, new_buckets=bool(new_buckets))
    if parsed.errors:
        return {"imported": 0, "rows": 0, "errors": parsed.errors, "tasks": [], "fresh": {}}
    n = library.import_labels(parsed.rows, "user" if correction else "import",
                              feedback_event="label_correction" if correction else None)
    tasks = sorted({t for _, t, _ in parsed.rows})
    return {"imported": n, "rows": len(parsed.rows), "errors": [], "tasks": tasks,   # rows - n: already in force
            "item_ids": sorted({i for i, _, _ in parsed.rows}),
            "fresh": {t: new_labels_since_training(library.conn, t) for t in tasks}}


def import_collections(library: "Library", config: "Config", collections: list[dict[str, Any]],
                       match_names: bool = False, dry_run: bool = False,
                       progress: Progress | None = None) -> dict[str, Any]:
    """What other DJ software knows (parsed by the client). New sets are learnt from by
    ``recommend.train`` afterwards (minutes of training must not hold up the writer)."""
    from dataclasses import asdict

    from djml.interop.importer import import_collection
    from djml.interop.model import ForeignCollection

    reports = []
    for done, data in enumerate(collections):
        try:
            collection = ForeignCollection.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ActionError("invalid_params", f"collection {done + 1}: {exc}") from None
        if progress is not None:
            progress({"stage": "importing", "done": done, "total": len(collections),
                      "file": collection.source_path})
        report = import_collection(library, config, collection, match_names=bool(match_names),
                                   dry_run=bool(dry_run))
        reports.append(asdict(report))
    return {"reports": reports, "dry_run": bool(dry_run)}


def train_set_models(library: "Library", config: "Config", progress: Progress | None = None) -> dict[str, Any]:
    """The set model and the ranking weights, fitted on every set in the library."""
    from djml.models import cf, rank_weights

    if progress is not None:
        progress({"stage": "learning the set model from your sets"})
    model = cf.train_from_library(library.conn, config)
    if progress is not None:
        progress({"stage": "learning the ranking weights"})
    return {"set_model": model, "weights": rank_weights.train_from_library(library.conn, config)}


def accept_recommendation(library: "Library", config: "Config", ref: str | int, item_id: int,
                          options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The user took ``item_id`` after ``ref``: stored as feedback the ranker learns from."""
    from djml.models.recommend import accept_feedback

    opts = {"n": 50, **{k: v for k, v in (options or {}).items() if v is not None}}
    try:
        rec = accept_feedback(library.conn, config, ref, item_id, **opts)
    except (TypeError, ValueError, LookupError) as exc:
        raise ActionError("invalid_params", str(exc)) from None
    library.record_recommendation(rec["seed"], rec["accepted"], rec["data"], rec["skipped"])
    return {"seed": rec["seed"], "accepted": rec["accepted"], "skipped": len(rec["skipped"])}


def predict(library: "Library", config: "Config", ref: str | int, task: str | None = None,
            debug: bool = False) -> dict[str, Any]:
    """Predict one item now with the active models (and store the predictions); with
    ``debug`` also why (feature contributions, nearest labelled items)."""
    from djml import query
    from djml.models.crossval import explain_item
    from djml.models.service import predict_items

    found = query.resolve(library.conn, ref)
    if found.item_id is None:
        raise ActionError("not_found", f"no item matches {ref!r}")
    wanted = _task(task) if task else None
    results = [r for r in predict_items(library, config, [found.item_id]) if wanted is None or r["task"] == wanted]
    if debug:
        for r in results:
            r["debug"] = explain_item(library, r["task"], found.item_id)
    return plain({"item_id": found.item_id, "resolved": found.as_dict(), "predictions": results})


def plain(value: Any) -> Any:
    """JSON-ready: numpy numbers become Python numbers (not the strings a JSON default
    would make of them), tuples lists — the same answer locally and over the socket."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and type(value).__module__ == "numpy":
        return value.item()
    return value


ACTIONS: dict[str, Action] = {
    **CORE_ACTIONS,
    "train": Action(train, writes=True, progress=True, long=True),
    "models.activate": Action(lambda lib, config, version: _registry(lib, "activate", version), writes=True),
    "models.rollback": Action(lambda lib, config, task: _registry(lib, "rollback", task), writes=True),
    "models.delete": Action(lambda lib, config, version: _registry(lib, "delete", version), writes=True),
    "labels.import": Action(import_labels, writes=True),
    "import": Action(import_collections, writes=True, progress=True),
    "recommend.accept": Action(accept_recommendation, writes=True),
    "recommend.train": Action(train_set_models, writes=True, progress=True, long=True),
    "predict": Action(predict, writes=True),
}


def run_local(config: "Config", method: str, *, progress: Progress | None = None, **params: Any) -> Any:
    """Run any action of the whole table directly on the library (no daemon runs)."""
    return _run_local(config, method, table=ACTIONS, progress=progress, **params)
