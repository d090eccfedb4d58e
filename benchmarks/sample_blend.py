#!/usr/bin/env python3
"""Blend and calibrate held-out predictions of two or more sample-type models, after the fact.

``benchmarks/sample_classifier.py --plain`` writes every source's held-out probabilities
(models trained without that source). This script combines such runs (e.g. the trees, the
logistic regression and the CNN, run separately because a CNN LOSO is 10 long fits) without
fitting anything new: for each held-out source ``s`` the members' shares (a grid of quarters
over the simplex, :func:`djml.models.loso.share_grid`) and the calibration map are chosen on the held-out
predictions of the *other* sources only, every source weighted equally, and then applied
to ``s``.

This is cheaper than the benchmark's nested loop and not as strict: the predictions the
setting is chosen on come from models that did see ``s`` (trained on every source but the
predicted one), so ``s``'s labels reach the choice through those models (never through
``s``'s own predictions). The fixed-share rows show how much the choice matters.

    python benchmarks/sample_blend.py A.json B.json                 # A's et with B's cnn
    python benchmarks/sample_blend.py A.json:et A.json:lr B.json:cnn # three members
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from djml.models import DRUM_CLASSES  # noqa: E402
from djml.models.calibration import apply_map, ece, ece_if_calibrated, fit_map  # noqa: E402
from djml.models.loso import CALIBRATIONS, blend, choose_shares  # noqa: E402
from djml.models.train_default import source_balance  # noqa: E402

def load(path: Path, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    d = json.loads(Path(path).read_text())
    classes = d["classes"]
    if model not in d["proba"]:
        sys.exit(f"{path} holds no predictions of {model!r} (it has {', '.join(d['proba'])})")
    y = np.array([classes.index(c) for c in d["labels"]])
    return np.asarray(d["proba"][model], np.float32), y, np.array(d["sources"]), classes


def scores(p: np.ndarray, y: np.ndarray, sources: np.ndarray, classes: list[str]) -> dict:
    drums = np.isin(np.array(classes)[y], DRUM_CLASSES)
    right = p.argmax(1) == y
    out = {"drums": float(right[drums].mean()), "other": float(right[~drums].mean()),
           "all": float(right.mean()), "ece": ece(p, y)}
    out["per_source_ece"] = {s: ece(p[sources == s], y[sources == s]) for s in sorted(set(sources))}
    out["per_source_ece_if_calibrated"] = {s: ece_if_calibrated(p[sources == s].max(1))[1]
                                           for s in sorted(set(sources))}
    out["recall"] = {c: float(right[y == k].mean()) for k, c in enumerate(classes) if (y == k).any()}
    return out


def parse_members(specs: list[str], a_model: str, b_model: str) -> list[tuple[Path, str]]:
    """``RUN.json:MODEL`` specs; a bare path takes --a-model (first) or --b-model (others)."""
    out = []
    for i, spec in enumerate(specs):
        path, model = (spec, "") if spec.endswith(".json") or ":" not in spec else spec.rsplit(":", 1)
        out.append((Path(path), model or (a_model if i == 0 else b_model)))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="RUN.json[:MODEL], two or more")
    ap.add_argument("--a-model", default="et", help="model of a first run given without :MODEL")
    ap.add_argument("--b-model", default="cnn", help="model of later runs given without :MODEL")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    members = parse_members(args.runs, args.a_model, args.b_model)
    if len(members) < 2:
        ap.error("give two or more runs to blend")
    loaded = [load(path, model) for path, model in members]
    probas = [p for p, *_ in loaded]
    _, y, sources, classes = loaded[0]
    for (path, _), (_, y2, s2, c2) in zip(members[1:], loaded[1:]):
        if c2 != classes or not (y == y2).all() or not (sources == s2).all():
            sys.exit(f"{path} did not score the same files in the same order as {members[0][0]}")
    names = [model for _, model in members]
    label = "&".join(names)
    w_all = source_balance(sources)(np.arange(len(sources)))
    rows: dict[str, np.ndarray] = dict(zip(names, probas))
    if len(probas) == 2:
        for w in (0.25, 0.5, 0.75):
            rows[f"{label} {w:.2f} (fixed)"] = blend(probas, (1 - w, w))
    chosen: dict[str, tuple[float, ...]] = {}
    mixed = np.zeros_like(probas[0])
    cal = {f"{label}+{k}": np.zeros_like(probas[0]) for k in CALIBRATIONS}
    cal.update({f"{names[0]}+{k}": np.zeros_like(probas[0]) for k in CALIBRATIONS})
    for s in sorted(set(sources)):
        test, other = sources == s, sources != s
        shares = choose_shares([p[other] for p in probas], y[other], w_all[other])
        chosen[s] = shares
        mixed[test] = blend([p[test] for p in probas], shares)
        for k, method in CALIBRATIONS.items():
            m = fit_map(method, blend([p[other] for p in probas], shares), y[other], w_all[other])
            cal[f"{label}+{k}"][test] = apply_map(mixed[test], m)
            m = fit_map(method, probas[0][other], y[other], w_all[other])
            cal[f"{names[0]}+{k}"][test] = apply_map(probas[0][test], m)
    rows[f"{label} (shares chosen on other sources)"] = mixed
    rows.update(cal)
    results = {name: scores(p, y, sources, classes) for name, p in rows.items()}
    print(f"{len(y)} held-out files, {len(set(sources))} sources; shares of {', '.join(names)} chosen per source: "
          + ", ".join(f"{s} " + "/".join(f"{w:.2f}" for w in shares) for s, shares in chosen.items()))
    width = max(42, max(len(n) for n in results) + 2)
    print(f"\n{'':{width}s}{'drums':>8s}{'other':>8s}{'all':>8s}{'ECE':>8s}")
    for name, r in results.items():
        print(f"{name:{width}s}{r['drums']:8.3f}{r['other']:8.3f}{r['all']:8.3f}{r['ece']:8.3f}")
    listed = list(results)
    print("\nRecall per class: " + "  ".join(f"[{i}] {n}" for i, n in enumerate(listed)))
    for c in sorted(results[listed[0]]["recall"], key=lambda c: (c not in DRUM_CLASSES, c)):
        print(f"{c:10s}" + "".join(f"{results[n]['recall'][c]:7.3f}" for n in listed))
    print("\nECE per held-out source, and (below it) the 95th percentile of the ECE a perfectly "
          "calibrated model would show on as many predictions")
    for s in sorted(set(sources)):
        print(f"{s:22s}" + "".join(f"{results[n]['per_source_ece'][s]:7.3f}" for n in listed))
        print(f"{'  if calibrated':22s}" + "".join(f"{results[n]['per_source_ece_if_calibrated'][s]:7.3f}"
                                                   for n in listed))
    if args.json:
        args.json.write_text(json.dumps({"chosen_shares": {s: list(w) for s, w in chosen.items()},
                                         "members": names, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
