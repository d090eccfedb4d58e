"""Tempo precision: how close the reported BPM is to the truth when the beat level is right.

Accuracy1 (within 4 %) says nothing about whether a DJ's 128 reads 128.00 or 127.47; this
scores the files whose tempo lands within 4 % of the truth (the shipped decision, so the
choice is in-sample on the sources it was fitted on: this measures the refinement, not the
choice) by their absolute error in BPM, per source and overall, on the cross-source set of
compositions (``benchmarks/music_sets.py``; mostly MIDI renders at a notated tempo; its
``beats`` source is ``tempo_key_beats``, whose ``first_beat`` also scores the beat phase
within 70 ms).
Onset envelopes come from the trainer's cache (``<cache>/tempo_features``); tracks go
through ``tempo.estimate_tempo``, short clips through the sample path, as ``djml analyze``.

    .venv/bin/python benchmarks/tempo_precision.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from djml.analysis import sample, tempo  # noqa: E402
from djml.models import tempo_train  # noqa: E402

THRESHOLDS = (0.05, 0.2, 1.0)


def estimate(env: dict[str, np.ndarray]) -> tuple[float | None, float | None]:
    """(BPM, first beat) as the analyzer reports them for these cached envelopes."""
    if "duration" in env:
        bpm = sample.loop_tempo((env["flux"], env["high"], env["low"]), float(env["duration"]),
                                sample.sample_onsets(env["flux"]), tempo_train.BPM_RANGE)[0]
        return bpm, None
    est = tempo.estimate_tempo(env["flux"], tempo_train.fps(), tempo_train.BPM_RANGE, high_env=env["high"],
                               treble_share=tempo_train.treble_share(), low_env=env["low"])
    return (est.bpm, est.first_beat) if est else (None, None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args(argv)
    cache = args.cache or tempo_train.cache_dir()
    rows = [r for r in tempo_train.training_rows(cache) if r["source"] not in tempo_train.SOURCE_FAMILY]
    beats_manifest = cache / "tempo_key_beats" / "manifest.csv"
    first_beats = ({r["path"]: r["first_beat"] for r in csv.DictReader(beats_manifest.open())}
                   if beats_manifest.exists() else {})
    tempo_train.prefill_envelopes([r["path"] for r in rows], cache)
    errors: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    phase_hits: list[bool] = []
    for r in rows:
        truth = float(r["bpm"])
        bpm, first = estimate(tempo_train.cached_envelopes(r["path"], cache))
        counts[r["source"]] += 1
        if bpm is None or abs(bpm / truth - 1) > tempo_train.TOLERANCE:
            continue
        errors[r["source"]].append(abs(bpm - truth))
        if r["path"] in first_beats and first is not None:
            beat = 60.0 / truth
            off = (first - float(first_beats[r["path"]])) % beat
            phase_hits.append(min(off, beat - off) <= 0.07)
    sources = list(errors)
    errors["all"] = [e for s in sources for e in errors[s]]
    counts["all"] = sum(counts[s] for s in sources)
    print(f"{'source':26s} {'files':>5s} {'Acc1 hits':>9s} " + " ".join(f"≤{t:g} BPM".rjust(9) for t in THRESHOLDS)
          + "  median |err|")
    for s in sorted(errors, key=lambda s: (s == "all", s)):
        e = np.array(errors[s])
        print(f"{s:26s} {counts[s]:5d} {len(e):9d} " + " ".join(f"{np.mean(e <= t):9.3f}" for t in THRESHOLDS)
              + f"  {np.median(e):.3f}")
    if phase_hits:
        print(f"beat phase within 70 ms (files with first_beat truth and a hit): {np.mean(phase_hits):.3f} "
              f"of {len(phase_hits)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
