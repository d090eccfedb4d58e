#!/usr/bin/env python3
"""Instruction counts of one analysis, independent of the machine's load: runs a tool of
speed_analysis.py (``djml``, ``djml-no-loudness`` ...) on FILE ``reps`` times; run it under
callgrind with 1 and 2 reps and subtract, so imports and the first call's warm-up drop out.

    F=~/.cache/djml/bench/speed/audio/track_126_four_on_floor.flac   # built by benchmarks/speed.py
    for t in djml djml-no-loudness; do for n in 1 2; do
      OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$t.$n \\
        .venv/bin/python benchmarks/count_instructions.py $t $n $F 2>&1 | grep Collected; done; done
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed_analysis  # noqa: E402


def main(argv: list[str]) -> int:
    mode, reps, path = argv[0], int(argv[1]), argv[2]
    analyse = speed_analysis._tool(mode)
    for _ in range(reps):
        analyse(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
