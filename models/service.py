"""What the daemon and the CLI call: predict, learn from labels, train, review queue.

Every write goes through :class:`djml.library.Library` (the one writer); this module only
decides *what* to write. Failures of one model (missing weights, vectors from another
analyzer version) are reported in the returned dicts and logged, never raised into the
daemon's loop: a broken model must not stop analysis.
"""

from __future__ import annotations

import logging
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from djml.models import KIND_OF_TASK, TASKS, TASKS_BY_KIND
from djml.models import labels as label_sources
from djml.models import registry
from djml.models.features import FeatureError, FeatureSpec, ItemRow, load_rows
from djml.models.monitor import drift, progress, shadow

if TYPE_CHECKING:
    from djml.config import Config
    from djml.library import Library
    from djml.models.estimators import Estimator

log = logging.getLogger(__name__)

MIN_LABELS = 10      # below this (or < 2 classes) a personal model is not trained: all to review
MIN_PER_CLASS = 3    # classes with fewer labels are left out of training (and named)
# Labels that may be held out as truth: yours and imports (weight 1); for genre/mood also
# the file's own tags (the task exists to fill gaps in them), for samples also folder names.
TRUTH_WEIGHT = {"bucket": 1.0, "sample_type": 0.4, "genre": 0.5, "mood": 0.5}
HOLDOUT_FRACTION = 0.25
# Track heads see ~70 columns of which few matter (BPM above all) and learn from tens of
# labels: trying half the columns per split finds them; sqrt(70) = 8 mostly misses
# (generated beats, 50 labels, 8 styles: 0.67 -> 0.76 accuracy; benchmarks/active_learning.py).
TRACK_RF_PARAMS = {"n_estimators": 200, "max_features": 0.5}
# The shipped sample model and personal ones trained on top of it (≤ 200 leaves per tree
# keeps the file < 3 MB). Trying 35 % of the 259 columns per split instead of sqrt (16):
# leave-one-kit-out drum accuracy 0.883 -> 0.902 (benchmarks/sample_classifier.py).
SAMPLE_ET_PARAMS = {"n_estimators": 150, "max_leaf_nodes": 200, "max_features": 0.35}
MIN_COMPARE = shadow.MIN_COMPARE   # shared held-out labels needed to judge a retrain
REJECT_P = shadow.REJECT_P         # significance of "worse" that rejects it (see shadow)
DEFAULT_BACKEND = {"sample_type": "et", "bucket": "rf", "genre": "rf", "mood": "rf"}
BACKENDS_BY_TASK = {"sample_type": ("et", "rf", "hgb", "cnn"), "bucket": ("rf", "hybrid"),
                    "genre": ("rf", "hybrid"), "mood": ("rf", "hybrid")}


class TrainError(ValueError):
    """Training cannot run as asked (unknown task/model combination)."""


# -- predicting -------------------------------------------------------------------------------


def unsure_reasons(row: ItemRow, confidence: float | None, threshold: float) -> list[str]:
    """Why a prediction needs a human: low confidence, or facts the DJ relies on are missing."""
    reasons = []
    if confidence is None:
        reasons.append("no model yet")
    elif confidence < threshold:
        reasons.append(f"low confidence {confidence:.2f}")
    if row.kind == "track":
        if row.bpm is None:
            reasons.append("missing BPM")
        elif row.bpm_ambiguous:
            reasons.append("BPM octave ambiguous")
        if row.key is None:
            reasons.append("missing key")
    return reasons


def _active_estimator(library: "Library", task: str) -> tuple[dict[str, Any] | None, "Estimator | None", str | None]:
    row = registry.ensure_shipped(library) if task == "sample_type" else registry.active(library.conn, task)
    if row is None:
        return None, None, None
    try:
        return row, registry.load(row), None
    except Exception as exc:  # ModelFileError, or unpickling classes from another version
        log.warning("cannot load %s model %s: %s", task, row["version"], exc)
        return row, None, f"model {row['version']} cannot be loaded: {exc}"


def usable(rows: Sequence[ItemRow], spec: FeatureSpec) -> tuple[list[ItemRow], list[ItemRow]]:
    """Split rows into (have every vector the spec needs, lack one)."""
    ok, missing = [], []
    dims = getattr(spec, "dims", {}) or {}
    for r in rows:
        good = all(s in r.vectors and (s not in dims or r.vectors[s].size == dims[s]) for s in spec.spaces)
        (ok if good else missing).append(r)
    return ok, missing


def predict_items(library: "Library", config: "Config", item_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Predict every applicable task for the items with the active models and store the
    predictions (label, confidence, top 3, unsure, model_version). Returns one dict per
    (item, task) for events: item_id, task, label, confidence, top, unsure, reasons,
    model_version (label None when no model can predict yet)."""
    ids = list(item_ids)
    if not ids:
        return []
    base = load_rows(library.conn, ids)
    out: list[dict[str, Any]] = []
    for kind, tasks in TASKS_BY_KIND.items():
        rows = [r for r in base if r.kind == kind]
        if not rows:
            continue
        if kind == "sample":
            _store_folder_labels(library, config, rows)
        for task in tasks:
            out.extend(_predict_task(library, config, task, rows))
    return out


def _predict_task(library: "Library", config: "Config", task: str, rows: list[ItemRow]) -> list[dict[str, Any]]:
    row, est, error = _active_estimator(library, task)
    results: list[dict[str, Any]] = []
    if est is not None:
        with_vectors = load_rows(library.conn, [r.id for r in rows], spaces=est.features.spaces)
        if "text" in est.features.spaces:
            from djml.models import text

            text.ensure_embeddings(library, with_vectors)
        ok, missing = usable(with_vectors, est.features)
        try:
            proba = est.predict_proba(ok) if ok else np.zeros((0, len(est.classes_)))
        except FeatureError as exc:
            ok, missing, error = [], with_vectors, str(exc)
        for r, p in zip(ok, proba):
            order = np.argsort(-p)[:3]
            top = [[str(est.classes_[j]), round(float(p[j]), 4)] for j in order]
            reasons = unsure_reasons(r, float(p[order[0]]), config.review_threshold)
            results.append({"item_id": r.id, "task": task, "label": top[0][0], "confidence": top[0][1],
                            "top": top, "unsure": bool(reasons), "reasons": reasons,
                            "model_version": row["version"]})
        library.store_predictions(results)
        rows = missing
        error = error or (f"{len(missing)} item(s) lack vectors the model needs" if missing else None)
    for r in rows:
        results.append({"item_id": r.id, "task": task, "label": None, "confidence": None, "top": [],
                        "unsure": True, "reasons": unsure_reasons(r, None, config.review_threshold),
                        "model_version": row["version"] if row else None, "error": error})
    return results


def _store_folder_labels(library: "Library", config: "Config", rows: list[ItemRow]) -> None:
    """Sample-pack folder names ("Kicks/", "Hats/") become weak labels (source 'folder')
    for samples that never had a label; a user label always wins (it is newer), and a
    folder label the user undid (`djml unlabel`) is not added back."""
    have = {r[0] for r in library.conn.execute("SELECT DISTINCT item_id FROM labels WHERE task = 'sample_type'")}
    new = []
    for r in rows:
        if r.id in have or not r.path:
            continue
        if label := label_sources.folder_label(r.path, config.samples):
            new.append((r.id, "sample_type", label))
    if new:
        library.import_labels(new, "folder")


# -- labels and retraining --------------------------------------------------------------------


def new_labels_since_training(conn: sqlite3.Connection, task: str) -> int:
    current = registry.active(conn, task)
    since = current["created_at"] if current else ""
    return conn.execute(
        "SELECT COUNT(*) FROM labels WHERE task = ? AND undone_at IS NULL AND source IN ('user', 'import')"
        " AND created_at > ?", (task, since)).fetchone()[0]


def on_label(library: "Library", config: "Config", item_id: int, task: str) -> dict[str, Any]:
    """Called after a label is set: counts labels since the active model was trained and
    says whether to retrain (``train_needed``); the daemon runs :func:`train` off the hot path.
    A first personal model is wanted as soon as enough labels exist to train one."""
    conn = library.conn
    fresh = new_labels_since_training(conn, task)
    known = label_sources.training_labels(conn, task)
    classes = {label for label, _ in known.values()}
    has_model = registry.active(conn, task) is not None
    enough = len(known) >= MIN_LABELS and len(classes) >= 2
    needed = fresh >= config.retrain_after or (not has_model and enough and task != "sample_type")
    return {"item_id": item_id, "task": task, "new_labels": fresh, "labels": len(known),
            "classes": len(classes), "train_needed": bool(needed and enough)}


# -- review queue -----------------------------------------------------------------------------


def review_queue(conn: sqlite3.Connection, config: "Config", task: str | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Items to review, best teaching value first (see :mod:`djml.models.review`)."""
    from djml.models.review import queue

    return queue(conn, config, task, limit)


# -- training ---------------------------------------------------------------------------------


def make_estimator(task: str, backend: str, logmel_shape: tuple[int, int] | None = None) -> "Estimator":
    from djml.models.estimators import Estimator
    from djml.models.features import LogmelFeatures, SampleFeatures, TrackFeatures

    if backend not in BACKENDS_BY_TASK[task]:
        raise TrainError(f"model {backend!r} is not available for {task} "
                         f"(choose from {', '.join(BACKENDS_BY_TASK[task])})")
    if task == "sample_type":
        spec: FeatureSpec = LogmelFeatures(logmel_shape) if backend == "cnn" else SampleFeatures()
    elif task == "bucket":
        # the audio vector carries what BPM/key/energy miss (drum density, brightness, pulse):
        # on generated beats it lifted 200-label style accuracy from 0.72 to 0.86; the rhythm
        # pattern (four-on-the-floor vs broken beat) lifted 50-label accuracy 0.77 -> 0.93
        spec = TrackFeatures(genre_tokens=True, audio=True, rhythm=True, text=backend == "hybrid")
    else:  # genre / mood: the tag is the target, so no genre tokens and no text (it embeds genres)
        spec = TrackFeatures(genre_tokens=False, audio=True, rhythm=True)
    params = SAMPLE_ET_PARAMS if (task, backend) == ("sample_type", "et") else (
        TRACK_RF_PARAMS if backend == "rf" and task != "sample_type" else None)
    return Estimator(task, backend, spec, params=params)


def training_data(library: "Library", task: str,
                  spaces: Sequence[str]) -> tuple[list[ItemRow], list[str], np.ndarray, int]:
    """Labelled rows of ``task`` that have the needed vectors (text embeddings are computed
    for those that lack them), with labels and weights, and how many labelled items were
    left out for lack of a vector (analysed by an older analyzer and not re-analysed yet,
    or not analysable): the caller tells the user rather than train on fewer in silence."""
    known = label_sources.training_labels(library.conn, task)
    rows = [r for r in load_rows(library.conn, sorted(known), spaces=spaces) if r.kind == KIND_OF_TASK[task]]
    if "text" in spaces:
        from djml.models import text

        text.ensure_embeddings(library, rows)
    complete = [r for r in rows if all(s in r.vectors for s in spaces)]
    labels = [known[r.id][0] for r in complete]
    return complete, labels, np.array([known[r.id][1] for r in complete], np.float32), len(rows) - len(complete)


def split_holdout(labels: Sequence[str], weights: np.ndarray, seed: int = 0,
                  prefer: np.ndarray | None = None, min_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/holdout indices. Only labels trusted as truth (weight >= ``min_weight``:
    yours; for genre also file tags, for samples also folder names) are held out, and only
    from classes with at least 2 of them, so every held-out class is also trained on.
    Items flagged in ``prefer`` (labels the active model has not seen) are held out first."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    y = np.asarray(labels)
    first = np.zeros(len(y), bool) if prefer is None else np.asarray(prefer, bool)
    for c in sorted(set(labels)):
        strong = np.flatnonzero((y == c) & (weights >= min_weight - 1e-6))
        if len(strong) >= 2:
            k = max(1, int(round(len(strong) * HOLDOUT_FRACTION)))
            strong = rng.permutation(strong)
            held.extend(strong[np.argsort(~first[strong], kind="stable")][:k].tolist())
    mask = np.zeros(len(y), bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def unseen_by(conn: sqlite3.Connection, task: str, model_row: dict[str, Any] | None,
              item_ids: Sequence[int]) -> np.ndarray:
    """Which items' labels the model ``model_row`` cannot have trained on: labelled after it
    was created, or any label when it is the shipped model (trained on no user's labels).
    Comparing two models is fair only on such items: on its own training labels the active
    model looks nearly perfect, and every new model would be rejected."""
    if model_row is None or model_row["path"].startswith(registry.PACKAGE_PREFIX):
        return np.ones(len(item_ids), bool)
    newest = dict(conn.execute(
        "SELECT item_id, MAX(created_at) FROM labels WHERE task = ? AND undone_at IS NULL GROUP BY item_id",
        (task,)).fetchall())
    return np.array([(newest.get(i) or "") > model_row["created_at"] for i in item_ids], bool)


def p_worse(y_true: Sequence[str], before: Sequence[str], after: Sequence[str]) -> float:
    """One-sided exact McNemar p-value of "the new model is worse" (:func:`shadow.p_worse`)."""
    return shadow.p_worse(list(map(str, y_true)), list(map(str, before)), list(map(str, after)))


def train(library: "Library", config: "Config", task: str, model: str | None = None, *,
          reason: str = "manual", clock: float | None = None) -> dict[str, Any]:
    """:func:`train_version`, logged in ``training_runs`` with ``reason`` (schedule, drift,
    new labels, manual) and the labels it saw, with live progress for the dashboard.
    ``clock``: the caller's time (the daemon's monitor may run on an injected clock)."""
    import time

    from djml.db import now
    from djml.models.monitor import progress, runs

    if task not in TASKS:
        raise TrainError(f"unknown task {task!r}")
    started, started_at = time.monotonic(), now()
    state = runs.labels_state(library.conn, task)
    progress.start(task, reason, runs.expected_seconds(library.conn, task))
    try:
        result = train_version(library, config, task, model)
    except TrainError:
        raise
    except Exception as exc:
        runs.record(library, task, reason, {"status": "failed", "error": str(exc)}, state,
                    time.monotonic() - started, clock if clock is not None else time.time(), started_at)
        raise
    finally:
        progress.finish(task)
    result["reason"] = reason
    result["run_id"] = runs.record(library, task, reason, result, state, time.monotonic() - started,
                                   clock if clock is not None else time.time(), started_at)
    return result


def train_version(library: "Library", config: "Config", task: str, model: str | None = None) -> dict[str, Any]:
    """Train a new version of ``task``; compare with the active model on a held-out slice of
    the user's labels; activate it unless it is significantly worse (then it is kept as
    'rejected' and the old model stays: automatic rollback). Re-predicts the task's items
    when activated.

    Refused (status ``not_enough_labels``, nothing registered) when fewer than MIN_LABELS
    labels in at least 2 classes of MIN_PER_CLASS or more remain: smaller classes are left
    out and named, since a class with one or two examples teaches noise (22 tracks in 18
    genres once gave a model with nothing to measure it on). For samples a class the
    shipped base set teaches is never too small: one correction on top of it is fine.
    Status ``unchanged`` (no new version) when a version was already trained on exactly
    these labels."""
    from djml.models.evaluate import accuracy, macro_f1, wilson

    if task not in TASKS:
        raise TrainError(f"unknown task {task!r}")
    backend = model or DEFAULT_BACKEND[task]
    shape = _logmel_shape() if backend == "cnn" else None
    est = make_estimator(task, backend, shape)
    rows, labels, weights, left_out = training_data(library, task, est.features.spaces)
    base = _base_set(library, est) if task == "sample_type" else None
    known = set(base[1]) if base else set()   # classes the shipped base set already teaches
    counts = dict(sorted(Counter(labels).items(), key=lambda kv: (-kv[1], kv[0])))
    too_small = {c: n for c, n in counts.items() if n < MIN_PER_CLASS and c not in known}
    keep = [i for i, label in enumerate(labels) if label not in too_small]
    rows, labels, weights = [rows[i] for i in keep], [labels[i] for i in keep], weights[keep]
    report = {"task": task, "labels": len(rows), "classes": len(set(labels) | known), "per_class": counts,
              "classes_left_out": too_small, "left_out": left_out}
    if len(rows) < MIN_LABELS or len(set(labels) | known) < 2:
        return {"status": "not_enough_labels", **report,
                "needed": f">= {MIN_LABELS} labels in >= 2 classes of >= {MIN_PER_CLASS} labels each"}
    fingerprint = _fingerprint(task, backend, rows, labels, weights, est, base)
    same = next((m for m in registry.list_models(library.conn, task)
                 if m["metrics"].get("labels_hash") == fingerprint), None)
    if same is not None:
        current = registry.active(library.conn, task)
        return {"status": "unchanged", **report, "version": same["version"],
                "active_version": current["version"] if current else None, "n_labels": len(rows),
                **{k: v for k, v in same["metrics"].items() if k.startswith(("holdout_", "n_holdout"))}}
    current_row, current, _ = _active_estimator(library, task)
    unseen = unseen_by(library.conn, task, current_row, [r.id for r in rows])
    train_idx, hold_idx = split_holdout(labels, weights, prefer=unseen, min_weight=TRUTH_WEIGHT[task])
    if not len(hold_idx):
        return {"status": "not_enough_labels", **report,
                "needed": "in at least one class two labels that can be held out to measure the model"
                          " (yours or imported; for genre also file tags; for samples also folder names)"}
    pick = lambda idx, seq: [seq[i] for i in idx]  # noqa: E731
    progress.stage(task, "training candidate", f"{len(train_idx)} labels, {len(hold_idx)} held out")
    with _quiet_learners():
        candidate = make_estimator(task, backend, shape).fit(
            pick(train_idx, rows), pick(train_idx, labels), weights=weights[train_idx], extra=base)
    metrics: dict[str, Any] = {"n_labels": len(rows), "n_holdout": int(len(hold_idx)), "backend": backend,
                               "left_out": left_out, "labels_hash": fingerprint, "classes_left_out": too_small}
    before_version = None
    hold_rows, hold_y = pick(hold_idx, rows), pick(hold_idx, labels)
    with _quiet_learners():
        after = candidate.predict(hold_rows)
    correct = int(sum(a == t for a, t in zip(after, hold_y)))
    metrics.update(holdout_accuracy=accuracy(hold_y, after), holdout_macro_f1=macro_f1(hold_y, after),
                   holdout_correct=correct, holdout_interval=list(wilson(correct, len(hold_y))))
    fair = [j for j, i in enumerate(hold_idx) if unseen[i]]
    if current is not None and len(fair) >= MIN_COMPARE:
        progress.stage(task, "shadow evaluation", f"{len(fair)} labels {current_row['version']} never saw")
        before_version = current_row["version"]
        fair_y = [hold_y[j] for j in fair]
        fair_ids = [hold_rows[j].id for j in fair]
        try:
            with _quiet_learners():
                before = current.predict(load_rows(library.conn, fair_ids, spaces=current.features.spaces))
            metrics.update(shadow.evaluate(fair_ids, fair_y, [str(b) for b in before],
                                           [str(after[j]) for j in fair], before_version))
        except FeatureError as exc:
            metrics["before_error"] = str(exc)
    rejected = metrics.get("shadow_decision") == "reject"
    metrics["rejected"] = rejected
    progress.stage(task, "training final model")
    with _quiet_learners():
        final = candidate if rejected else make_estimator(task, backend, shape).fit(
            rows, labels, weights=weights, extra=base)
    final.metadata["metrics"] = metrics
    version = registry.register(library, config, final, metrics, activate=not rejected)
    drift.store_snapshot(library, version, task, [r.id for r in rows], labels)
    result = {"status": "rejected" if rejected else "activated", **report, "version": version,
              "active_version": before_version if rejected else version, **metrics}
    if not rejected:
        progress.stage(task, "re-predicting")
        ids = [r[0] for r in library.conn.execute("SELECT id FROM items WHERE kind = ?", (KIND_OF_TASK[task],))]
        result["predicted"] = len(predict_items_for_task(library, config, task, ids))
    return result


def _fingerprint(task: str, backend: str, rows: Sequence[ItemRow], labels: Sequence[str], weights: np.ndarray,
                 est: "Estimator", base: Any) -> str:
    """What a training run learns from: task, model, feature layout, every (item, label,
    weight), the analysis behind each item's vectors and the shipped base set's size."""
    import hashlib

    h = hashlib.sha256(f"{task}\t{backend}\t{est.features.describe()!r}\t{len(base[1]) if base else 0}\n".encode())
    for r, label, w in sorted(zip(rows, labels, weights.tolist()), key=lambda t: t[0].id):
        h.update(f"{r.id}\t{label}\t{w:.3f}\t{r.analyzer_version}\n".encode())
    return h.hexdigest()


@contextmanager
def _quiet_learners() -> Iterator[None]:
    """scikit-learn and torch warn per fit about small classes and converging slowly; the
    refusals above handle the cause, and hundreds of lines on the terminal help nobody."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(sklearn|torch)(\..*)?")
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"numpy(\..*)?")
        yield


def predict_items_for_task(library: "Library", config: "Config", task: str, item_ids: list[int]) -> list[dict[str, Any]]:
    """Re-predict one task for many items (after training), in chunks."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(item_ids), 2000):
        rows = load_rows(library.conn, item_ids[start:start + 2000])
        out.extend(_predict_task(library, config, task, rows))
    return out


def _base_set(library: "Library", est: "Estimator") -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """The shipped training set (engineered features), when its feature layout matches the
    estimator's: user corrections are then learnt *on top of* the shipped knowledge."""
    from djml.models.shipped_data import load_base

    return load_base(est)


def _logmel_shape() -> tuple[int, int]:
    from djml.models.shipped_data import logmel_shape

    return logmel_shape()
