#!/usr/bin/env python3
"""Sample-type classifier: leave-one-kit-out accuracy per class and per kit, per model, and
the CNN's CPU cost.

Data: the sets ``python -m djml.models.train_default`` trains the shipped model on (Hydrogen
kits, General-MIDI sound-font renders, freedesktop fx, loops cut from generated beats; see
benchmarks/README.md and ``models/shipped/MODEL_CARD.md``), analysed once and cached. Every kit (a Hydrogen
kit, one GM kit of one sound font, the freedesktop theme, the loops over one kit) is
predicted by models trained on all the other kits: velocity layers of one hit never
straddle train and test.

Models: ``mfcc_lr`` (MFCC mean/std + logistic regression, the floor every model must beat), ``et`` (the
shipped ExtraTrees on analysis vector + scalars + pooled log-mel + patch descriptors),
``cnn`` (the small torch CNN on the log-mel patch, augmented), ``ensemble`` (mean of et and
cnn probabilities). Also times the CNN: ms per sample, batched (256), one CPU thread.

    python benchmarks/sample_classifier.py [--models mfcc_lr,et,cnn,ensemble] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from djml.models import DRUM_CLASSES  # noqa: E402
from djml.models import train_default as td  # noqa: E402


def cnn_speed(L: np.ndarray, y: np.ndarray, repeats: int = 3) -> dict:
    """Median ms/sample of CNN inference over all patches, batch 256, one thread (the
    network's cost does not depend on the weights; it is trained briefly on all data)."""
    from djml.models.estimators import Estimator
    from djml.models.features import LogmelFeatures
    from djml.models.shipped_data import logmel_shape

    est = Estimator("sample_type", "cnn", LogmelFeatures(logmel_shape()), seed=td.SEED,
                    params={**td.CNN_PARAMS, "epochs": 1}).fit_arrays(L, list(y))
    est.predict_proba_arrays(L[:256])  # warm-up (first call builds the module)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        est.predict_proba_arrays(L)
        times.append((time.perf_counter() - t0) / len(L) * 1000)
    return {"ms_per_sample": float(np.median(times)), "n": int(len(L)), "params": est.model.n_params()}


def print_tables(results: dict[str, dict], kits: np.ndarray, y: np.ndarray) -> None:
    names = list(results)
    head = f"{'':28s}" + "".join(f"{n:>10s}" for n in names)
    print("\nLeave-one-kit-out accuracy")
    print(head)
    for label, key in (("drum classes", "drums"), ("all classes", "all")):
        print(f"{label:28s}" + "".join(f"{results[n][key]['accuracy']:>10.3f}" for n in names))
    print(f"{'drum macro-F1':28s}" + "".join(f"{results[n]['drums']['macro_f1']:>10.3f}" for n in names))
    print("\nRecall per class (n)")
    print(head)
    for c in sorted(set(y), key=lambda c: (c not in DRUM_CLASSES, c)):
        row = [results[n]["all"]["per_class"].get(c, {}).get("recall", 0.0) for n in names]
        print(f"{c + f' ({int((y == c).sum())})':28s}" + "".join(f"{v:>10.3f}" for v in row))
    print("\nDrum accuracy per kit (n drums)")
    print(head)
    first = results[names[0]]
    for kit in sorted(first["drum_accuracy_per_kit"], key=lambda k: first["drum_accuracy_per_kit"][k]):
        row = [results[n]["drum_accuracy_per_kit"][kit] for n in names]
        label = f"{kit[:22]} ({first['drum_kit_sizes'][kit]})"
        print(f"{label:28s}" + "".join(f"{v:>10.3f}" for v in row))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mfcc_lr,et,cnn,ensemble")
    ap.add_argument("--cache", type=Path, default=td.cache_dir())
    ap.add_argument("--json", type=Path, help="default <cache>/results/sample_classifier.json")
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if "ensemble" in models:
        models = [m for m in models if m not in ("et", "cnn", "ensemble")] + ["et", "cnn", "ensemble"]
    need_cnn = any(m in models for m in ("cnn", "ensemble"))
    entries, rows, X, L, y, kits = td.load_dataset(args.cache, with_logmel=need_cnn)
    print(f"{len(y)} files, {len(set(kits))} kits; " + ", ".join(f"{c} {int((y == c).sum())}" for c in sorted(set(y))))
    results = td.evaluate(models, X, L, y, kits)
    print_tables(results, kits, y)
    out = {"results": results}
    if need_cnn:
        out["cnn_speed"] = cnn_speed(L, y)
        s = out["cnn_speed"]
        print(f"\nCNN inference: {s['ms_per_sample']:.3f} ms/sample (batch 256, 1 thread, {s['params']} weights)")
    path = args.json or args.cache / "results" / "sample_classifier.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
