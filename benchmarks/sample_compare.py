#!/usr/bin/env python3
"""Compare two plain leave-one-source-out runs of the sample classifier on the files they
share, paired file by file.

Why: a change to the training synthesiser changes the synthesised source itself, so its
own held-out score says nothing about packs; what counts is how the *recorded* sources
fare when they are held out (the synthesiser is then training material). This script
takes two ``benchmarks/sample_classifier.py --plain --json RUN.json`` outputs, matches the
scored files by path, and prints per source (and pooled over every source both runs
scored, the synthesised one excluded, and over ``--group``) the accuracy on all and on
drum classes of each model, the blend of ``et`` and ``lr`` at a *fixed* share (nothing is
chosen on these predictions), and an exact McNemar test of the paired decisions.

    python benchmarks/sample_compare.py BASE.json NEW.json [--share 0.25] [--group opl3,sonicpi]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from djml.models import DRUM_CLASSES  # noqa: E402
from djml.models.train_default import GENERATED_SOURCE  # noqa: E402

EXCLUDED = (GENERATED_SOURCE,)   # it differs between runs of different generators


def load(path: Path, share: float) -> dict:
    """Per path: (label, source, {model: predicted class}) of one run."""
    run = json.loads(Path(path).read_text())
    if "paths" not in run:
        sys.exit(f"{path}: no per-file paths (re-run benchmarks/sample_classifier.py)")
    classes = np.array(run["classes"])
    proba = {m: np.asarray(p, np.float32) for m, p in run["proba"].items()}
    if "et" in proba and "lr" in proba:
        proba[f"blend {share:g}"] = (1 - share) * proba["et"] + share * proba["lr"]
    preds = {m: classes[p.argmax(axis=1)] for m, p in proba.items()}
    return {path: (label, source, {m: str(preds[m][i]) for m in preds})
            for i, (path, label, source) in enumerate(zip(run["paths"], run["labels"], run["sources"]))}


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """(only A right, only B right, two-sided exact p)."""
    from scipy.stats import binomtest

    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return only_a, only_b, float(p)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--share", type=float, default=0.25, help="fixed share of lr in the et+lr blend")
    ap.add_argument("--group", default="hydrogen-electronic,opl3,sonicpi",
                    help="sources pooled as one more row")
    args = ap.parse_args(argv)
    base, new = load(args.base, args.share), load(args.new, args.share)
    paths = [p for p in base if p in new and base[p][1] not in EXCLUDED]
    if any(base[p][:2] != new[p][:2] for p in paths):
        sys.exit("the runs disagree on a file's label or source")
    models = [m for m in base[paths[0]][2] if m in new[paths[0]][2]]
    label = np.array([base[p][0] for p in paths])
    source = np.array([base[p][1] for p in paths])
    right = {(run, m): np.array([r[p][2][m] == r[p][0] for p in paths])
             for run, r in (("base", base), ("new", new)) for m in models}
    drums = np.isin(label, DRUM_CLASSES)
    group = set(args.group.split(","))
    rows = [(s, source == s) for s in sorted(set(source))]
    rows += [("recorded sources (pooled)", np.ones(len(paths), bool)), (" + ".join(sorted(group)), np.isin(source, list(group)))]
    print(f"{len(paths)} files scored by both runs ({', '.join(EXCLUDED)} excluded); accuracy base -> new "
          "[only base right / only new right, McNemar p]")
    for m in models:
        print(f"\n{m}")
        print(f"{'held-out source':34s}{'n':>6s}  {'all classes':32s}{'drums':>6s}  drum classes")
        for name, k in rows:
            cells = []
            for sel in (k, k & drums):
                if not sel.any():
                    cells.append(f"{'-':30s}")
                    continue
                a, b = right[("base", m)][sel], right[("new", m)][sel]
                oa, ob, p = mcnemar(a, b)
                cells.append(f"{a.mean():.3f} -> {b.mean():.3f} [{oa}/{ob}, p {p:.2f}]".ljust(30))
            print(f"{name:34s}{int(k.sum()):>6d}  {cells[0]}  {int((k & drums).sum()):>6d}  {cells[1]}")


if __name__ == "__main__":
    main()
