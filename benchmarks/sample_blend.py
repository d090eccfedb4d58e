#!/usr/bin/env python3
"""Blend and calibrate held-out predictions of two sample-type models, after the fact.

``benchmarks/sample_classifier.py --plain`` writes every source's held-out probabilities
(models trained without that source). This script combines two such runs (e.g. the trees
and the CNN, run separately because a CNN LOSO is 10 long fits) without fitting anything
new: for each held-out source ``s`` the CNN's share (``loso.BLEND_GRID``) and the
calibration map are chosen on the held-out predictions of the *other* sources only, every
source weighted equally, and then applied to ``s``.

This is cheaper than the benchmark's nested loop and not as strict: the predictions the
setting is chosen on come from models that did see ``s`` (trained on every source but the
predicted one), so ``s``'s labels reach the choice through those models (never through
``s``'s own predictions). The per-weight table shows how much the choice matters.

    python benchmarks/sample_blend.py A.json B.json [--a-model et --b-model cnn]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from djml.models import DRUM_CLASSES  # noqa: E402
from djml.models.calibration import apply_map, ece, fit_map  # noqa: E402
from djml.models.loso import BLEND_GRID, CALIBRATIONS, blend, choose_blend  # noqa: E402
from djml.models.train_default import source_balance  # noqa: E402


def load(path: Path, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    d = json.loads(Path(path).read_text())
    classes = d["classes"]
    y = np.array([classes.index(c) for c in d["labels"]])
    return np.asarray(d["proba"][model], np.float32), y, np.array(d["sources"]), classes


def scores(p: np.ndarray, y: np.ndarray, sources: np.ndarray, classes: list[str]) -> dict:
    drums = np.isin(np.array(classes)[y], DRUM_CLASSES)
    right = p.argmax(1) == y
    out = {"drums": float(right[drums].mean()), "other": float(right[~drums].mean()),
           "all": float(right.mean()), "ece": ece(p, y)}
    out["per_source_ece"] = {s: ece(p[sources == s], y[sources == s]) for s in sorted(set(sources))}
    out["recall"] = {c: float(right[y == k].mean()) for k, c in enumerate(classes) if (y == k).any()}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--a-model", default="et")
    ap.add_argument("--b-model", default="cnn")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    pa, y, sources, classes = load(args.a, args.a_model)
    pb, yb, sources_b, classes_b = load(args.b, args.b_model)
    if classes != classes_b or not (y == yb).all() or not (sources == sources_b).all():
        sys.exit("the two runs did not score the same files in the same order")
    w_all = source_balance(sources)(np.arange(len(sources)))
    rows: dict[str, np.ndarray] = {args.a_model: pa, args.b_model: pb}
    for w in BLEND_GRID[1:-1]:
        rows[f"{args.a_model}&{args.b_model} {w:.2f} (fixed)"] = blend(pa, pb, w)
    chosen, mixed = {}, np.zeros_like(pa)
    mix = f"{args.a_model}&{args.b_model}"
    cal = {f"{mix}+{k}": np.zeros_like(pa) for k in CALIBRATIONS}
    cal.update({f"{args.a_model}+{k}": np.zeros_like(pa) for k in CALIBRATIONS})
    for s in sorted(set(sources)):
        test, other = sources == s, sources != s
        w = choose_blend(pa[other], pb[other], y[other], w_all[other])
        chosen[s] = w
        mixed[test] = blend(pa[test], pb[test], w)
        for k, method in CALIBRATIONS.items():
            m = fit_map(method, blend(pa[other], pb[other], w), y[other], w_all[other])
            cal[f"{mix}+{k}"][test] = apply_map(mixed[test], m)
            m = fit_map(method, pa[other], y[other], w_all[other])
            cal[f"{args.a_model}+{k}"][test] = apply_map(pa[test], m)
    rows[f"{mix} (share chosen on other sources)"] = mixed
    rows.update(cal)
    results = {name: scores(p, y, sources, classes) for name, p in rows.items()}
    print(f"{len(y)} held-out files, {len(set(sources))} sources; {args.b_model} share chosen per source: "
          + ", ".join(f"{s} {w:.2f}" for s, w in chosen.items()))
    print(f"\n{'':42s}{'drums':>8s}{'other':>8s}{'all':>8s}{'ECE':>8s}")
    for name, r in results.items():
        print(f"{name:42s}{r['drums']:8.3f}{r['other']:8.3f}{r['all']:8.3f}{r['ece']:8.3f}")
    names = list(results)
    print("\nRecall per class: " + "  ".join(f"[{i}] {n}" for i, n in enumerate(names)))
    for c in sorted(results[names[0]]["recall"], key=lambda c: (c not in DRUM_CLASSES, c)):
        print(f"{c:10s}" + "".join(f"{results[n]['recall'][c]:7.3f}" for n in names))
    print("\nECE per held-out source")
    for s in sorted(set(sources)):
        print(f"{s:22s}" + "".join(f"{results[n]['per_source_ece'][s]:7.3f}" for n in names))
    if args.json:
        args.json.write_text(json.dumps({"chosen_share": chosen, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
