"""Before / after on a shared machine: the commands of `speed.py`'s analyze and library
sections and its one-shot burst on a daemon, run alternately under an older source tree
and this one, in the same run.

    git archive main | (mkdir -p /tmp/djml-base && tar -x -C /tmp/djml-base)
    nice -n 5 .venv/bin/python benchmarks/paired.py --base /tmp/djml-base --runs 7
    nice -n 5 .venv/bin/python benchmarks/paired.py --base /tmp/djml-base --only drop --runs 5

Why alternate: with other jobs on the cores, one command measured now and another a
minute later differ by more than most changes do; runs that take turns see the same
machine. Each run is a fresh process (``PYTHONPATH`` puts the base tree ahead of the
installed djml; bytecode cached for both, one discarded run each); the figure is the
median CPU s (user + sys, from ``wait4``) and wall s, with the spread (min–max) of the
CPU figures. The floors ``python -c pass`` and ``import click`` run the same way: equal
before and after, they show how much the machine moved during the run. The files and
libraries are `speed.py`'s (same cache).

Sections (``--only``): ``analyze`` (floors, analysis alone, `djml analyze`), ``scan``
(`djml scan --workers 1` of 20 new one-shots, whole process: the parent and its worker),
``library`` (`recommend` cold, `ls`, per ``--sizes``), ``served`` (the same through a running
daemon against reading the library directly, see :func:`measure_served`), ``served-analyze``
(`djml analyze` with a daemon running: the command's CPU plus the daemon's and its
workers', see :func:`measure_served_analyze`), ``drop`` (``--burst`` one-shots
renamed into a running daemon's folder at once, or one every ``--spacing`` s, settle 2 s: closed → ``item.added``
p50 / p95, the daemon's own CPU for the burst and its RSS after it, and both for its
start; a fresh daemon and home each run).

The base tree is put ahead of the installed djml whole: its ``daemon``, ``models``,
``tui`` and ``migrations`` folders are linked into its ``djml`` folder as the packages
pyproject.toml maps them to (otherwise ``djml.models`` and the rest would come from this
tree in both columns, against the base's core).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from drops import drop_and_wait
from speed import DJML, Daemon, audio_files, bench_env, cache_dir, library_for
from djml.procs import WORKER_THREAD_ENV


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                                        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start


SUBPACKAGES = {"daemon": "daemon", "models": "models", "tui": "tui", "migrations": "migrations"}  # pyproject


def complete(base: Path) -> None:
    """Link the base tree's sub-package folders into its ``djml`` folder (see the module
    docstring), and build its C loops, so ``PYTHONPATH=base`` imports the whole base
    version as installed: a tree from ``git archive`` has ``_loops.c`` but no library,
    and without one the analysis takes its numpy fallbacks (a 5-minute FLAC ~15 % more
    instructions), which would credit the newer tree with what the build does."""
    for name, folder in SUBPACKAGES.items():
        link, target = base / "djml" / name, base / folder
        if target.is_dir() and not link.exists():
            link.symlink_to(target.resolve(), target_is_directory=True)
    native = base / "djml" / "analysis"
    if (native / "_loops.c").exists() and not any(native.glob("_loops*.so")):
        subprocess.run([sys.executable, "-c", BUILD_LOOPS, "build_ext", "--inplace", "--quiet"],
                       cwd=base, check=True, stdout=subprocess.DEVNULL)


# the base tree's C loops, built as pyproject.toml's ext-modules entry builds them
BUILD_LOOPS = ("from setuptools import Extension, setup; "
               "setup(name='djml-base', ext_modules=[Extension('djml.analysis._loops', ['djml/analysis/_loops.c'])])")


def envs(env: dict[str, str], base: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(before, after): the base tree ahead of the installed djml, or nothing ahead."""
    return {**env, "PYTHONPATH": str(base)}, {k: v for k, v in env.items() if k != "PYTHONPATH"}


def paired(label: str, cmd: list[str], env: dict[str, str], base: Path, runs: int) -> None:
    before, after = envs(env, base)
    run(cmd, before), run(cmd, after)
    old, new = [], []
    for _ in range(runs):
        old.append(run(cmd, before))
        new.append(run(cmd, after))
    print(f"| {label} | {cell(old, 0)} | {cell(new, 0)} | {med(old, 1):.3f} | {med(new, 1):.3f} |", flush=True)


def med(xs: list[tuple[float, ...]], i: int) -> float:
    return statistics.median(x[i] for x in xs)


def cell(xs: list[tuple[float, ...]], i: int, digits: int = 3) -> str:
    """Median and (min–max) of column ``i``."""
    values = [x[i] for x in xs]
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="source tree of the version to compare with")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1000,100000", help="library sizes for recommend / ls")
    parser.add_argument("--only", default="analyze,library", help="sections: analyze,scan,library,served,served-analyze,drop")
    parser.add_argument("--burst", type=int, default=100, help="one-shots per run of the drop section")
    parser.add_argument("--spacing", type=float, default=0.0,
                        help="drop section: seconds between two files (0: all at once)")
    args = parser.parse_args()
    args.base = args.base.resolve()
    complete(args.base)
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"djml-paired-{os.getpid()}"
    home.mkdir()
    # the commands run from here: `python -c` puts its working directory first on sys.path,
    # so from a checkout both columns would import that checkout's djml, not the base
    os.chdir(home)
    try:
        measure_all(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure_all(args: argparse.Namespace, home: Path) -> None:
    py = sys.executable
    sections = set(args.only.split(","))
    env = bench_env(home)
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n| command | CPU s before (min–max) | CPU s after (min–max) | wall s before | wall s after |"
          "\n|---|---|---|---|---|")
    paired("floor: `python -c pass`", [py, "-c", "pass"], env, args.base, args.runs)
    paired("floor: `python -c \"import click\"`", [py, "-c", "import click"], env, args.base, args.runs)
    paired("`djml --help`", [DJML, "--help"], env, args.base, args.runs)
    if "analyze" in sections:
        measure_analyze(args, env)
    if "scan" in sections:
        measure_scan(args, home)
    if "library" in sections:
        measure_library(args)
    if "served" in sections:
        measure_served(args, home)
    if "served-analyze" in sections:
        measure_served_analyze(args, home)
    if "drop" in sections:
        measure_drop(args, home)
    print(f"\nload after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def measure_analyze(args: argparse.Namespace, env: dict[str, str]) -> None:
    py = sys.executable
    track, shot = audio_files()
    floor = {**env, **{name: "1" for name in WORKER_THREAD_ENV}}
    paired("floor: `python -c \"import numpy\"` (one BLAS thread, as a worker)", [py, "-c", "import numpy"],
           floor, args.base, args.runs)
    for what, path, kind in (("one-shot", shot, "sample"), ("5-min FLAC", track, "track")):
        paired(f"analysis alone ({what})", [py, "-c", f"import djml.analysis as a; a.analyze({str(path)!r}, {kind!r})"],
               floor, args.base, args.runs)
        paired(f"`djml analyze` ({what})", [DJML, "analyze", str(path)], env, args.base, args.runs)


def measure_library(args: argparse.Namespace) -> None:
    paired("floor: `python -c \"import numpy, hnswlib\"` (what a cold recommend must load)",
           [sys.executable, "-c", "import numpy, hnswlib"], bench_env(), args.base, args.runs)
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


def measure_served(args: argparse.Namespace, home: Path) -> None:
    """`djml ls` and `djml recommend` through a running daemon and reading the library
    directly (the same library, with a config whose ``runtime_dir`` holds no socket), all
    commands taking turns in each run, the floors among them. The base tree's daemon and
    client first, then this tree's: a daemon holds the library's pid lock, so the two
    cannot alternate run by run; the floors and the direct commands, run in both phases,
    show how far the machine moved in between. Through the daemon, `recommend` is timed
    with the same seed every run (as a repeated request meets the daemon) and with a new
    seed every run (nothing it has answered before). CPU is the command's process (the
    daemon's share is not in it; wall time is); first row: when the first line arrived."""
    from speed import run_once

    py = sys.executable
    print("\n| command | items | tree | CPU s (min–max) | wall s | first row s |\n|---|---|---|---|---|---|")
    for n in [int(s) for s in args.sizes.split(",") if s]:
        lib = library_for(n)
        conn = sqlite3.connect(f"file:{lib / 'data' / 'library.db'}?mode=ro", uri=True)
        seeds = [r[0] for r in conn.execute("SELECT id FROM items WHERE kind = 'track' ORDER BY id LIMIT ? OFFSET 7",
                                            (2 * args.runs + 4,))]
        conn.close()
        direct = home / f"direct-{n}.toml"
        (home / "no-daemon").mkdir(mode=0o700, exist_ok=True)
        direct.write_text(f'data_dir = "{lib / "data"}"\nruntime_dir = "{home / "no-daemon"}"\nembed_text = false\n')
        fixed = [DJML, "recommend", str(seeds[0]), "--json"]
        commands = {
            "floor: `python -c pass`": lambda i: [py, "-c", "pass"],
            "floor: `python -c \"import click\"`": lambda i: [py, "-c", "import click"],
            "`djml ls --json --bpm 120-128`, direct": lambda i: [DJML, "--config", str(direct), "ls", "--json",
                                                                 "--bpm", "120-128"],
            "`djml ls --json --bpm 120-128`, daemon": lambda i: [DJML, "ls", "--json", "--bpm", "120-128"],
            "`djml ls --bpm 120-128` into a pipe, direct": lambda i: [DJML, "--config", str(direct), "ls",
                                                                      "--bpm", "120-128"],
            "`djml ls --bpm 120-128` into a pipe, daemon": lambda i: [DJML, "ls", "--bpm", "120-128"],
            "`djml recommend --json` cold, direct": lambda i: [DJML, "--config", str(direct), *fixed[1:]],
            "`djml recommend --json`, daemon, same seed": lambda i: fixed,
            "`djml recommend --json`, daemon, a new seed each run": lambda i: [DJML, "recommend", str(seeds[1 + i]),
                                                                              "--json"],
        }
        for phase, (tree, env) in enumerate(zip(("base", "this"), envs(bench_env(lib), args.base))):
            with Daemon(lib, env) as daemon:
                daemon.wait_caught_up()
                times: dict[str, list] = {label: [] for label in commands}
                for i in range(args.runs + 1):
                    for label, cmd in commands.items():
                        timing = run_once(cmd(i + phase * (args.runs + 1)), env)
                        if i:   # the first round is discarded (bytecode, page cache, the daemon's index)
                            times[label].append((timing.cpu, timing.wall, timing.first_line or 0.0))
            for label, done in times.items():
                print(f"| {label} | {n // 1000}k | {tree} | {cell(done, 0)} | {med(done, 1):.3f} |"
                      f" {med(done, 2):.3f} |", flush=True)


def measure_served_analyze(args: argparse.Namespace, home: Path) -> None:
    """`djml analyze FILE` while a daemon runs (an empty library, its workers warm after one
    discarded run), base tree then this one, the floors and the command without a daemon
    in both phases. CPU is the whole cost of the answer: the command's process (``wait4``)
    plus what the daemon and its live workers spent meanwhile (/proc), so work moved into
    the daemon is still counted."""
    from speed import run_once

    py = sys.executable
    track, shot = audio_files()
    lone = home / "no-daemon.toml"
    (home / "no-daemon").mkdir(mode=0o700, exist_ok=True)
    lone.write_text(f'data_dir = "{home / "no-daemon-data"}"\nruntime_dir = "{home / "no-daemon"}"\n')
    commands = {
        "floor: `python -c pass`": [py, "-c", "pass"],
        "`djml analyze` one-shot, no daemon": [DJML, "--config", str(lone), "analyze", str(shot)],
        "`djml analyze` one-shot, daemon running": [DJML, "analyze", str(shot)],
        "`djml analyze --json` one-shot, daemon running": [DJML, "analyze", "--json", str(shot)],
        "`djml analyze` 5-min FLAC, no daemon": [DJML, "--config", str(lone), "analyze", str(track)],
        "`djml analyze` 5-min FLAC, daemon running": [DJML, "analyze", str(track)],
    }
    print("\n| command | tree | CPU s, command + daemon (min–max) | of which the daemon | wall s |\n|---|---|---|---|---|")
    for phase, (tree, env) in enumerate(zip(("base", "this"), envs(bench_env(home / "served-analyze"), args.base))):
        (home / "served-analyze").mkdir(exist_ok=True)
        with Daemon(home / "served-analyze", env) as daemon:
            times: dict[str, list] = {label: [] for label in commands}
            for i in range(args.runs + 1):
                for label, cmd in commands.items():
                    before = sum(daemon.cpu_seconds())
                    timing = run_once(cmd, env)
                    spent = sum(daemon.cpu_seconds()) - before
                    if i:   # the first round is discarded (bytecode, page cache, the workers' start)
                        times[label].append((timing.cpu + spent, spent, timing.wall))
        for label, done in times.items():
            print(f"| {label} | {tree} | {cell(done, 0)} | {med(done, 1):.3f} | {med(done, 2):.3f} |", flush=True)


def one_shots(n: int) -> list[Path]:
    """``n`` generated one-shots, written once into the benchmark cache."""
    from djml import synth

    folder = cache_dir() / f"paired-shots-{n}"
    folder.mkdir(exist_ok=True)
    files = []
    for i in range(n):
        kind = synth.ONE_SHOT_KINDS[i % len(synth.ONE_SHOT_KINDS)]
        path = folder / f"{i:04d}_{kind}.wav"
        if not path.exists():
            synth.write_wav(path, synth.one_shot(kind, seed=i))
        files.append(path)
    return files


def fresh_home(root: Path, shots: list[Path]) -> tuple[Path, Path, list[Path]]:
    """A new home whose config watches ``samples`` (settle 2 s), and copies of ``shots`` on
    the same file system, ready to be renamed in."""
    shutil.rmtree(root, ignore_errors=True)
    home, samples, staging = root / "home", root / "samples", root / "staging"
    for folder in (home, samples, staging):
        folder.mkdir(parents=True)
    (home / "config.toml").write_text(f'samples = ["{samples}"]\nsettle_seconds = 2\n')
    return home, samples, [Path(shutil.copy(f, staging / f.name)) for f in shots]


def measure_scan(args: argparse.Namespace, home: Path) -> None:
    """`djml scan --workers 1` of 20 new one-shots: the parent receives every result."""
    shots = one_shots(20)
    runs: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for i in range(args.runs + 1):
        for label, env in zip(("before", "after"), envs(bench_env(), args.base)):
            scan_home, samples, copies = fresh_home(home / "scan", shots)
            for f in copies:
                os.replace(f, samples / f.name)
            timing = run([DJML, "scan", "--workers", "1"], {**env, "DJML_HOME": str(scan_home)})
            if i:                 # the first pair is discarded
                runs[label].append(timing)
    print(f"| `djml scan --workers 1`, 20 new one-shots, whole process | {cell(runs['before'], 0)} |"
          f" {cell(runs['after'], 0)} | {med(runs['before'], 1):.3f} | {med(runs['after'], 1):.3f} |", flush=True)


def measure_drop(args: argparse.Namespace, home: Path) -> None:
    shots = one_shots(args.burst)
    runs: dict[str, list[tuple[float, ...]]] = {"before": [], "after": []}
    for _ in range(args.runs):
        for label, env in zip(("before", "after"), envs(bench_env(), args.base)):
            runs[label].append(burst(home / "drop", shots, env, args.spacing))
    old, new = runs["before"], runs["after"]
    how = f"one every {args.spacing:g} s" if args.spacing else "at once"
    for i, what in enumerate((f"{args.burst} one-shots dropped {how}, closed → added p50 (wall s)", "  … p95 (wall s)",
                              "  the daemon's own CPU s for the burst", "  daemon RSS MB after the burst",
                              "  the daemon's CPU s from start to 3 s after its socket answered",
                              "  daemon RSS MB then")):
        print(f"| {what} | {cell(old, i, 2)} | {cell(new, i, 2)} | | |", flush=True)


def burst(root: Path, shots: list[Path], env: dict[str, str], spacing: float = 0.0) -> tuple[float, ...]:
    """(p50, p95 closed → added, daemon CPU s, daemon RSS MB after; CPU s and RSS MB of the
    start) of one drop on a fresh daemon."""
    from speed import _cpu_of, _rss_of

    home, samples, copies = fresh_home(root, shots)
    with Daemon(home, {**env, "DJML_HOME": str(home)}) as daemon:
        assert daemon.proc is not None
        time.sleep(3)
        cpu0, rss0 = _cpu_of(daemon.proc.pid), daemon.rss_mb()
        closed, added, failed = drop_and_wait(daemon.socket, copies, samples, spacing)
        if failed:
            raise SystemExit(f"{failed} of the burst failed; see {home / 'bench-daemon.log'}")
        time.sleep(1)
        cpu, rss = _cpu_of(daemon.proc.pid) - cpu0, daemon.rss_mb()
    lat = sorted(added[p] - closed[p] for p in added)
    return statistics.median(lat), statistics.quantiles(lat, n=100)[94], cpu, rss, cpu0, rss0


if __name__ == "__main__":
    main()
