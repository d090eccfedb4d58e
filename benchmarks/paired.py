"""Before / after on a shared machine: the commands of `speed.py`'s analyze and library
sections, run alternately under an older source tree and this one, in the same run.

    git archive main | (mkdir -p /tmp/djml-base && tar -x -C /tmp/djml-base)
    nice -n 5 .venv/bin/python benchmarks/paired.py --base /tmp/djml-base --runs 7

Why alternate: with other jobs on the cores, one command measured now and another a
minute later differ by more than most changes do; runs that take turns see the same
machine. Each run is a fresh process (``PYTHONPATH`` puts the base tree ahead of the
installed djml; bytecode cached for both, one discarded run each); the figure is the
median CPU s (user + sys, from ``wait4``) and wall s. The files and libraries are
`speed.py`'s (same cache).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from speed import DJML, audio_files, bench_env, library_for
from djml.procs import WORKER_THREAD_ENV


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                                        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start


def paired(label: str, cmd: list[str], env: dict[str, str], base: Path, runs: int) -> None:
    before = {**env, "PYTHONPATH": str(base)}
    after = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    run(cmd, before), run(cmd, after)
    old, new = [], []
    for _ in range(runs):
        old.append(run(cmd, before))
        new.append(run(cmd, after))

    def med(xs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(x[i] for x in xs)

    print(f"| {label} | {med(old, 0):.3f} | {med(new, 0):.3f} | {med(old, 1):.3f} | {med(new, 1):.3f} |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="source tree of the version to compare with")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1000,100000", help="library sizes for recommend / ls")
    args = parser.parse_args()
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"djml-paired-{os.getpid()}"
    home.mkdir()
    try:
        measure_all(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure_all(args: argparse.Namespace, home: Path) -> None:
    py = sys.executable
    track, shot = audio_files()
    env = bench_env(home)
    floor = {**env, **{name: "1" for name in WORKER_THREAD_ENV}}
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n| command | CPU s before | CPU s after | wall s before | wall s after |\n|---|---|---|---|---|")
    paired("`djml --help`", [DJML, "--help"], env, args.base, args.runs)
    for what, path, kind in (("one-shot", shot, "sample"), ("5-min FLAC", track, "track")):
        paired(f"analysis alone ({what})", [py, "-c", f"import djml.analysis as a; a.analyze({str(path)!r}, {kind!r})"],
               floor, args.base, args.runs)
        paired(f"`djml analyze` ({what})", [DJML, "analyze", str(path)], env, args.base, args.runs)
    for n in [int(s) for s in args.sizes.split(",") if s]:
        lib = library_for(n)
        conn = sqlite3.connect(f"file:{lib / 'data' / 'library.db'}?mode=ro", uri=True)
        seed = conn.execute("SELECT id FROM items WHERE kind = 'track' ORDER BY id LIMIT 1 OFFSET 7").fetchone()[0]
        conn.close()
        lib_env = bench_env(lib)
        paired(f"`djml recommend --json` cold, {n // 1000}k", [DJML, "recommend", str(seed), "--json"], lib_env,
               args.base, args.runs)
        paired(f"`djml ls --json --bpm 120-128`, {n // 1000}k", [DJML, "ls", "--json", "--bpm", "120-128"], lib_env,
               args.base, args.runs)
    print(f"\nload after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
