"""Evaluation on the user's own labels: k-fold CV of a model type, version comparison
(McNemar on the same items) and per-item explanations for ``--debug``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from djml.models import labels as label_sources
from djml.models import registry
from djml.models.evaluate import FoldRunner, cross_validate, mcnemar, run_folds_here, stratified_folds
from djml.models.features import load_rows
from djml.models.service import (
    DEFAULT_BACKEND,
    MIN_COMPARE,
    _base_set,
    _logmel_shape,
    make_estimator,
    training_data,
    unseen_by,
    usable,
)

if TYPE_CHECKING:
    from djml.library import Library


def cross_validate_task(library: "Library", task: str, backend: str | None, folds: int,
                        run_folds: FoldRunner = run_folds_here) -> dict[str, Any]:
    """k-fold CV of ``backend`` on the labels of ``task`` (the shipped base set, when it
    applies, is added to every training fold but never tested on). ``run_folds``: where
    the folds run (see :func:`djml.cluster.fold_runner`)."""
    backend = backend or DEFAULT_BACKEND[task]
    shape = _logmel_shape() if backend == "cnn" else None
    proto = make_estimator(task, backend, shape)
    rows, labels, weights, left_out = training_data(library, task, proto.features.spaces)
    base = _base_set(library, proto) if task == "sample_type" else None
    if len(rows) < folds or len(set(labels)) < 2:
        return {"error": f"{task}: {len(rows)} labelled item(s) in {len(set(labels))} class(es);"
                         f" {folds}-fold CV needs at least {folds} items in 2 classes"}

    def fit_predict(train, test):
        est = make_estimator(task, backend, shape).fit(
            [rows[i] for i in train], [labels[i] for i in train], weights=weights[train], extra=base)
        return est.predict([rows[i] for i in test])

    result = cross_validate(len(rows), labels, stratified_folds(labels, folds), fit_predict, run_folds)
    result.update(task=task, backend=backend, with_shipped_base=base is not None, left_out=left_out)
    return result


def compare_versions(library: "Library", a: str, b: str) -> dict[str, Any]:
    """Both versions predict the same user-labelled items; McNemar's exact test.

    The fair comparison uses only labels neither version trained on (made after both, or
    any label for the shipped model); when there are too few, all labels are used and the
    note says that a version is then partly scored on its own training labels."""
    row_a, row_b = registry.get(library.conn, a), registry.get(library.conn, b)
    if row_a["task"] != row_b["task"]:
        raise registry.RegistryError(f"{a} is a {row_a['task']} model, {b} a {row_b['task']} model")
    task = row_a["task"]
    est_a, est_b = registry.load(row_a), registry.load(row_b)
    truth = {i: lab for i, (lab, src) in label_sources.current_labels(library.conn, task).items()
             if src in label_sources.STRONG_SOURCES}
    spaces = tuple(dict.fromkeys(est_a.features.spaces + est_b.features.spaces))
    rows = load_rows(library.conn, sorted(truth), spaces=spaces)
    rows, _ = usable(rows, est_a.features)
    rows, _ = usable(rows, est_b.features)
    if not rows:
        return {"task": task, "n": 0}
    ids = [r.id for r in rows]
    fair = unseen_by(library.conn, task, row_a, ids) & unseen_by(library.conn, task, row_b, ids)
    if int(fair.sum()) >= MIN_COMPARE:
        rows = [r for r, ok in zip(rows, fair) if ok]
        note = f"on the {len(rows)} labels of yours that neither version trained on"
    else:
        note = (f"on all {len(rows)} labels of yours: only {int(fair.sum())} are new to both versions"
                " (fewer than 5), so a version is partly scored on its own training labels")
    y = [truth[r.id] for r in rows]
    result = mcnemar(y, est_a.predict(rows), est_b.predict(rows))
    result.update(task=task, a=a, b=b, fair=bool(fair.sum() >= MIN_COMPARE), note=note)
    result["shadow"] = _shadow_between(library, row_a, row_b)
    return result


def _shadow_between(library: "Library", row_a: dict[str, Any], row_b: dict[str, Any]) -> str | None:
    """The shadow evaluation one of the two versions had against the other when it was
    trained (both on the same held-out labels), as a line; None if neither had one."""
    from djml.models.monitor import shadow
    from djml.models.monitor.versions import short_name

    for new, old in ((row_a, row_b), (row_b, row_a)):
        figures = shadow.summary(new["metrics"])
        if figures and figures["before_version"] == old["version"]:
            task = new["task"]
            return shadow.text(figures, short_name(library.conn, task, new["version"]),
                               short_name(library.conn, task, old["version"]))
    return None


def explain_item(library: "Library", task: str, item_id: int, k: int = 5) -> dict[str, Any]:
    """Top feature contributions (occlusion) and the nearest labelled items in the model's
    feature space, for ``djml predict --debug``."""
    row = registry.active(library.conn, task)
    if row is None:
        return {"lines": ["no active model"]}
    est = registry.load(row)
    target = load_rows(library.conn, [item_id], spaces=est.features.spaces)
    target, _ = usable(target, est.features)
    if not target:
        return {"lines": ["item lacks the vectors this model needs"]}
    contributions = est.explain(target)[0]
    lines = ["features that moved the prediction most (drop in probability when replaced by the mean):"]
    lines += [f"  {name:<28} {delta:+.3f}" for name, delta in contributions]
    known = label_sources.training_labels(library.conn, task)
    others = [r for r in load_rows(library.conn, sorted(set(known) - {item_id}), spaces=est.features.spaces)]
    others, _ = usable(others, est.features)
    neighbours = []
    if others:
        X = est.features.transform(others).reshape(len(others), -1)
        x = est.features.transform(target).reshape(1, -1)
        mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-6
        d = np.linalg.norm((X - mu) / sd - (x - mu) / sd, axis=1)
        for j in np.argsort(d)[:k]:
            r = others[j]
            name = " – ".join(v for v in (r.artist, r.title) if v) or (r.path or f"#{r.id}")
            neighbours.append({"item_id": r.id, "label": known[r.id][0], "distance": float(d[j]), "name": name})
        lines.append("nearest labelled items:")
        lines += [f"  {n['label']:<14} d={n['distance']:.2f}  #{n['item_id']} {n['name']}" for n in neighbours]
    return {"lines": lines, "features": contributions, "neighbours": neighbours}
