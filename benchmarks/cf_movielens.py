"""Validate djml.models.cf on MovieLens 100k next to peers measured in the same run.

1. **Ratings** (explicit mode), 5-fold cross-validation over one random split of the 100k
   ratings (seed 0), the same folds for every model. Settings are chosen **inside each
   training fold**: 10 % of the training ratings are held out (inner split), every grid
   point is fitted on the other 90 % and scored on them, and the winner is refitted on the
   whole training fold and scored once on the test fold. Nothing is chosen on a test fold.
   Models: djml biased MF (torch, models/cf.py), Surprise SVD and SVD++ (scikit-surprise)
   with their library defaults, Surprise SVD tuned on the same inner split over a grid of
   the same size as djml's, Surprise BaselineOnly (biases only), and the global mean.
   Printed: RMSE / MAE per model (mean ± sd over folds), fit seconds, the settings each fold
   chose, and djml minus each peer per fold with a 95 % t-interval over the 5 folds.
2. **Ranking** (implicit BPR mode), leave-one-out: each user's latest rating is the test
   item, ranked against every item the user has not rated (and against 99 sampled ones, the
   NCF protocol, for comparison with literature); HR@10 and NDCG@10 next to a most-popular
   baseline. BPR's epochs and regularisation are chosen on the user's second-latest rating
   (validation) with that rating and the test one removed from training.

Data: `recbole/dataset_example/ml-100k/ml-100k.inter` inside the recbole wheel (MovieLens
100k, GroupLens research-use terms): `pip install --no-deps recbole` into the venv (only the
data is read; recbole is never imported and is no djml dependency). Peers: `pip install -e
'.[bench]'` (scikit-surprise, BSD-3); without it the Surprise rows say "not installed".

    nice .venv/bin/python benchmarks/cf_movielens.py                 # ~20-40 min on 2 busy cores
    nice .venv/bin/python benchmarks/cf_movielens.py --quick         # fold 1 only, no tuning, no SVD++
    nice .venv/bin/python benchmarks/cf_movielens.py --skip-ranking --no-svdpp
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from djml.models.cf import MatrixFactorization, MFParams

_REL = Path("recbole/dataset_example/ml-100k/ml-100k.inter")
FOLD_SEED = 0
INNER_SHARE = 0.1
# djml explicit grid around the library default MFParams (100 factors, lr 0.01, 40 epochs,
# reg 0.1); every epoch count is scored from one fit per reg (MatrixFactorization.fit's
# on_epoch), so the 12 points cost 3 fits
DJML_GRID = {"reg": (0.05, 0.1, 0.15), "epochs": (10, 20, 30, 40)}
# Surprise SVD grid around its defaults (reg_all 0.02, 20 epochs, lr 0.005)
SVD_GRID = {"reg_all": (0.02, 0.05, 0.1), "n_epochs": (20, 40)}
BPR_BASE = MFParams(mode="bpr", factors=64, epochs=30, lr=0.005, reg=0.01, bias_reg=0.001,
                    batch_size=1024, optimizer="adam", init_std=0.05)
BPR_GRID = {"reg": (0.001, 0.01), "epochs": (10, 30, 60)}   # epochs from one fit per reg


def locate_ml100k() -> Path:
    spec = importlib.util.find_spec("recbole")
    if spec and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))).parent / _REL
        if candidate.exists():
            return candidate
    raise SystemExit("MovieLens 100k not found: it ships inside the recbole wheel; install it with\n"
                     f"  {sys.executable} -m pip install --no-deps recbole")


def load_ratings(path: Path) -> np.ndarray:
    """(n, 4) array: user, item, rating, timestamp."""
    return np.loadtxt(path, delimiter="\t", skiprows=1, dtype=np.float64)


def grid(space: dict[str, tuple]) -> list[dict]:
    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def split_inner(train: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit part, validation part) of a training fold: INNER_SHARE of its ratings at random."""
    order = np.random.default_rng(seed).permutation(len(train))
    cut = int(len(train) * INNER_SHARE)
    return train[order[cut:]], train[order[:cut]]


def rmse_mae(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    err = np.clip(pred, 1.0, 5.0) - truth
    return float(np.sqrt((err ** 2).mean())), float(np.abs(err).mean())


# ---- the models: fit(train, settings) -> predict(test) ---------------------------------

def djml_fit(train: np.ndarray, settings: dict):  # noqa: ANN201 - a predict callable
    model = MatrixFactorization(replace(MFParams(), **settings)).fit(train[:, 0], train[:, 1], train[:, 2])
    return lambda test: model.predict(test[:, 0], test[:, 1])


def _surprise_trainset(train: np.ndarray):  # noqa: ANN202
    from surprise import Dataset, Reader

    data = Dataset(Reader(rating_scale=(1, 5)))
    return data.construct_trainset([(int(u), int(i), float(r), None) for u, i, r, _ in train])


def surprise_fit(algo_name: str):  # noqa: ANN201
    def fit(train: np.ndarray, settings: dict):  # noqa: ANN202
        import surprise

        algo = getattr(surprise, algo_name)(**({"random_state": 0} if algo_name in ("SVD", "SVDpp") else {}),
                                            **settings, **({"verbose": False} if algo_name == "BaselineOnly" else {}))
        algo.fit(_surprise_trainset(train))
        return lambda test: np.array([algo.predict(int(u), int(i), clip=True).est for u, i, _, _ in test])
    return fit


def mean_fit(train: np.ndarray, settings: dict):  # noqa: ANN201
    mu = float(train[:, 2].mean())
    return lambda test: np.full(len(test), mu)


def grid_tuner(fit, candidates: list[dict]):  # noqa: ANN001, ANN201
    """tune(train, seed) -> the candidate with the lowest inner-validation RMSE (each fitted
    on the inner fit part), and every candidate's score."""
    def tune(train: np.ndarray, seed: int) -> tuple[dict, list]:
        if len(candidates) == 1:
            return candidates[0], []
        fit_part, val = split_inner(train, seed)
        scored = [(rmse_mae(fit(fit_part, c)(val), val[:, 2])[0], c) for c in candidates]
        return min(scored, key=lambda s: s[0])[1], [(round(x, 4), c) for x, c in scored]
    return tune


def djml_tuner(train: np.ndarray, seed: int) -> tuple[dict, list]:
    """DJML_GRID on the inner split: one fit per reg, scored after each listed epoch count."""
    fit_part, val = split_inner(train, seed)
    scored: list[tuple[float, dict]] = []
    for reg in DJML_GRID["reg"]:
        def record(done: int, model: MatrixFactorization, reg: float = reg) -> None:
            if done in DJML_GRID["epochs"]:
                scored.append((rmse_mae(model.predict(val[:, 0], val[:, 1]), val[:, 2])[0],
                               {"reg": reg, "epochs": done}))
        MatrixFactorization(replace(MFParams(), reg=reg, epochs=max(DJML_GRID["epochs"]))).fit(
            fit_part[:, 0], fit_part[:, 1], fit_part[:, 2], on_epoch=record)
    return min(scored, key=lambda s: s[0])[1], [(round(x, 4), c) for x, c in scored]


def rating_cv(data: np.ndarray, folds: int, which: list[int], models: dict[str, tuple]) -> dict:
    """models: name -> (fit, tune). Returns per-model per-fold results."""
    order = np.random.default_rng(FOLD_SEED).permutation(len(data))
    parts = np.array_split(order, folds)
    results: dict[str, list[dict]] = {name: [] for name in models}
    for k in which:
        test = data[parts[k]]
        train = data[np.concatenate([parts[j] for j in range(folds) if j != k])]
        for name, (fit, tune) in models.items():
            start = time.process_time()
            chosen, scored = tune(train, 100 + k)
            tune_cpu = time.process_time() - start
            start, wall = time.process_time(), time.perf_counter()
            predict = fit(train, chosen)
            fit_cpu, fit_wall = time.process_time() - start, time.perf_counter() - wall
            rmse, mae = rmse_mae(predict(test), test[:, 2])
            results[name].append({"fold": k + 1, "rmse": rmse, "mae": mae, "settings": chosen,
                                  "inner": scored, "fit_cpu_s": fit_cpu, "fit_wall_s": fit_wall,
                                  "tune_cpu_s": tune_cpu})
            print(f"  fold {k + 1} {name:28s} RMSE {rmse:.4f}  MAE {mae:.4f}  fit CPU {fit_cpu:5.1f} s"
                  f" (wall {fit_wall:5.1f} s){f'  tuning CPU {tune_cpu:5.0f} s' if scored else ''}"
                  f"  {chosen if chosen else ''}", flush=True)
    return results


def t_interval(diffs: list[float]) -> tuple[float, float, float]:
    """Mean and 95 % t-interval (folds as the unit; folds share training data, so it is
    optimistic, the usual caveat of CV intervals)."""
    d = np.asarray(diffs)
    if len(d) < 2:
        return float(d.mean()), float("nan"), float("nan")
    t = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}.get(len(d), 2.0)
    half = t * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def rating_table(results: dict[str, list[dict]], folds_note: str) -> None:
    print(f"\n| model | RMSE | MAE | fit CPU s/fold | settings ({folds_note}) |\n|---|---|---|---|---|")
    for name, rows in results.items():
        r = np.array([x["rmse"] for x in rows])
        m = np.array([x["mae"] for x in rows])
        chosen = sorted({json.dumps(x["settings"], sort_keys=True) for x in rows})
        print(f"| {name} | {r.mean():.4f} ± {r.std():.4f} | {m.mean():.4f} | "
              f"{np.mean([x['fit_cpu_s'] for x in rows]):.1f} | {' / '.join(chosen) or 'fixed'} |")
    if "djml biased MF" in results and len(results["djml biased MF"]) > 1:
        ours = [x["rmse"] for x in results["djml biased MF"]]
        print("\nRMSE difference djml − peer, per fold (negative = djml better), mean and 95 % t-interval:")
        for name, rows in results.items():
            if name == "djml biased MF":
                continue
            diffs = [a - b["rmse"] for a, b in zip(ours, rows)]
            mean, lo, hi = t_interval(diffs)
            print(f"  vs {name:28s} {mean:+.4f} ({lo:+.4f} … {hi:+.4f}); folds {', '.join(f'{d:+.4f}' for d in diffs)}")


# ---- ranking --------------------------------------------------------------------------

def _leave_last(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(everything but each user's latest rating, the latest ratings), by timestamp."""
    data = data[np.lexsort((data[:, 3], data[:, 0]))]
    last = np.r_[data[1:, 0] != data[:-1, 0], True]
    return data[~last], data[last]


def rank_scores(model: MatrixFactorization, train: np.ndarray, test: np.ndarray, k: int = 10,
                sampled: bool = True) -> dict[str, dict[str, float]]:
    """HR@k / NDCG@k of BPR-MF and most-popular for each (user, held-out item)."""
    items = model.item_ids
    pop = np.zeros(len(items))
    np.add.at(pop, np.searchsorted(items, train[:, 1]), 1)
    item_set = set(items.tolist())
    rng = np.random.default_rng(0)
    gains: dict[str, list[float]] = {}
    for u, target in test[:, :2]:
        uid = model._index(model.user_ids, [u])[0]
        if target not in item_set or uid < 0:   # item or user never seen in training
            continue
        unseen = np.setdiff1d(np.arange(len(items)), list(model.seen[int(uid)]))
        t = int(np.searchsorted(items, target))
        pools = {"full": unseen}
        if sampled:
            pools["sampled"] = np.r_[t, rng.choice(unseen[unseen != t], 99, replace=False)]
        mf = model.predict(np.full(len(items), u), items)
        for name, scores in (("BPR-MF", mf), ("most popular", pop)):
            for protocol, pool in pools.items():
                rank = int((scores[pool] > scores[t]).sum())
                gains.setdefault(f"{name}|{protocol}", []).append(1.0 / np.log2(rank + 2) if rank < k else 0.0)
    return {key: {"HR": float(np.mean(np.array(v) > 0)), "NDCG": float(np.mean(v)), "n": len(v)}
            for key, v in gains.items()}


def ranking(data: np.ndarray) -> None:
    train, test = _leave_last(data)
    inner_train, val = _leave_last(train)
    scored = []
    print(f"\nBPR settings chosen on each user's second-latest rating (grid {BPR_GRID}):")
    for reg in BPR_GRID["reg"]:
        def record(done: int, model: MatrixFactorization, reg: float = reg) -> None:
            if done in BPR_GRID["epochs"]:
                ndcg = rank_scores(model, inner_train, val, sampled=False)["BPR-MF|full"]["NDCG"]
                scored.append((ndcg, {"reg": reg, "epochs": done}))
                print(f"  reg {reg}, {done} epochs: validation NDCG@10 {ndcg:.4f}", flush=True)
        MatrixFactorization(replace(BPR_BASE, reg=reg, epochs=max(BPR_GRID["epochs"]))).fit(
            inner_train[:, 0], inner_train[:, 1], on_epoch=record)
    chosen = max(scored, key=lambda s: s[0])[1]
    params = replace(BPR_BASE, **chosen)
    print(f"\nImplicit BPR, leave-one-out (latest rating per user held out), chosen {chosen}: {params}")
    start = time.perf_counter()
    model = MatrixFactorization(params).fit(train[:, 0], train[:, 1])
    print(f"(fit {time.perf_counter() - start:.0f} s)")
    scores = rank_scores(model, train, test)
    print("\n| model | protocol | HR@10 | NDCG@10 | users |\n|---|---|---|---|---|")
    for key, m in scores.items():
        name, protocol = key.split("|")
        print(f"| {name} | {protocol} | {m['HR']:.4f} | {m['NDCG']:.4f} | {m['n']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: fold 1 of the same 5 folds only, library defaults (no tuning), "
                             "no SVD++, no ranking")
    parser.add_argument("--no-svdpp", action="store_true", help="leave out Surprise SVD++ (the slowest peer)")
    parser.add_argument("--skip-ranking", action="store_true")
    parser.add_argument("--skip-rating", action="store_true")
    parser.add_argument("--json", type=Path, help="write every fold's results here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    data = load_ratings(locate_ml100k())
    print(f"MovieLens 100k: {len(data)} ratings, {len(np.unique(data[:, 0]))} users, "
          f"{len(np.unique(data[:, 1]))} items")
    out: dict = {}
    if not args.skip_rating:
        which = [0] if args.quick else list(range(args.folds))
        tuned = not args.quick
        fixed = grid_tuner(None, [{}])
        models: dict[str, tuple] = {"djml biased MF": (djml_fit, djml_tuner if tuned else fixed)}
        if importlib.util.find_spec("surprise"):
            models["Surprise SVD (defaults)"] = (surprise_fit("SVD"), fixed)
            if tuned:
                models["Surprise SVD (tuned)"] = (surprise_fit("SVD"), grid_tuner(surprise_fit("SVD"), grid(SVD_GRID)))
            if not (args.quick or args.no_svdpp):
                models["Surprise SVD++ (defaults)"] = (surprise_fit("SVDpp"), fixed)
            models["Surprise BaselineOnly"] = (surprise_fit("BaselineOnly"), fixed)
        else:
            print("scikit-surprise not installed (pip install -e '.[bench]'): Surprise rows skipped")
        models["global mean"] = (mean_fit, fixed)
        note = (f"{len(which)} of {args.folds} folds, no tuning (--quick)" if args.quick else
                f"{args.folds}-fold CV; chosen per fold on a {INNER_SHARE:.0%} inner split of its training part")
        print(f"\nExplicit ratings: {note}. djml grid {DJML_GRID} over {asdict(MFParams())}; "
              f"Surprise SVD grid {SVD_GRID}")
        results = rating_cv(data, args.folds, which, models)
        rating_table(results, note)
        out["rating"] = results
    if not (args.skip_ranking or args.quick):
        ranking(data)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
