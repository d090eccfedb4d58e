"""Nested leave-one-source-out evaluation with blending and calibration tuned inside.

Why nested: a setting (the CNN's share of an ensemble, a calibration map) chosen on the
same predictions it is scored on flatters the score. Here, for every held-out source
``s``, the setting is chosen on *inner* out-of-source predictions of the training sources:
with ``inner_k=0`` every training source ``t`` is predicted by a model trained on all
sources but ``s`` and ``t`` (leave-one-source-out inside; the fit for {s, t} serves both
outer folds, so n sources cost n (n - 1) / 2 inner fits); with ``inner_k > 0`` the
training sources are dealt into ``inner_k`` groups of whole sources instead (fewer fits,
but each inner model has seen fewer sources than the outer one, so it is less sure of
itself than the model being calibrated). Only then is ``s`` scored by the models trained
on every training source. Augmented copies carry their original's source, so they are
held out with it and never scored (``scored`` marks originals).

A fitter is ``fit(train_idx) -> predict(test_idx) -> proba`` over the global class list.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from djml.models.calibration import apply_map, fit_map

Fitter = Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]
SHARE_STEP = 0.25   # blend shares are multiples of this and sum to 1
CALIBRATIONS = {"T": "temperature", "top": "top", "ovr": "ovr"}   # suffix -> calibration method


@dataclass
class Outcome:
    """Held-out probabilities of every scored item, per model, the settings chosen per
    held-out source, and the inner predictions they were chosen on."""
    proba: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, dict] = field(default_factory=dict)   # source -> blend weight, calibration maps
    seconds: dict[str, float] = field(default_factory=dict)
    inner: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)   # model -> source -> proba


def source_folds(sources: Sequence[str], counts: dict[str, int], k: int) -> list[list[str]]:
    """Whole sources dealt into ``k`` groups of similar size (largest first); ``k=0``: one
    group per source."""
    if k <= 0:
        return [[s] for s in sorted(sources)]
    folds: list[list[str]] = [[] for _ in range(min(k, len(sources)))]
    sizes = [0] * len(folds)
    for s in sorted(sources, key=lambda s: (-counts[s], s)):
        i = int(np.argmin(sizes))
        folds[i].append(s)
        sizes[i] += counts[s]
    return folds


def share_grid(members: int) -> list[tuple[float, ...]]:
    """Every share vector of ``members`` models on the SHARE_STEP grid (summing to 1), the
    first member's largest share first: ties in :func:`choose_shares` keep more of it."""
    steps = round(1 / SHARE_STEP)
    grid = [tuple(k * SHARE_STEP for k in ks) for ks in itertools.product(range(steps + 1), repeat=members)
            if sum(ks) == steps]
    return sorted(grid, key=lambda w: [-x for x in w])


def blend(probas: Sequence[np.ndarray], shares: Sequence[float]) -> np.ndarray:
    """The members' probabilities averaged with ``shares`` (members with share 0 are skipped)."""
    used = [(w, p) for w, p in zip(shares, probas) if w]
    if len(used) == 1:
        return used[0][1]
    return sum(w * p for w, p in used).astype(np.float32)  # type: ignore[union-attr]


def choose_shares(probas: Sequence[np.ndarray], y: np.ndarray, weights: np.ndarray) -> tuple[float, ...]:
    """The share vector with the best weighted accuracy (ties: more of the earlier members)."""
    grid = share_grid(len(probas))
    if len(grid) == 1:
        return grid[0]
    scores = [float((weights * (blend(probas, w).argmax(1) == y)).sum()) for w in grid]
    return grid[int(np.argmax(scores))]


def outer_loso(y: np.ndarray, sources: np.ndarray, scored: np.ndarray, fitter: Fitter, log=None) -> np.ndarray:
    """Held-out probabilities of every scored item from models that never saw its source
    (plain LOSO, nothing tuned)."""
    proba = np.zeros((len(y), int(y.max()) + 1), np.float32)
    for s in sorted(set(sources)):
        test = np.flatnonzero((sources == s) & scored)
        if len(test):
            t0 = time.perf_counter()
            proba[test] = fitter(np.flatnonzero(sources != s))(test)
            if log:
                log(f"    held out {s}: accuracy {np.mean(proba[test].argmax(1) == y[test]):.3f} "
                    f"({time.perf_counter() - t0:.0f} s)")
    return proba


def inner_loso(y: np.ndarray, sources: np.ndarray, scored: np.ndarray, fitter: Fitter, *, inner_k: int = 0,
               log=print) -> dict[str, np.ndarray]:
    """Per outer source ``s``: predictions of the other sources' scored items, each by a model
    that saw neither ``s`` nor the predicted item's inner fold (rows of ``s`` stay 0)."""
    n_classes = int(y.max()) + 1
    counts = {s: int((sources == s).sum()) for s in set(sources)}
    outer = [s for s in sorted(counts) if (scored & (sources == s)).any()]
    out = {s: np.zeros((len(y), n_classes), np.float32) for s in outer}
    memo: dict[frozenset, Callable[[np.ndarray], np.ndarray]] = {}
    for s in outer:
        t0 = time.perf_counter()
        for fold in source_folds(sorted(set(counts) - {s}), counts, inner_k):
            held = frozenset({s, *fold})
            test = np.flatnonzero(np.isin(sources, fold) & scored)
            if not len(test):
                continue
            if inner_k <= 0:   # one fit per pair {s, t}: it predicts t for outer s and s for outer t
                if held not in memo:
                    memo[held] = fitter(np.flatnonzero(~np.isin(sources, list(held))))
                out[s][test] = memo[held](test)
            else:
                out[s][test] = fitter(np.flatnonzero(~np.isin(sources, list(held))))(test)
        log(f"  inner folds for {s}: {time.perf_counter() - t0:.0f} s")
    return out


def nested_loso(y: np.ndarray, sources: np.ndarray, scored: np.ndarray, fitters: dict[str, Fitter], *,
                primary: str, partners: Sequence[str] = (), inner_k: int = 0,
                balance: Callable[[np.ndarray], np.ndarray] | None = None, log=print,
                known: dict[str, tuple[np.ndarray, dict[str, np.ndarray] | None]] | None = None) -> Outcome:
    """Outer LOSO of every fitter; for ``primary`` (and its blend with ``partners``) the
    members' shares and every calibration map (``CALIBRATIONS``) are fitted per held-out
    source on the inner predictions of the training sources only.

    Adds ``<primary>+<suffix>`` per calibration and, with partners, ``blend`` (the blend
    with the shares chosen inside; ``settings[s]["blend"]`` lists them, primary first) and
    ``blend+<suffix>``. ``balance(idx)`` gives the item
    weights the choices use (default: equal per item). ``known`` holds the outer (and inner)
    predictions of models from an earlier run on the same items and folds: not fitted again."""
    out = Outcome()
    known = known or {}
    for name, fitter in fitters.items():
        t0 = time.perf_counter()
        out.proba[name] = known[name][0] if name in known else outer_loso(y, sources, scored, fitter)
        out.seconds[name] = time.perf_counter() - t0
        log(f"  {name}: outer LOSO in {out.seconds[name]:.0f} s" + (" (earlier run)" if name in known else ""))
    tuned = [primary, *partners]
    for m in tuned:
        t0 = time.perf_counter()
        earlier = known.get(m, (None, None))[1]
        out.inner[m] = earlier if earlier is not None else inner_loso(y, sources, scored, fitters[m],
                                                                      inner_k=inner_k, log=log)
        out.seconds[m] += time.perf_counter() - t0
    variants = [primary] + (["blend"] if partners else [])
    for v in variants:
        if v == "blend":
            out.proba["blend"] = np.zeros_like(out.proba[primary])
        for suffix in CALIBRATIONS:
            out.proba[f"{v}+{suffix}"] = np.zeros_like(out.proba[primary])
    for s, inner_p in out.inner[primary].items():
        test = np.flatnonzero((sources == s) & scored)
        idx = np.flatnonzero(scored & (sources != s))
        w_items = balance(idx) if balance else np.ones(len(idx))
        settings: dict = {}
        inner_of = {primary: inner_p[idx]}
        outer_of = {primary: out.proba[primary][test]}
        if partners:
            inner_members = [out.inner[m][s][idx] for m in tuned]
            shares = choose_shares(inner_members, y[idx], w_items)
            settings["blend"] = list(shares)
            inner_of["blend"] = blend(inner_members, shares)
            outer_of["blend"] = blend([out.proba[m][test] for m in tuned], shares)
            out.proba["blend"][test] = outer_of["blend"]
        for v in variants:
            for suffix, method in CALIBRATIONS.items():
                cal = fit_map(method, inner_of[v], y[idx], w_items)
                settings[f"{v}+{suffix}"] = cal
                out.proba[f"{v}+{suffix}"][test] = apply_map(outer_of[v], cal)
        out.settings[s] = settings
        log(f"  held out {s:20s} ({len(test)} files): " + ", ".join(
            f"{k} {v['temperature']:.2f}" if isinstance(v, dict) else f"{k} " + "/".join(f"{x:.2f}" for x in v)
            for k, v in settings.items() if not isinstance(v, dict) or "temperature" in v)
            + "; accuracy " + ", ".join(f"{name} {np.mean(out.proba[name][test].argmax(1) == y[test]):.3f}"
                                        for name in out.proba if "+" not in name or name.endswith("+ovr")))
    return out
