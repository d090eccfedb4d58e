#!/usr/bin/env python3
"""How real the training synthesiser's sounds are: each family measured against the
recorded sources of its class.

For every file: the plausibility measures the tests use (``tests/sound_measures.py``:
spectral centroid, band shares, flatness, attack, -20 / -40 dB decay times, over 200 ms
from the peak at 22.05 kHz) plus the duration. Per class the real files give a p10-p90
box per measure; per family the table shows how often its sounds fall inside the box
("in box": the mean over measures, 0.8 for the real files by construction) and the share
whose nearest real neighbours (15-NN on the standardised log measures, real files of all
classes) carry the family's class ("NN class"; the reference is the same figure for real
files against the real files of the *other* sources). A family far from the recorded sounds
of its class would teach a model a sound no pack contains.

    python benchmarks/synth_realism.py [--per-family 30] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks import datasets as ds  # noqa: E402
from djml.models import drumsynth  # noqa: E402

REAL_SETS = ("samples_hydrogen", "samples_blackpearl", "samples_sonicpi", "samples_fluid",
             "samples_opl3", "samples_freepats", "samples_fx")
MEASURES = ("centroid", "share_below_150", "share_150_1k", "share_1k_3k", "share_above_8k",
            "flatness", "attack", "down20", "down40", "duration")
MEASURE_RATE = 22050


def measure(y: np.ndarray, sr: int) -> dict[str, float] | None:
    import soxr
    from sound_measures import descriptors

    if sr != MEASURE_RATE:
        y = soxr.resample(y.astype(np.float32), sr, MEASURE_RATE)
    if len(y) < int(0.03 * MEASURE_RATE) or not np.abs(y).max() > 0:
        return None
    y = np.concatenate([y, np.zeros(int(0.25 * MEASURE_RATE), np.float32)])  # room for the window
    try:
        m = descriptors(y / np.abs(y).max())
    except (ValueError, IndexError, FloatingPointError):
        return None
    m["duration"] = len(y) / MEASURE_RATE - 0.25
    return m if all(np.isfinite(list(m.values()))) else None


def _features(m: dict[str, float]) -> np.ndarray:
    """Log where a measure spans decades (Hz, seconds), logit-ish for shares."""
    out = []
    for k in MEASURES:
        v = m[k]
        out.append(np.log(v + (1e-3 if k in ("attack", "down20", "down40", "duration") else 1e-4)))
    return np.array(out)


def real_measures(cache: Path) -> list[tuple[str, str, dict]]:
    """(label, source, measures) of every real file; measures cached by path, size, mtime."""
    store = cache / "results" / "synth_realism_real_measures.json"
    known = json.loads(store.read_text()) if store.exists() else {}
    out = []
    for name in REAL_SETS:
        for r in ds.ensure(name, cache):
            st = Path(r["path"]).stat()
            key = f"{r['path']}|{st.st_size}|{st.st_mtime_ns}"
            if key not in known:
                known[key] = measure(ds.load_mono(Path(r["path"]), MEASURE_RATE), MEASURE_RATE)
            if known[key]:
                out.append((r["label"], r["source"], known[key]))
        ds.log(f"synth_realism: measured {name}")
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(known))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--per-family", type=int, default=30, help="generated sounds per family (seeds 0..N-1)")
    ap.add_argument("--json", type=Path, default=None, help="default <cache>/results/synth_realism.json")
    args = ap.parse_args(argv)
    cache = args.cache or ds.default_cache()
    real = real_measures(cache)
    by_class: dict[str, list[dict]] = defaultdict(list)
    for label, _, m in real:
        by_class[label].append(m)
    box = {c: {k: np.percentile([m[k] for m in ms], [10, 90]) for k in MEASURES} for c, ms in by_class.items()}
    X = np.stack([_features(m) for _, _, m in real])
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Xs = (X - mu) / sd
    y_real = np.array([label for label, _, _ in real])

    src_real = np.array([source for _, source, _ in real])

    def nn_class(m: dict, exclude_source: str | None = None) -> str:
        dist = np.linalg.norm(Xs - (_features(m) - mu) / sd, axis=1)
        if exclude_source is not None:
            dist[src_real == exclude_source] = np.inf
        near = y_real[np.argsort(dist)[:15]]
        vals, counts = np.unique(near, return_counts=True)
        return str(vals[counts.argmax()])

    real_nn = defaultdict(list)
    for label, source, m in real:
        real_nn[label].append(nn_class(m, exclude_source=source) == label)

    results = {}
    print(f"\n{'family':16s} {'class':7s} {'n':>3s} {'in box':>7s} {'NN class':>9s}   "
          + "  ".join(f"{k[:9]:>9s}" for k in ("centroid", "down20", "flatness")) + "   (generated median / real median)")
    for fam, f in drumsynth.FAMILIES.items():
        ms = [m for m in (measure(*(drumsynth.generate(fam, s)[0], drumsynth.SR)) for s in range(args.per_family)) if m]
        b = box.get(f.label)
        per_measure = {k: float(np.mean([b[k][0] <= m[k] <= b[k][1] for m in ms])) for k in MEASURES} if b else {}
        inside = float(np.mean(list(per_measure.values()))) if b else float("nan")
        nn = float(np.mean([nn_class(m) == f.label for m in ms]))
        med = {k: float(np.median([m[k] for m in ms])) for k in MEASURES}
        real_med = {k: float(np.median([m[k] for m in by_class[f.label]])) for k in MEASURES} if b else {}
        results[fam] = {"label": f.label, "n": len(ms), "in_box": float(inside), "nn_class": nn,
                        "in_box_per_measure": per_measure, "median": med, "real_median": real_med}
        cells = "  ".join(f"{med[k]:>9.3g}" for k in ("centroid", "down20", "flatness"))
        ref = "  ".join(f"{real_med.get(k, float('nan')):>.3g}" for k in ("centroid", "down20", "flatness"))
        print(f"{fam:16s} {f.label:7s} {len(ms):3d} {inside:7.2f} {nn:9.2f}   {cells}   ({ref})")
    per_class = defaultdict(list)
    for r in results.values():
        per_class[r["label"]].append(r)
    print("\nper class (mean over families): in box / NN class   (real files vs the other sources: NN class)")
    for c, rs in per_class.items():
        print(f"  {c:7s} {np.mean([r['in_box'] for r in rs]):.2f} / {np.mean([r['nn_class'] for r in rs]):.2f}"
              f"   ({np.mean(real_nn[c]) if real_nn[c] else float('nan'):.2f}; real n={len(by_class.get(c, []))})")
    path = args.json or cache / "results" / "synth_realism.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"families": results, "real_counts": {c: len(v) for c, v in by_class.items()},
                                "real_nn_class_other_sources": {c: float(np.mean(v)) for c, v in real_nn.items()},
                                "box_percentiles": [10, 90]}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
