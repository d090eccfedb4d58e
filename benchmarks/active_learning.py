#!/usr/bin/env python3
"""Active learning: does the review-queue order teach a model faster than random order?

Simulates a user labelling 10, 20, 50, 100, 200 items from the queue on real labelled data
(the shipped sample model's DATA.md feature set, ``models/shipped/sample_type_base.npz``):
the pool is every kit but a held-out set of kits; accuracy is measured on the held-out kits.
Orders compared: djml's queue (uncertainty with diversity, :func:`djml.models.review.order`)
and random. Prints a table and writes ``active_learning.png`` (matplotlib, benchmark-only).

    python benchmarks/active_learning.py [--repeats 3] [--out active_learning.png]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from djml.models.review import order  # noqa: E402

BUDGETS = (10, 20, 50, 100, 200)
STEP = 10


def fit_predict(X, y, train, test, seed):
    from sklearn.ensemble import ExtraTreesClassifier

    m = ExtraTreesClassifier(60, class_weight="balanced", random_state=seed, n_jobs=1).fit(X[train], y[train])
    return m, m.predict(X[test])


def simulate(X, y, pool, test, strategy, seed):
    rng = np.random.default_rng(seed)
    labelled = list(rng.choice(pool, size=STEP, replace=False))  # both start from the same random 10
    curve = {}
    while len(labelled) <= max(BUDGETS):
        if len(labelled) in BUDGETS:
            if len(set(y[labelled])) < 2:
                curve[len(labelled)] = float(np.mean(y[test] == y[labelled[0]]))
            else:
                curve[len(labelled)] = float(np.mean(fit_predict(X, y, labelled, test, seed)[1] == y[test]))
        rest = np.setdiff1d(pool, labelled)
        if strategy == "random" or len(set(y[labelled])) < 2:
            nxt = rng.choice(rest, size=STEP, replace=False)
        else:
            model, _ = fit_predict(X, y, labelled, rest[:1], seed)
            proba = model.predict_proba(X[rest])
            nxt = rest[order(1.0 - proba.max(axis=1), X[rest], STEP)]
        labelled.extend(int(i) for i in nxt)
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="active_learning.png")
    args = ap.parse_args()
    from djml.models.shipped_data import base_path

    with np.load(base_path()) as z:
        X, y = z["X"], z["y"].astype(str)
    rng = np.random.default_rng(0)
    results = {"queue": [], "random": []}
    for r in range(args.repeats):
        idx = rng.permutation(len(y))
        test, pool = idx[: len(y) // 4], idx[len(y) // 4:]
        for strategy in results:
            results[strategy].append(simulate(X, y, pool, test, strategy, seed=r))
    print(f"{'labels':>7} | {'queue order':>12} | {'random order':>12}")
    mean = {s: {b: float(np.mean([c[b] for c in cs])) for b in BUDGETS} for s, cs in results.items()}
    for b in BUDGETS:
        print(f"{b:>7} | {mean['queue'][b]:>12.3f} | {mean['random'][b]:>12.3f}")
    target = mean["random"][200]
    reach = next((b for b in BUDGETS if mean["queue"][b] >= target), None)
    print(f"queue order reaches random order's 200-label accuracy ({target:.3f}) with: {reach or '> 200'} labels")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install matplotlib, benchmark-only): no PNG")
        return
    for s in results:
        plt.plot(BUDGETS, [mean[s][b] for b in BUDGETS], marker="o", label=f"{s} order")
    plt.xscale("log")
    plt.xlabel("labels")
    plt.ylabel("accuracy")
    plt.legend()
    plt.title("djml review queue vs random labelling")
    plt.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
