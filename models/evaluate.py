"""Classification metrics, cross-validation and model comparison, in plain numpy.

No sklearn import for the metrics themselves: they are cheap and used by `djml models
compare`, which should not pay 1.8 s for ``sklearn.metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from djml.models.figures import figure, figure_text, wilson  # noqa: F401 - re-exported for callers of evaluate


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    if not len(y_true):
        return float("nan")
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """(classes, matrix) with rows = true class, columns = predicted class."""
    classes = list(classes or sorted(set(y_true) | set(y_pred)))
    index = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        m[index[t], index[p]] += 1
    return classes, m


def per_class(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, dict[str, float]]:
    classes, m = confusion(y_true, y_pred)
    out = {}
    for i, c in enumerate(classes):
        tp, predicted, actual = m[i, i], m[:, i].sum(), m[i, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(actual)}
    return out


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Mean F1 over the classes that occur in ``y_true``."""
    stats = per_class(y_true, y_pred)
    present = [s["f1"] for s in stats.values() if s["support"] > 0]
    return float(np.mean(present)) if present else float("nan")


def report(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    classes, m = confusion(y_true, y_pred)
    return {"n": len(y_true), "accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred),
            "per_class": per_class(y_true, y_pred), "confusion": {"classes": classes, "matrix": m.tolist()}}


def stratified_folds(labels: Sequence[str], k: int, seed: int = 0) -> list[np.ndarray]:
    """k disjoint test-index arrays; each class is dealt round-robin after shuffling."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for c in sorted(set(labels)):
        idx = rng.permutation(np.flatnonzero(y == c))
        for j, i in enumerate(idx):
            folds[(j + offset) % k].append(int(i))
        offset += len(idx)
    return [np.array(sorted(f), dtype=np.int64) for f in folds if f]


FoldRunner = Callable[[Callable[[np.ndarray, np.ndarray], list[str]], list[tuple[np.ndarray, np.ndarray]]],
                      list[list[str]]]


def run_folds_here(fit_predict: Callable[[np.ndarray, np.ndarray], list[str]],
                   splits: list[tuple[np.ndarray, np.ndarray]]) -> list[list[str]]:
    return [fit_predict(train, test) for train, test in splits]


def cross_validate(n: int, labels: Sequence[str], folds: list[np.ndarray],
                   fit_predict: Callable[[np.ndarray, np.ndarray], list[str]],
                   run_folds: FoldRunner = run_folds_here) -> dict[str, Any]:
    """Run ``fit_predict(train_idx, test_idx) -> predictions`` per fold (``run_folds``
    decides where: here, or as cluster tasks); pooled report plus per-fold accuracy mean ± std."""
    y = np.asarray(labels)
    pred = np.empty(n, dtype=object)
    fold_acc, fold_f1 = [], []
    splits = [(np.setdiff1d(np.arange(n), test), test) for test in folds]
    for (train, test), p in zip(splits, run_folds(fit_predict, splits)):
        pred[test] = p
        fold_acc.append(accuracy(y[test], p))
        fold_f1.append(macro_f1(y[test], p))
    tested = np.concatenate(folds)
    out = report(list(y[tested]), list(pred[tested]))
    out.update(folds=len(folds), accuracy_mean=float(np.mean(fold_acc)), accuracy_std=float(np.std(fold_acc)),
               macro_f1_mean=float(np.nanmean(fold_f1)), macro_f1_std=float(np.nanstd(fold_f1)),
               predictions=[str(p) for p in pred])
    return out


def mcnemar(y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> dict[str, Any]:
    """Exact (binomial) McNemar test on the same items: is A's accuracy different from B's?

    b = items only A got right, c = items only B got right; p = two-sided binomial tail of
    min(b, c) in b + c fair coin flips (exact, so it is valid for the small counts a
    personal library produces)."""
    t, a, b_ = map(np.asarray, (y_true, pred_a, pred_b))
    only_a = int(np.sum((a == t) & (b_ != t)))
    only_b = int(np.sum((a != t) & (b_ == t)))
    n = only_a + only_b
    k = min(only_a, only_b)
    p = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    return {"n": len(t), "accuracy_a": accuracy(t, a), "accuracy_b": accuracy(t, b_),
            "only_a_correct": only_a, "only_b_correct": only_b, "p_value": p}
