"""Measure real one-shots per class: the ranges that tests/test_synth.py holds djml.synth to.

The demo and test generator (djml.synth) makes toms, percs, snares … that should sound like
real ones. "Like real ones" is measured here, on the real sources of the benchmark sets, with
the same measures the tests apply to the generated sounds (tests/sound_measures.py: a Hann
window of the first 200 ms from 5 ms before the peak, band shares, centroid, 1-10 kHz
flatness, attack, time until 20/40 dB down): every file decoded to mono 22.05 kHz by djml's
own decoder, then the 25th..75th percentile of each measure per class.

Sources (the sets are built on demand by benchmarks/datasets.py): every Hydrogen kit layer
(`samples_hydrogen`, sources hydrogen-*) and the General-MIDI renders of FluidR3_GM and
MuseScore_General_Lite (`samples_gm`; other sound fonts in that set are left out, so the
ranges stay those of the two fonts the tests were first measured on; `--all-gm` takes them
all).

    .venv/bin/python benchmarks/measure_real_sounds.py                  # tom and perc (the tests)
    .venv/bin/python benchmarks/measure_real_sounds.py --classes all --json ranges.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))   # the measures live with the tests that use them
sys.path.insert(0, str(Path(__file__).resolve().parent))

import datasets  # noqa: E402  (benchmarks/datasets.py)
from sound_measures import descriptors  # noqa: E402  (tests/sound_measures.py)

from djml import synth  # noqa: E402
from djml.analysis.decode import decode_mono  # noqa: E402

GM_FONTS = ("FluidR3_GM", "MuseScore_General_Lite")
# the measures each test range uses (test_synth.TOM_RANGE / PERC_RANGE)
TEST_MEASURES = {
    "tom": ("centroid", "share_below_150", "share_1k_3k", "flatness", "attack", "down20", "down40"),
    "perc": ("centroid", "share_150_1k", "share_1k_3k", "flatness", "down20", "down40"),
}
PERCENTILES = (25, 75)


def real_rows(cache: Path | None, all_gm: bool) -> list[dict]:
    """Manifest rows of the real one-shots: Hydrogen layers + GM renders of the chosen fonts."""
    rows = [dict(r, origin="hydrogen") for r in datasets.ensure("samples_hydrogen", cache)]
    for r in datasets.ensure("samples_gm", cache):
        font = r["kit"].split(":")[0]
        if all_gm or font in GM_FONTS:
            rows.append(dict(r, origin=f"gm:{font}"))
    return rows


def measure(rows: list[dict], classes: set[str] | None) -> dict[str, list[dict[str, float]]]:
    """class -> the descriptors of each of its files (silent or unreadable files skipped)."""
    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    chosen = [r for r in rows if classes is None or r["label"] in classes]
    for n, row in enumerate(chosen, 1):
        y, _ = decode_mono(row["path"], synth.SR)
        if len(y) == 0 or not np.abs(y).max() > 0:
            continue
        out[row["label"]].append(dict(descriptors(y.astype(np.float64)), origin=row["origin"]))
        if n % 200 == 0:
            print(f"  measured {n}/{len(chosen)}", file=sys.stderr, flush=True)
    return out


def ranges(measured: list[dict[str, float]], names: tuple[str, ...]) -> dict[str, tuple[float, float, float]]:
    """name -> (p25, median, p75)."""
    out = {}
    for name in names:
        v = np.array([m[name] for m in measured], dtype=np.float64)
        lo, hi = np.percentile(v, PERCENTILES)
        out[name] = (float(lo), float(np.median(v)), float(hi))
    return out


def _fmt(x: float) -> str:
    return f"{x:.2g}" if abs(x) < 0.01 else (f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=None, help="benchmark cache (default ~/.cache/djml/bench)")
    ap.add_argument("--classes", default="tom,perc", help="comma-separated classes, or 'all'")
    ap.add_argument("--all-gm", action="store_true", help="every sound font of samples_gm, not only "
                    + " and ".join(GM_FONTS))
    ap.add_argument("--json", type=Path, help="also write the ranges and counts here")
    args = ap.parse_args()
    classes = None if args.classes == "all" else set(args.classes.split(","))
    measured = measure(real_rows(args.cache, args.all_gm), classes)
    report = {}
    all_names = tuple(descriptors(synth.one_shot("tom")).keys())
    for label in sorted(measured):
        files = measured[label]
        origins = defaultdict(int)
        for m in files:
            origins[m["origin"].split(":")[0]] += 1
        names = TEST_MEASURES.get(label, all_names)
        table = ranges(files, names)
        report[label] = {"n": len(files), "by_origin": dict(origins),
                         "p25_median_p75": {k: list(v) for k, v in table.items()}}
        print(f"\n{label}: {len(files)} files ({', '.join(f'{k} {v}' for k, v in sorted(origins.items()))})")
        print(f"  {'measure':16s} {'p25':>9s} {'median':>9s} {'p75':>9s}")
        for name, (lo, med, hi) in table.items():
            print(f"  {name:16s} {_fmt(lo):>9s} {_fmt(med):>9s} {_fmt(hi):>9s}")
        print(f"  as a test range: {{{', '.join(f'{n!r}: ({_fmt(lo)}, {_fmt(hi)})' for n, (lo, _, hi) in table.items())}}}")
        if label in synth.ONE_SHOT_KINDS:
            inside = []
            for seed in range(4):
                d = descriptors(synth.one_shot(label, seed=seed).astype(np.float64))
                inside.append(all(lo < d[n] < hi for n, (lo, _, hi) in table.items()))
            print(f"  djml.synth.one_shot({label!r}) seeds 0-3 inside every range: {inside}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
