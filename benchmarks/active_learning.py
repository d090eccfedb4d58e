#!/usr/bin/env python3
"""Active learning: does the review queue teach a model faster than labelling in random order?

A simulated user labels 10, 20, 50, 100, 200 items, either in the order djml's review queue
asks for them or in random order, and the model is scored on held-out items after each
budget. Several random repeats (different train/test splits and seeds); mean ± std.

**Main experiment — track buckets (styles as buckets).** Tracks from the ``tempo_key_beats``
generator (``benchmarks/datasets.py``: real Hydrogen drum hits on a grid at a known BPM,
bass/pad/motif in a known key) — the 120 clips of the
benchmark set plus three more plans from the same generator with other seeds (480 clips,
8 styles: house, techno, breakbeat, dnb, hiphop, dubstep, downtempo, electro). The style
is the user's bucket. Everything runs through the real library path: every clip is analysed
with ``djml.analysis.analyze`` and stored with ``Library.record_result``; the user's labels
go in with ``Library.set_label``; after every 10 labels ``djml.models.service.train`` trains
the ``bucket`` model exactly as the daemon does (``make_estimator``, 25 % holdout,
reject only if significantly worse) and re-predicts the library; the next 10 items are
the head of ``service.review_queue`` (typical items of regions not labelled yet while
there is no model, then uncertainty with diversity). Held-out clips live in a separate
library that the user never labels; they are predicted by the active model.
The simulated user keeps labelling past the "unsure" items (``review_threshold`` 1.01,
so every unlabelled item is queued, best teaching value first).

**Second experiment — sample types.** The 12-class sample set the shipped model is built
from (``python -m djml.models.train_default`` caches its features), a personal model
learnt from scratch (the ``et`` backend on the same features): pool = every kit but a
held-out quarter of the kits; test = the held-out kits (never a random split of
velocity layers); the queue order is :func:`djml.models.review.order` over the model's
uncertainty (none before the first model), the analysis vectors and the labelled items'
vectors, as ``review_queue`` does.

Prints both tables, writes ``active_learning.json`` and ``active_learning.png`` to
``<cache>/results/`` (matplotlib: benchmark-only, never a djml dependency).

    python benchmarks/active_learning.py [--repeats 5] [--only buckets|samples] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/sklearn: no oversubscription

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402

BUDGETS = (10, 20, 50, 100, 200)
STEP = 10                            # labels between retrains (the daemon's retrain_after)
EXTRA_SEEDS = (1235, 1236, 1237)     # tempo_key_beats is the plan with seed 1234
TEST_FRACTION = 0.25
STRATEGIES = ("queue", "random")


# -- the track data set: styles as buckets ----------------------------------------------------


def style_clips(cache: Path) -> list[dict]:
    """The tempo_key_beats clips + the same generator's plans for EXTRA_SEEDS (rendered once
    into ``<cache>/style_beats``; deterministic, like the benchmark set)."""
    rows = [{"path": r["path"], "style": r["style"]} for r in datasets.ensure("tempo_key_beats", cache)]
    kits = datasets._beat_kits()
    sample_cache: dict = {}
    for seed in EXTRA_SEEDS:
        out = cache / "style_beats" / f"plan{seed}"
        out.mkdir(parents=True, exist_ok=True)
        for item in datasets.beat_plan(seed=seed):
            path = out / f"{item['id']}.wav"
            if not path.exists():
                y = datasets.render_beat(item["bpm"], item["key"], item["style"], item["swing"],
                                         kits[item["kit"]], random.Random(f"{seed}:{item['id']}"),
                                         sample_cache=sample_cache)
                datasets.write_wav(path, y)
            rows.append({"path": str(path), "style": item["style"]})
    return rows


def analyse(clips: list[dict], cache: Path) -> list:
    """Analyse every clip once (``djml.analysis.analyze``, the daemon's worker call); cached
    per analyzer version in ``<cache>/style_beats/``."""
    import pickle

    from djml.analysis import ANALYZER_VERSIONS, analyze

    store_path = cache / "style_beats" / f"analyses_v{ANALYZER_VERSIONS['track']}.pkl"
    known = pickle.loads(store_path.read_bytes()) if store_path.exists() else {}
    t0 = time.perf_counter()
    out = []
    for c in clips:
        if c["path"] not in known:
            known[c["path"]] = analyze(c["path"], "track")
        out.append(known[c["path"]])
    store_path.write_bytes(pickle.dumps(known))
    print(f"analysed {len(clips)} clips in {time.perf_counter() - t0:.0f} s (cached in {store_path.parent})")
    return out


def store(analyses: list, db_path: Path):
    """A library holding these analyses, written through the one writer; returns
    (Library, item ids in the same order)."""
    from djml import db
    from djml.library import Library
    from djml.pipeline import FileResult, FileStat

    library = Library(db.connect(db_path))
    ids = [library.record_result(FileResult(a.path, FileStat.of(a.path), analysis=a))[1] for a in analyses]
    return library, ids


def run_buckets(clips: list[dict], analyses: list, test_library, test_ids: list[int], strategy: str,
                seed: int, work: Path) -> tuple[dict[int, float], dict]:
    """One simulated user; returns ({labels: held-out accuracy of the active model}, the
    acceptance of the predictions the user decided on with labels 51–100)."""
    from djml.config import Config
    from djml.models import registry, service
    from djml.models.features import load_rows

    rng = np.random.default_rng(seed)
    styles = np.array([c["style"] for c in clips])
    test = np.zeros(len(clips), bool)
    for s in sorted(set(styles)):  # stratified held-out split, fixed per repeat
        members = np.flatnonzero(styles == s)
        test[rng.choice(members, size=max(1, int(round(len(members) * TEST_FRACTION))), replace=False)] = True
    run_dir = work / f"{strategy}-{seed}"
    run_dir.mkdir()
    # the user's library: every clip but the held-out ones
    library, pool = store([analyses[i] for i in np.flatnonzero(~test)], run_dir / "library.db")
    config = Config(config_path=run_dir / "config.toml", data_dir=run_dir, review_threshold=1.01,
                    retrain_after=STEP)
    truth = dict(zip(pool, styles[~test]))
    held = [test_ids[i] for i in np.flatnonzero(test)]
    held_truth = styles[test]
    labelled: list[int] = []
    curve: dict[int, float] = {}
    while len(labelled) < max(BUDGETS):
        if strategy == "queue":
            nxt = [q["item_id"] for q in service.review_queue(library.conn, config, "bucket", limit=STEP)]
        else:
            rest = sorted(set(pool) - set(labelled))
            nxt = [int(i) for i in rng.choice(rest, size=STEP, replace=False)]
        for item_id in nxt:
            library.set_label(item_id, "bucket", truth[item_id])
        labelled.extend(nxt)
        service.train(library, config, "bucket")
        # score after every retrain: the whole curve, and how many labels reach a target
        if len(labelled) % STEP == 0:
            row = registry.active(library.conn, "bucket")
            if row is None:
                curve[len(labelled)] = float("nan")
                continue
            est = registry.load(row)
            pred = est.predict(load_rows(test_library.conn, held, spaces=est.features.spaces))
            curve[len(labelled)] = float(np.mean(np.array(pred) == held_truth))
    accepted = acceptance_between(library.conn, 50, 100)
    library.conn.close()
    return curve, accepted


def acceptance_between(conn, after: int, upto: int) -> dict:
    """Share of the predictions accepted among those decided by the user's labels number
    after+1 … upto (djml.models.monitor.acceptance records every one through a trigger)."""
    from djml.models.monitor.acceptance import rate

    ids = [r[0] for r in conn.execute("SELECT id FROM labels ORDER BY id")]
    lo, hi = ids[after - 1], ids[min(upto, len(ids)) - 1]
    ok, n = conn.execute("SELECT COALESCE(SUM(accepted), 0), COUNT(*) FROM prediction_outcomes"
                         " WHERE label_id > ? AND label_id <= ?", (lo, hi)).fetchone()
    return rate(int(ok), int(n) - int(ok))


# -- the sample-type data set -----------------------------------------------------------------


def sample_data(cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X in the et backend's feature space, diversity vectors, labels, kits)."""
    from djml.models import train_default as td
    from djml.models.features import SampleFeatures

    td.ensure_manifests(cache)
    entries = td.collect(cache)
    rows, kept = td.featurize(entries, cache)
    entries = [entries[i] for i in kept]
    X = SampleFeatures().fit(rows).transform(rows)
    V = np.stack([r.vectors["sample"] for r in rows])  # what review_queue diversifies over
    return X, V, np.array([e.label for e in entries]), np.array([e.kit for e in entries])


def run_samples(X: np.ndarray, V: np.ndarray, y: np.ndarray, kits: np.ndarray, strategy: str,
                seed: int) -> dict[int, float]:
    from djml.models.review import order
    from djml.models.service import make_estimator

    rng = np.random.default_rng(seed)
    names = sorted(set(kits))
    held = set(rng.choice(names, size=len(names) // 4, replace=False))
    test = np.flatnonzero(np.isin(kits, list(held)))
    pool = np.flatnonzero(~np.isin(kits, list(held)))
    labelled: list[int] = []
    est = None
    curve = {}
    while len(labelled) < max(BUDGETS):
        rest = np.setdiff1d(pool, labelled)
        if strategy == "random":
            nxt = rng.choice(rest, size=STEP, replace=False)
        else:   # no model yet: typical items of the library's regions (uncertainty None)
            unc = None if est is None else 1.0 - est.predict_proba_arrays(X[rest]).max(axis=1)
            nxt = rest[order(unc, V[rest], STEP, labelled=V[labelled] if labelled else None)]
        labelled.extend(int(i) for i in nxt)
        if len(set(y[labelled])) >= 2:
            est = make_estimator("sample_type", "et").fit_arrays(X[labelled], list(y[labelled]))
        if len(labelled) % STEP == 0:
            if est is None:
                curve[len(labelled)] = float(np.mean(y[test] == y[labelled[0]]))
            else:
                pred = np.array(est.classes_)[est.predict_proba_arrays(X[test]).argmax(axis=1)]
                curve[len(labelled)] = float(np.mean(pred == y[test]))
    return curve


# -- reporting --------------------------------------------------------------------------------


def summarise(curves: dict[str, list[dict[int, float]]]) -> dict[str, dict[int, tuple[float, float]]]:
    """Mean and std over repeats at every label count."""
    counts = sorted(curves["queue"][0])
    return {s: {b: (float(np.nanmean([c[b] for c in cs])), float(np.nanstd([c[b] for c in cs])))
                for b in counts} for s, cs in curves.items()}


def print_table(title: str, summary: dict[str, dict[int, tuple[float, float]]], n_repeats: int) -> dict:
    print(f"\n{title} — held-out accuracy, mean ± std over {n_repeats} repeats")
    print(f"{'labels':>7} | {'review queue':>15} | {'random order':>15}")
    for b in BUDGETS:
        q, r = summary["queue"][b], summary["random"][b]
        print(f"{b:>7} | {q[0]:>7.3f} ± {q[1]:.3f} | {r[0]:>7.3f} ± {r[1]:.3f}")
    target = summary["random"][max(BUDGETS)][0]
    reach = next((b for b in sorted(summary["queue"]) if summary["queue"][b][0] >= target), None)
    print(f"review queue reaches random order's {max(BUDGETS)}-label accuracy ({target:.3f}) "
          f"with {reach if reach else f'> {max(BUDGETS)}'} labels (scored every {STEP} labels)")
    return {"random_200": target, "queue_labels_to_reach_it": reach}


def plot(results: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (benchmark-only: pip install matplotlib): no PNG")
        return
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (name, res) in zip(axes[0], results.items()):
        for s in STRATEGIES:
            counts = sorted(res["summary"][s])
            mean = np.array([res["summary"][s][b][0] for b in counts])
            std = np.array([res["summary"][s][b][1] for b in counts])
            line, = ax.plot(counts, mean, label="review queue" if s == "queue" else "random order")
            ax.fill_between(counts, mean - std, mean + std, color=line.get_color(), alpha=0.15)
            ax.plot(BUDGETS, [res["summary"][s][b][0] for b in BUDGETS], "o", color=line.get_color())
        ax.set_xscale("log")
        ax.set_xticks(BUDGETS, [str(b) for b in BUDGETS])
        ax.set_xlabel("labels")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(res["title"])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=("buckets", "samples"))
    ap.add_argument("--cache", type=Path, default=datasets.default_cache())
    args = ap.parse_args(argv)
    out_dir = args.cache / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if args.only in (None, "buckets"):
        clips = style_clips(args.cache)
        print(f"bucket task: {len(clips)} clips, styles: "
              + ", ".join(f"{s} {sum(c['style'] == s for c in clips)}" for s in sorted({c['style'] for c in clips})))
        with tempfile.TemporaryDirectory(prefix="djml-al-") as tmp:
            work = Path(tmp)
            analyses = analyse(clips, args.cache)
            test_library, test_ids = store(analyses, work / "all.db")
            curves: dict[str, list] = {s: [] for s in STRATEGIES}
            accepted: dict[str, list] = {s: [] for s in STRATEGIES}
            for r in range(args.repeats):
                for s in STRATEGIES:
                    t0 = time.perf_counter()
                    curve, acc = run_buckets(clips, analyses, test_library, test_ids, s, seed=r, work=work)
                    curves[s].append(curve)
                    accepted[s].append(acc)
                    print(f"  repeat {r} {s}: " + ", ".join(f"{b}: {curves[s][-1][b]:.3f}" for b in BUDGETS)
                          + f"; accepted with labels 51-100: {acc['accepted']}/{acc['n']}"
                          + f" [{time.perf_counter() - t0:.0f} s]", flush=True)
        summary = summarise(curves)
        title = "Track buckets (8 generated styles, real bucket model + review_queue)"
        results["buckets"] = {"title": "track buckets (styles)", "summary": summary, "curves": curves,
                              **print_table(title, summary, args.repeats)}
        from djml.models.monitor.acceptance import rate

        results["buckets"]["accepted_51_100"] = {}
        for s in STRATEGIES:   # the auto-bucket target: >= 80 % of predictions accepted at 50 labels
            pooled = rate(sum(a["accepted"] for a in accepted[s]), sum(a["corrected"] for a in accepted[s]))
            results["buckets"]["accepted_51_100"][s] = pooled
            print(f"bucket predictions accepted by labels 51-100 ({s} order, {args.repeats} users):"
                  f" {pooled['accepted']}/{pooled['n']} = {100 * (pooled['rate'] or 0):.0f}%"
                  f" (95% CI {100 * (pooled['low'] or 0):.0f}-{100 * (pooled['high'] or 0):.0f}%)")
    if args.only in (None, "samples"):
        X, V, y, kits = sample_data(args.cache)
        curves = {s: [] for s in STRATEGIES}
        for r in range(args.repeats):
            for s in STRATEGIES:
                curves[s].append(run_samples(X, V, y, kits, s, seed=r))
        summary = summarise(curves)
        title = f"Sample types ({len(set(y))} classes, held-out kits, personal et model from scratch)"
        results["samples"] = {"title": "sample types (held-out kits)", "summary": summary, "curves": curves,
                              **print_table(title, summary, args.repeats)}
    (out_dir / "active_learning.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out_dir / 'active_learning.json'}")
    plot(results, out_dir / "active_learning.png")


if __name__ == "__main__":
    main()
