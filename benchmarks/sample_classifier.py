#!/usr/bin/env python3
"""Sample-type classifier: nested leave-one-source-out, per class and per source, with
calibration, the MFCC + logistic-regression floor, and inference speed, in one run.

Data: the sets ``python -m djml.models.train_default`` trains the shipped model on (built
by ``benchmarks/sample_sets.py``; see benchmarks/README.md), analysed once and cached, plus
``--copies`` pack-style augmented copies per file (``djml.models.augment``). Every source
(Hydrogen acoustic / electronic / percussion, Black Pearl, Sonic Pi, FreePats, Fluid,
OPL-3, freedesktop, the synthesiser) is predicted by models trained on the others; copies
are held out with their source and never scored.

Models: ``mfcc_lr`` (MFCC mean/std + logistic regression: the floor), ``et`` (the shipped
ExtraTrees), ``cnn`` (the small log-mel CNN), ``lr`` (logistic regression on every
engineered feature) and ``blend`` (et averaged with lr and cnn when they run; the members'
shares chosen on the inner folds). Calibrated variants ``+T`` (temperature),
``+top`` (isotonic map of the top-1 confidence) and ``+ovr`` (isotonic per class, one vs
rest) are fitted per held-out source on the inner out-of-source predictions of the training
sources only (``--inner-k 0``: leave-one-source-out inside as well; see
``djml.models.loso``).

Speed: the shipped model's inference path (stored vectors -> feature matrix and log-mel
patches -> forest arrays + linear partner + CNN + calibration map) for a batch of 1,000 one-shots on one thread,
after decoding and analysis.

    python benchmarks/sample_classifier.py [--models mfcc_lr,et,cnn] [--copies 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from djml.models import DRUM_CLASSES  # noqa: E402
from djml.models import train_default as td  # noqa: E402


def inference_speed(data: td.Dataset, batch: int = 1000, repeats: int = 3) -> dict:
    """One-shots per CPU second of the shipped model (``models/shipped``, as loaded by the
    daemon) on ``batch`` stored analyses: SampleFeatures.transform (patch descriptors
    included) + the exported forest, its linear partner, its CNN (with the patches it reads)
    and calibration map, one thread.
    CPU time (process_time), because wall time on this shared machine measures the other
    tenants; wall time is reported next to it."""
    from djml.models import portable

    est = portable.load(td.SHIPPED_DIR / "sample_type.npz")
    rows = [r for r, s in zip(data.rows, data.scored) if s][:batch]
    est.predict_proba(rows[:10])
    feats, total, wall = [], [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        X = est.features.transform(rows)
        patches = est.features.patches(rows) if est.needs_patches else None
        c1 = time.process_time()
        est.predict_proba_arrays(X, patches)
        feats.append(c1 - c0)
        total.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"batch": len(rows), "items_per_cpu_s": len(rows) / float(np.median(total)),
            "features_cpu_ms": 1000 * float(np.median(feats)), "total_cpu_ms": 1000 * float(np.median(total)),
            "total_wall_ms": 1000 * float(np.median(wall)), "forest_nodes": int(len(est.model.left))}


def _row(label: str, values: list, fmt: str = "{:>10.3f}") -> str:
    return f"{label:30s}" + "".join(fmt.format(v) if v is not None else f"{'-':>10s}" for v in values)


def print_tables(results: dict[str, dict], settings: dict) -> None:
    names = list(results)
    head = f"{'':30s}" + "".join(f"{n:>10s}" for n in names)
    print("\nLeave-one-source-out (nested), originals only")
    print(head)
    for label, key in (("drum classes accuracy", "drums"), ("other classes accuracy", "other"),
                       ("all classes accuracy", "all")):
        print(_row(label, [results[n][key]["accuracy"] for n in names]))
    print(_row("drum macro-F1", [results[n]["drums"]["macro_f1"] for n in names]))
    print(f"recorded sources only ({td.GENERATED_SOURCE} excluded: it is training material, not a pack)")
    for label, key in (("  drum classes accuracy", "drum_accuracy"), ("  other classes accuracy", "other_accuracy"),
                       ("  all classes accuracy", "accuracy")):
        print(_row(label, [results[n]["recorded"][key] for n in names]))
    print(_row("ECE (all, 10 bins)", [results[n]["ece"] for n in names]))
    first = results[names[0]]["all"]["per_class"]
    print("\nRecall per class (n)")
    print(head)
    for c in sorted(first, key=lambda c: (c not in DRUM_CLASSES, c)):
        print(_row(f"{c} ({first[c]['support']})", [results[n]["all"]["per_class"].get(c, {}).get("recall") for n in names]))
    print("\nPrecision per class")
    print(head)
    for c in sorted(first, key=lambda c: (c not in DRUM_CLASSES, c)):
        print(_row(c, [results[n]["all"]["per_class"].get(c, {}).get("precision") for n in names]))
    print("\nPer held-out source: accuracy (all) / drum accuracy / ECE / the 95th percentile of the ECE a "
          "perfectly calibrated model would show on as many predictions")
    print(head)
    for s, info in results[names[0]]["per_source"].items():
        label = f"{s} ({info['n']}, {info['drum_n']} drums)"
        print(_row(label, [results[n]["per_source"][s]["accuracy"] for n in names]))
        print(_row("  drums", [results[n]["per_source"][s]["drum_accuracy"] for n in names]))
        print(_row("  ECE", [results[n]["per_source"][s]["ece"] for n in names]))
        print(_row("  ECE if calibrated, 95 %",
                   [results[n]["per_source"][s]["ece_if_calibrated"][1] for n in names]))
    chosen = {s: {k: (v["temperature"] if isinstance(v, dict) else v) for k, v in d.items()
                  if not isinstance(v, dict) or "temperature" in v} for s, d in settings["per_source"].items()}
    if any(chosen.values()):
        print("\nSettings chosen on inner folds per held-out source (blend share, temperatures): " + "; ".join(
            f"{s}: " + ", ".join(f"{k} {v:.2f}" if not isinstance(v, list) else f"{k} " + "/".join(f"{x:.2f}" for x in v)
                                 for k, v in d.items()) for s, d in chosen.items()))
    best = next(m for m in ("blend+top", "et+top", "blend", "et", "cnn", *names) if m in results)
    conf = results[best]["all"]["confusion"]
    print(f"\nConfusion matrix of {best} (rows true, columns predicted)")
    print(f"{'':8s}" + "".join(f"{c[:6]:>7s}" for c in conf["classes"]))
    for c, line in zip(conf["classes"], conf["matrix"]):
        print(f"{c[:8]:8s}" + "".join(f"{v:>7d}" for v in line))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mfcc_lr,et", help="of mfcc_lr, et, cnn, lr (et with cnn or lr: "
                    "also their blend)")
    ap.add_argument("--copies", type=int, default=td.COPIES, help="augmented copies per file")
    ap.add_argument("--inner-k", type=int, default=0, help="inner folds (groups of training sources); "
                    "0: one per source (n(n-1)/2 inner fits)")
    ap.add_argument("--plain", action="store_true", help="plain LOSO: nothing tuned, no calibration "
                    "(a quarter of the fits; for the CNN on a busy machine)")
    ap.add_argument("--cnn-epochs", type=int, default=td.CNN_PARAMS["epochs"])
    ap.add_argument("--cnn-width", type=int, default=td.CNN_PARAMS["width"], help="channels of the first conv block")
    ap.add_argument("--cnn-pool", type=int, default=td.CNN_PARAMS["pool"],
                    help="input pooling (2: the 64x64 patch averaged to 32x32; 1: full resolution)")
    ap.add_argument("--source-balance", type=float, default=td.SOURCE_BALANCE,
                    help="training weight exponent per source (train_default.SOURCE_BALANCE)")
    ap.add_argument("--reuse", type=Path, help="an earlier run's JSON: its models' outer and inner "
                    "predictions are taken, not fitted again (same files and --inner-k)")
    ap.add_argument("--licences", choices=("all", "permissive"), default="all")
    ap.add_argument("--generated", choices=tuple(td.GENERATED_CHOICES),
                    default=next(k for k, v in td.GENERATED_CHOICES.items() if v == td.GENERATED_CLASSES),
                    help="classes of the training synthesiser's set used (train_default.GENERATED_CLASSES)")
    ap.add_argument("--cache", type=Path, default=td.cache_dir())
    ap.add_argument("--json", type=Path, help="default <cache>/results/sample_classifier.json")
    args = ap.parse_args(argv)
    t0 = time.time()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    td.GENERATED_CLASSES = td.GENERATED_CHOICES[args.generated]
    data = td.load_dataset(args.cache, copies=args.copies, with_logmel="cnn" in models, licences=args.licences)
    y = data.y[data.scored]
    print(f"{len(y)} files + {int((~data.scored).sum())} augmented copies, {len(set(data.sources))} sources; "
          + ", ".join(f"{c} {int((y == c).sum())}" for c in sorted(set(y))), flush=True)
    td.CNN_PARAMS.update(epochs=args.cnn_epochs, width=args.cnn_width, pool=args.cnn_pool)
    td.SOURCE_BALANCE = args.source_balance
    results, settings = td.evaluate(data, models, inner_k=args.inner_k, nested=not args.plain, reuse=args.reuse)
    print_tables(results, settings)
    speed = inference_speed(data) if "et" in models else {}
    if speed:
        print(f"\nInference of the shipped model (stored analyses -> features and patches -> blend), batch "
              f"{speed['batch']}, one thread: {speed['items_per_cpu_s']:.0f} one-shots per CPU second "
              f"({speed['features_cpu_ms']:.0f} ms features + model = {speed['total_cpu_ms']:.0f} ms CPU, "
              f"{speed['total_wall_ms']:.0f} ms wall; "
              f"{speed['forest_nodes']} nodes)")
    out = {"args": {k: str(v) for k, v in vars(args).items()}, "results": results,
           "settings": settings["per_source"], "speed": speed, "seconds": round(time.time() - t0),
           "proba": {k: v.round(4).tolist() for k, v in settings["proba"].items()},
           "classes": settings["classes"], "sources": data.sources[data.scored].tolist(),
           "labels": data.y[data.scored].tolist(),
           "paths": [e.path for e, s in zip(data.entries, data.scored) if s]}
    path = args.json or args.cache / "results" / "sample_classifier.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    if settings.get("inner"):   # the inner predictions the settings were chosen on (re-analysis)
        np.savez_compressed(path.with_suffix(".inner.npz"), **{
            f"{m}|{s}": v.astype(np.float16) for m, per in settings["inner"].items() for s, v in per.items()})
    print(f"wrote {path} ({out['seconds']} s)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
