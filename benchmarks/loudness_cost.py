#!/usr/bin/env python3
"""What the BS.1770 meter costs inside djml's analysis: paired, in one process.

``speed_analysis.py --only djml,djml-no-loudness`` compares two fresh processes per round,
and on a shared machine one file's CPU time moves by +-20 % from run to run: too coarse
for a cost of a few per cent. Here one process, pinned to one core with one BLAS thread,
analyses each file with the meter and without it back to back (the order alternating,
ABBA), many times; the cost is the median of the per-pair differences, and its share is
that over the median unmetered analysis. The 95 % interval comes from a bootstrap of the
pairs. On a busy machine that difference is still noisy (each analysis moves by several
per cent), so the metered runs also time the meter's own calls (``LoudnessMeter.add`` and
``result``, CPU time around each call): its share of the same run's analysis is a ratio
within one run, which the machine's speed of the moment cancels out of. The files are speed_analysis.py's generated 5-minute tracks (FLAC and MP3, 44.1 kHz
stereo).

    .venv/bin/python benchmarks/loudness_cost.py [--tracks 2] [--pairs 12] [--types flac,mp3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import speed_analysis  # noqa: E402 - the generated files and the unmetered decoder


def _cpu(run, path: str) -> float:  # noqa: ANN001
    start = time.process_time()
    run(path)
    return time.process_time() - start


def _interval(diffs: list[float], seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of the median difference."""
    import numpy as np

    rng = np.random.default_rng(seed)
    values = np.array(diffs)
    medians = np.median(rng.choice(values, (2000, len(values))), axis=1)
    return float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=2, help="5-minute tracks per format (max 4)")
    ap.add_argument("--pairs", type=int, default=12, help="metered/unmetered pairs per file")
    ap.add_argument("--types", default="flac,mp3", help="comma-separated subset of flac,mp3")
    ap.add_argument("--core", type=int, default=None, help="CPU to pin to (default: the last one)")
    args = ap.parse_args()
    core = args.core if args.core is not None else os.cpu_count() - 1
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    files = speed_analysis.generate(speed_analysis.default_cache(), args.tracks, 0)

    from djml.analysis import analyze, sample, track

    from djml.analysis.loudness import LoudnessMeter

    metered = (track.Decoder, sample.decode_mono)
    meter_cpu = [0.0]
    for name in ("add", "result"):
        def timed(self, *args, _call=getattr(LoudnessMeter, name), **kwargs):  # noqa: ANN001, ANN202
            start = time.process_time()
            try:
                return _call(self, *args, **kwargs)
            finally:
                meter_cpu[0] += time.process_time() - start
        setattr(LoudnessMeter, name, timed)
    plain = speed_analysis.unmetered()

    def run(meter: bool):  # noqa: ANN202
        def analyse(path: str) -> None:
            track.Decoder, sample.decode_mono = metered if meter else plain
            analyze(path, "track")
        return analyse

    with_meter, without = run(True), run(False)
    for kind in args.types.split(","):
        with_meter(files[kind][0])
        without(files[kind][0])                 # warm-up, discarded
    print(f"one process on CPU {core}, {args.pairs} pairs per file (ABBA), CPU seconds per 5-minute track",
          file=sys.stderr)
    print(f"{'type':5} {'files':>5} {'metered s':>10} {'unmetered s':>12} {'cost ms':>8} {'cost %':>7} "
          f"{'95 % interval':>16} | {'meter ms':>8} {'meter share':>11} {'range':>13}")
    for kind in args.types.split(","):
        on, off, diffs, meter, share = [], [], [], [], []
        for i in range(args.pairs):
            for path in files[kind]:
                if i % 2 == 0:
                    meter_cpu[0] = 0.0
                    a = _cpu(with_meter, path)
                    inside = meter_cpu[0]
                    b = _cpu(without, path)
                else:
                    b = _cpu(without, path)
                    meter_cpu[0] = 0.0
                    a = _cpu(with_meter, path)
                    inside = meter_cpu[0]
                on.append(a)
                off.append(b)
                diffs.append(a - b)
                meter.append(inside)
                share.append(inside / (a - inside))
        base = statistics.median(off)
        cost = statistics.median(diffs)
        low, high = _interval(diffs)
        print(f"{kind:5} {len(files[kind]):>5} {statistics.median(on):>10.3f} {base:>12.3f} {1000 * cost:>8.1f} "
              f"{100 * cost / base:>6.1f}% {100 * low / base:>6.1f}% to {100 * high / base:.1f}% | "
              f"{1000 * statistics.median(meter):>8.1f} {100 * statistics.median(share):>10.1f}% "
              f"{100 * min(share):>5.1f}-{100 * max(share):.1f}%", flush=True)
    track.Decoder, sample.decode_mono = metered
    print("meter share = the meter's calls over the rest of the same analysis (CPU)", file=sys.stderr)


if __name__ == "__main__":
    main()
