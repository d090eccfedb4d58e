"""Confidence calibration: temperature scaling and expected calibration error (numpy).

Why: the review threshold ("send anything below 0.6 to the queue") only means what it says
if a prediction at 0.8 is right about 80 % of the time on packs the model never heard.
Forest probabilities are over-confident on a new source (every tree learnt the same
recordings) or under-confident (votes split over near-identical classes); one temperature
``T`` fitted on held-out sources' predictions (``softmax(log p / T)``) fixes most of it
without changing any decision (the arg-max stays the same).
"""

from __future__ import annotations

import numpy as np

from djml.models.forest_arrays import apply_temperature

TEMPERATURES = np.exp(np.linspace(np.log(0.2), np.log(5.0), 81))
ECE_BINS = 10


def nll(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes (``y``: column indices)."""
    return float(-np.log(np.maximum(proba[np.arange(len(y)), y], 1e-6)).mean())


def fit_temperature(proba: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """The T on a log grid (0.2..5) minimising the (weighted) NLL of held-out predictions."""
    if not len(y):
        return 1.0
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    best, best_loss = 1.0, np.inf
    for t in TEMPERATURES:
        p = apply_temperature(proba, float(t))
        loss = float(-(w * np.log(np.maximum(p[np.arange(len(y)), y], 1e-6))).sum() / w.sum())
        if loss < best_loss - 1e-9:
            best, best_loss = float(t), loss
    return best


def ece(proba: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: |accuracy - confidence| per equal-width confidence bin,
    weighted by the bin's share of items (top-1 confidence)."""
    if not len(y):
        return float("nan")
    conf = proba.max(axis=1)
    right = (proba.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(right[mask].mean() - conf[mask].mean())
    return float(total)


def reliability(proba: np.ndarray, y: np.ndarray, bins: int = 5) -> list[dict[str, float]]:
    """Per confidence bin: n, mean confidence, accuracy (for the model card's table)."""
    conf = proba.max(axis=1)
    right = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (conf >= lo) & ((conf < hi) if hi < 1 else (conf <= hi))
        if mask.any():
            out.append({"from": float(lo), "to": float(hi), "n": int(mask.sum()),
                        "confidence": float(conf[mask].mean()), "accuracy": float(right[mask].mean())})
    return out
