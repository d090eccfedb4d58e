"""Library speed at 10k items: unchanged rescan, `djml ls` and `djml --help` wall times.

    .venv/bin/python benchmarks/library.py [--items 10000] [--runs 5]

How the library is built: 10k distinct tiny WAV files are written to a temp dir (so the
rescan walks and stats real files), one real file is analysed, and every file is then
recorded through the real writer (``Library.record_result``) with that analysis given
a distinct audio hash, BPM and key. The import itself is not what this measures — the
analysis benchmarks do that; the rescan, `ls` and `--help` runs are the real commands.

Targets (issue "Foundation"): rescan of 10k unchanged files ≤ 10 s, `djml ls --json
--bpm 120-128` ≤ 0.4 s (also sorted, and the top 200 of all 10k by BPM), `djml --help` ≤ 0.25 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

DJML = str(Path(sys.executable).with_name("djml"))


def build(home: Path, n: int) -> Path:
    from djml import config as cfg
    from djml import db
    from djml.analysis import analyze
    from djml.library import Library
    from djml.pipeline import FileResult, FileStat
    from djml.tags import Tags

    music = home / "music"
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = music / f"{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"item {i:05d}.wav", (rng.standard_normal(64) * 0.1).astype("float32"), 8000)
    os.environ["DJML_HOME"] = str(home)
    config = cfg.load()
    config.library = [music]
    cfg.write(config)
    template = analyze(str(music / "000" / "item 00000.wav"), "track")
    library = Library(db.connect(config.db_path))
    for i, path in enumerate(sorted(str(p) for p in music.rglob("*.wav"))):
        analysis = dataclasses.replace(
            template, path=path, audio_hash=f"{i:032x}", bpm=float(rng.uniform(70, 180)),
            key=int(rng.integers(0, 24)), energy=float(rng.uniform(1, 10)),
        )
        tags = Tags(artist=f"Artist {i % 700}", title=f"Title {i}", genre=["House", "Techno", "DnB"][i % 3])
        library.record_result(FileResult(path, FileStat.of(path), tags=tags, analysis=analysis))
    return music


def wall(cmd: list[str], env: dict, runs: int) -> tuple[float, float, str]:
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr}")
        out = proc.stdout + proc.stderr
    return statistics.median(times), min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--home", type=Path, help="Build into (or reuse) this folder instead of a temp dir.")
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console()
    with tempfile.TemporaryDirectory(prefix="djml-bench-") as tmp:
        home = args.home or Path(tmp)
        if not (home / "data" / "library.db").exists():
            start = time.perf_counter()
            with console.status(f"Building a {args.items}-item library …"):
                build(home, args.items)
            console.print(f"built in {time.perf_counter() - start:.1f} s")
        env = {**os.environ, "DJML_HOME": str(home), "NO_COLOR": "1"}
        rows = []
        median, best, out = wall([DJML, "scan", "--quiet"], env, max(1, args.runs // 2))
        assert f"{args.items} unchanged" in out, out
        rows.append((f"rescan {args.items} unchanged files", median, best, 10.0))
        median, best, out = wall([DJML, "ls", "--json", "--bpm", "120-128"], env, args.runs)
        matched = len(out.splitlines())
        rows.append((f"ls --json --bpm 120-128 ({matched} rows)", median, best, 0.4))
        median, best, out = wall([DJML, "ls", "--json", "--bpm", "120-128", "--sort", "bpm", "--desc"], env, args.runs)
        rows.append((f"ls --json --bpm 120-128 --sort bpm --desc ({len(out.splitlines())} rows)", median, best, 0.4))
        median, best, out = wall([DJML, "ls", "--json", "--sort", "bpm", "--desc", "-n", "200"], env, args.runs)
        rows.append(("ls --json --sort bpm --desc -n 200 (top of all)", median, best, 0.4))
        median, best, out = wall([DJML, "ls", "--json", "--sort", "bpm", "--desc"], env, args.runs)
        rows.append((f"ls --json --sort bpm --desc ({len(out.splitlines())} rows)", median, best, None))
        median, best, _ = wall([DJML, "ls", "--search", "artist 42"], env, args.runs)
        rows.append(("ls --search 'artist 42' (table)", median, best, None))
        median, best, _ = wall([DJML, "--help"], env, args.runs)
        rows.append(("djml --help", median, best, 0.25))
        median, best, _ = wall([sys.executable, "-c", "pass"], env, args.runs)
        rows.append(("baseline: python -c pass (machine load)", median, best, None))
        table = Table(title=f"djml library benchmark ({args.items} items)")
        for column in ("what", "median s", "best s", "target s", "ok"):
            table.add_column(column)
        for what, median, best, target in rows:
            ok = "—" if target is None else ("yes" if median <= target else "NO")
            table.add_row(what, f"{median:.3f}", f"{best:.3f}", "—" if target is None else f"{target}", ok)
        console.print(table)


if __name__ == "__main__":
    main()
