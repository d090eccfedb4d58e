"""Nested leave-one-source-out evaluation with blending and calibration tuned inside.

Why nested: a setting (the CNN's share of an ensemble, the calibration temperature) chosen
on the same predictions it is scored on flatters the score. Here, for every held-out source
``s``, the setting is chosen on *inner* out-of-source predictions: the training sources
are split into ``inner_k`` groups of whole sources, each predicted by models trained on
the rest; only then are the models retrained on every training source and ``s`` scored.
Augmented copies carry their original's source, so they are held out with it and never
scored (``scored`` marks originals).

A fitter is ``fit(train_idx) -> predict(test_idx) -> proba`` over the global class list.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from djml.models.calibration import fit_temperature
from djml.models.forest_arrays import apply_temperature

Fitter = Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]
BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)   # share of the second model (the CNN)


@dataclass
class Outcome:
    """Held-out probabilities of every scored item, per model, and the settings chosen."""
    proba: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, dict] = field(default_factory=dict)   # source -> chosen weight / T
    seconds: dict[str, float] = field(default_factory=dict)


def source_folds(sources: Sequence[str], counts: dict[str, int], k: int) -> list[list[str]]:
    """Whole sources dealt into ``k`` groups of similar size (largest first)."""
    folds: list[list[str]] = [[] for _ in range(min(k, len(sources)))]
    sizes = [0] * len(folds)
    for s in sorted(sources, key=lambda s: (-counts[s], s)):
        i = int(np.argmin(sizes))
        folds[i].append(s)
        sizes[i] += counts[s]
    return folds


def blend(a: np.ndarray, b: np.ndarray | None, w: float) -> np.ndarray:
    return a if b is None or w == 0 else (1 - w) * a + w * b


def choose_blend(pa: np.ndarray, pb: np.ndarray | None, y: np.ndarray, weights: np.ndarray) -> float:
    """The blend weight with the best weighted accuracy (ties: less of the second model)."""
    if pb is None:
        return 0.0
    scores = [float((weights * (blend(pa, pb, w).argmax(1) == y)).sum()) for w in BLEND_GRID]
    return BLEND_GRID[int(np.argmax(scores))]


def outer_loso(y: np.ndarray, sources: np.ndarray, scored: np.ndarray, fitter: Fitter) -> np.ndarray:
    """Held-out probabilities of every scored item from models that never saw its source
    (plain LOSO, nothing tuned: what the shipped temperature is fitted on)."""
    proba = np.zeros((len(y), int(y.max()) + 1), np.float32)
    for s in sorted(set(sources)):
        test = np.flatnonzero((sources == s) & scored)
        proba[test] = fitter(np.flatnonzero(sources != s))(test)
    return proba


def nested_loso(y: np.ndarray, sources: np.ndarray, scored: np.ndarray, fitters: dict[str, Fitter], *,
                primary: str, secondary: str | None = None, inner_k: int = 3,
                balance: Callable[[np.ndarray], np.ndarray] | None = None, log=print) -> Outcome:
    """Outer LOSO of every fitter; for ``primary`` (and its blend with ``secondary``) the
    blend weight and the temperature are chosen per held-out source on inner folds.

    Adds ``<primary>+cal`` (primary, calibrated) and, with a secondary, ``blend+cal``.
    ``balance(idx)`` gives the weights the choice uses (default: equal per item)."""
    n_classes = int(y.max()) + 1
    out = Outcome()
    for name in fitters:
        out.proba[name] = np.zeros((len(y), n_classes), np.float32)
        out.seconds[name] = 0.0
    out.proba[f"{primary}+cal"] = np.zeros((len(y), n_classes), np.float32)
    if secondary:
        out.proba["blend+cal"] = np.zeros((len(y), n_classes), np.float32)
    counts = {s: int((sources == s).sum()) for s in set(sources)}
    tuned = [m for m in (primary, secondary) if m]
    for s in sorted(counts):
        train = np.flatnonzero(sources != s)
        test = np.flatnonzero((sources == s) & scored)
        if not len(test):       # a source of augmented copies only: nothing to score
            continue
        inner: dict[str, np.ndarray] = {m: np.zeros((len(y), n_classes), np.float32) for m in tuned}
        inner_scored = np.zeros(len(y), bool)
        for fold in source_folds(sorted(set(sources[train])), counts, inner_k):
            held = np.isin(sources, fold)
            inner_test = np.flatnonzero(held & scored)
            for m in tuned:
                t0 = time.perf_counter()
                inner[m][inner_test] = fitters[m](np.flatnonzero(~held & (sources != s)))(inner_test)
                out.seconds[m] += time.perf_counter() - t0
            inner_scored[inner_test] = True
        idx = np.flatnonzero(inner_scored)
        w_items = balance(idx) if balance else np.ones(len(idx))
        t_primary = fit_temperature(inner[primary][idx], y[idx], w_items)
        settings = {"temperature": t_primary}
        if secondary:
            w = choose_blend(inner[primary][idx], inner[secondary][idx], y[idx], w_items)
            settings.update(blend=w, blend_temperature=fit_temperature(
                blend(inner[primary][idx], inner[secondary][idx], w), y[idx], w_items))
        for name, fitter in fitters.items():
            t0 = time.perf_counter()
            out.proba[name][test] = fitter(train)(test)
            out.seconds[name] += time.perf_counter() - t0
        out.proba[f"{primary}+cal"][test] = apply_temperature(out.proba[primary][test], t_primary)
        if secondary:
            mixed = blend(out.proba[primary][test], out.proba[secondary][test], settings["blend"])
            out.proba["blend+cal"][test] = apply_temperature(mixed, settings["blend_temperature"])
        out.settings[s] = settings
        log(f"  held out {s:20s} ({len(test)} files): " + ", ".join(
            f"{k} {v:.2f}" for k, v in settings.items()) + "; accuracy " + ", ".join(
            f"{name} {np.mean(out.proba[name][test].argmax(1) == y[test]):.3f}" for name in out.proba))
    return out
