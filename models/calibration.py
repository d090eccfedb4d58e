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


def ece_if_calibrated(confidence: np.ndarray, bins: int = ECE_BINS, draws: int = 2000,
                      seed: int = 0) -> tuple[float, float]:
    """(median, 95th percentile) of the ECE that a *perfectly calibrated* model would show
    with these top-1 confidences: each prediction right with probability its confidence.

    Why: ECE is biased upwards and noisy on few items (a bin of 3 predictions at 0.7 is
    either 0.33 or 0.67 right). On a 35-file source a calibrated model scores a median ECE
    near 0.14, so a per-source target of 0.08 is only testable where this floor is well
    under it; an ECE above the 95th percentile is miscalibration, not chance."""
    conf = np.asarray(confidence, dtype=np.float64)
    if not len(conf):
        return float("nan"), float("nan")
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    onehot = np.eye(bins)[which]                        # (n, bins)
    count = onehot.sum(axis=0)
    used = count > 0
    conf_sum = conf @ onehot
    right = np.random.default_rng(seed).random((draws, len(conf))) < conf
    right_sum = right.astype(np.float64) @ onehot       # (draws, bins)
    gaps = np.abs(right_sum[:, used] - conf_sum[used]) / len(conf)
    sims = gaps.sum(axis=1)
    return float(np.median(sims)), float(np.quantile(sims, 0.95))


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


# -- calibration maps that can be stored as JSON (numpy-only at inference) -------------------
#
# A temperature has one degree of freedom: it cannot sharpen confident predictions while
# softening unsure ones. The maps below are monotone (isotonic) fits, stored as breakpoints
# and applied with ``np.interp``:
#
# * ``top``: the top-1 confidence -> the fraction right (top-label calibration); the
#   decision never changes and the other classes share the rest in proportion.
# * ``ovr``: every class's probability -> how often that class is the truth (one vs rest),
#   rows renormalised; this may change a decision.

METHODS = ("none", "temperature", "top", "ovr")


def isotonic(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[list[float], list[float]]:
    """Weighted pool-adjacent-violators fit of a non-decreasing y(x); breakpoints for np.interp
    (each pooled block becomes a flat step from its smallest to its largest x)."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="stable")
    x, y = x[order], np.asarray(y, np.float64)[order]
    w = np.ones(len(x)) if w is None else np.asarray(w, np.float64)[order]
    vals: list[float] = []
    wts: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    for xi, yi, wi in zip(x, y, w):
        vals.append(yi)
        wts.append(wi)
        lo.append(xi)
        hi.append(xi)
        while len(vals) > 1 and vals[-2] >= vals[-1]:
            total = wts[-2] + wts[-1]
            vals[-2] = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / max(total, 1e-12)
            wts[-2] = total
            hi[-2] = hi[-1]
            del vals[-1], wts[-1], lo[-1], hi[-1]
    xs, ys = [], []
    for v, a, b in zip(vals, lo, hi):
        xs += [a, b] if b > a else [a]
        ys += [v, v] if b > a else [v]
    return [round(float(v), 6) for v in xs], [round(float(v), 6) for v in ys]


def fit_map(method: str, proba: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> dict:
    """A JSON-able calibration map of ``method`` fitted on held-out predictions."""
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if method == "none" or not len(y):
        return {"method": "none"}
    if method == "temperature":
        return {"method": "temperature", "temperature": fit_temperature(proba, y, w)}
    if method == "top":
        conf = proba.max(axis=1)
        xs, ys = isotonic(conf, (proba.argmax(axis=1) == y).astype(np.float64), w)
        return {"method": "top", "x": xs, "y": ys}
    if method == "ovr":
        maps = [isotonic(proba[:, k], (y == k).astype(np.float64), w) for k in range(proba.shape[1])]
        return {"method": "ovr", "x": [m[0] for m in maps], "y": [m[1] for m in maps]}
    raise ValueError(f"unknown calibration method {method!r} (one of {METHODS})")


def apply_map(proba: np.ndarray, cal: dict) -> np.ndarray:
    """Calibrated probabilities (rows sum to 1)."""
    proba = np.asarray(proba, np.float64)
    method = cal.get("method", "none")
    if method == "none":
        return proba.astype(np.float32)
    if method == "temperature":
        return apply_temperature(proba, float(cal["temperature"]))
    if method == "top":
        return _rescale_top(proba, np.interp(proba.max(axis=1), cal["x"], cal["y"]))
    if method == "ovr":
        out = np.stack([np.interp(proba[:, k], cal["x"][k], cal["y"][k]) for k in range(proba.shape[1])], axis=1)
        out = np.maximum(out, 1e-6) * (proba > 0)        # a class the model cannot give stays at 0
        out = np.where(out.sum(1, keepdims=True) > 0, out, proba)
        return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)
    raise ValueError(f"unknown calibration method {method!r} (one of {METHODS})")


def _rescale_top(proba: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Set each row's top probability to ``top`` (kept the largest) and share ``1 - top``
    among the other classes in proportion, moved towards uniform just enough that none of
    them exceeds the top one."""
    n, k = proba.shape
    arg = proba.argmax(axis=1)
    rows = np.arange(n)
    top = np.clip(top, 1.0 / k + 1e-4, 1.0)
    rest = proba.copy()
    rest[rows, arg] = 0
    share = rest / np.maximum(rest.sum(axis=1, keepdims=True), 1e-12)
    share = np.where(rest.sum(axis=1, keepdims=True) > 0, share, (1.0 / (k - 1)) * (np.arange(k) != arg[:, None]))
    uniform = (1.0 / (k - 1)) * (np.arange(k) != arg[:, None])
    q = share.max(axis=1)
    room = (1 - 1e-4) * top / np.maximum(1 - top, 1e-12)   # largest share a class may keep (strictly below the top)
    a = np.clip((q - room) / np.maximum(q - 1.0 / (k - 1), 1e-12), 0, 1)
    share = (1 - a)[:, None] * share + a[:, None] * uniform
    out = share * (1 - top)[:, None]
    out[rows, arg] = top
    return out.astype(np.float32)
