"""The Dask backend against the local process pool, on this machine.

1. The same mixed library (one-shots, loops and short tracks, generated) scanned with
   `djml scan` on the local pool and with `--cluster local:N`, each into a fresh library:
   wall and CPU time, overhead of the cluster over the pool, and whether the stored results
   are identical item for item.
2. Per-task scheduling overhead of Dask on this machine (no-op tasks through the same
   windowed loop), so the README can state the expected speed-up per added worker machine:
   speed-up ≈ workers × t_file / (t_file + overhead).
3. Memory of the scanning process (client, scheduler, writer; not the workers) during a
   large scan of tiny files: peak RSS sampled from /proc.

    .venv/bin/python benchmarks/cluster.py                      # 2,000 files, local:2, memory at 100,000
    .venv/bin/python benchmarks/cluster.py --memory-files 20000 # a quicker memory row

Needs `pip install -e '.[cluster]'` (the dev extra has it). Files go to the bench cache.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from djml import synth  # noqa: E402

CACHE = Path(os.environ.get("DJML_BENCH_CACHE", Path.home() / ".cache" / "djml" / "bench")) / "cluster"
DJML = str(Path(sys.executable).with_name("djml"))
KINDS = ["kick", "snare", "hihat", "clap", "tom", "cymbal", "perc", "fx", "bass", "synth"]


def mixed_library(folder: Path, n: int) -> Path:
    """``n`` files: 85 % one-shots, 10 % one- to four-bar loops, 5 % 30-s tracks."""
    done = folder / f".complete-{n}"
    if done.exists():
        return folder
    rng = np.random.default_rng(7)
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    (folder / "tracks").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        r = i % 20
        if r == 0:
            bpm = float(rng.uniform(90, 150))
            synth.write_wav(folder / "tracks" / f"t{i:05d}.wav", synth.drum_track(bpm, int(rng.integers(0, 24)), 30.0,
                                                                                  seed=i))
        elif r in (1, 2):
            synth.write_wav(folder / "samples" / f"l{i:05d}.wav",
                            synth.loop(float(rng.uniform(80, 170)), bars=int(rng.integers(1, 5)), seed=i))
        else:
            synth.write_wav(folder / "samples" / f"s{i:05d}.wav", synth.one_shot(KINDS[i % len(KINDS)], seed=i))
    done.touch()
    return folder


def tiny_library(folder: Path, n: int) -> Path:
    """``n`` tiny distinct one-shots (0.1 s) for the memory row: a huge count, little audio."""
    done = folder / f".complete-{n}"
    if done.exists():
        return folder
    import soundfile as sf

    rng = np.random.default_rng(11)
    for i in range(n):
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        y = (rng.standard_normal(2205) * np.exp(-np.arange(2205) / 300.0) * 0.5).astype(np.float32)
        sf.write(sub / f"x{i:06d}.wav", y, 22050, subtype="PCM_16")
    done.touch()
    return folder


def run_scan(home: Path, music: Path, workers: int, cluster: str | None) -> dict:
    """A fresh library, `djml init` + timed `djml scan`; peak RSS of the scanning process."""
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "DJML_HOME": str(home), "NO_COLOR": "1"}
    subprocess.run([DJML, "init", "--samples", str(music / "samples") if (music / "samples").exists() else str(music),
                    *(["--library", str(music / "tracks")] if (music / "tracks").exists() else []),
                    "--workers", str(workers)], env=env, check=True, capture_output=True)
    args = [DJML, "scan", "-q", *(["--cluster", cluster] if cluster else [])]
    start, cpu0 = time.perf_counter(), os.times()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                pass
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    wall = time.perf_counter() - start
    cpu1 = os.times()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {err[-2000:]}")
    return {"wall_s": wall, "cpu_s": (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system),
            "peak_rss_mb": peak[0] / 1024, "summary": (out + err).strip().splitlines()[-1:], "db": home / "data" / "library.db"}


def stored(db_path: Path) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT l.path, l.status, i.audio_hash, i.kind, a.bpm, a.key, a.energy, a.data FROM locations l "
            "LEFT JOIN items i ON i.id = l.item_id LEFT JOIN analyses a ON a.item_id = i.id ORDER BY l.path").fetchall()
    finally:
        conn.close()


def scheduling_overhead(workers: int, tasks: int) -> dict:
    """Seconds per no-op task through a LocalCluster, submitted in the scan's window."""
    from distributed import Client, LocalCluster, as_completed

    from djml.cluster import WINDOW_PER_THREAD

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:
        client.submit(int, 0).result()  # warm
        window = WINDOW_PER_THREAD * workers
        start = time.perf_counter()
        futures = as_completed([client.submit(_noop, i, pure=False) for i in range(min(window, tasks))])
        submitted = min(window, tasks)
        for future in futures:
            future.release()
            if submitted < tasks:
                futures.add(client.submit(_noop, submitted, pure=False))
                submitted += 1
        wall = time.perf_counter() - start
    return {"tasks": tasks, "per_task_ms": 1000 * wall / tasks * workers, "wall_s": wall}


def _noop(i: int) -> int:
    return i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-files", type=int, default=100_000, help="0 skips the memory row")
    parser.add_argument("--memory-only", action="store_true", help="only the memory row")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    if args.memory_only:
        memory_row(args, {"load_before": load})
        return
    music = mixed_library(CACHE / f"mixed-{args.files}", args.files)
    local = run_scan(CACHE / "home-local", music, args.workers, None)
    dask = run_scan(CACHE / "home-dask", music, args.workers, f"local:{args.workers}")
    same = stored(local["db"]) == stored(dask["db"])
    over = scheduling_overhead(args.workers, 2000)
    rows = {"load_before": load, "files": args.files, "workers": args.workers, "local": local, "dask": dask,
            "identical": same, "overhead": over}
    print(f"# {args.files}-file mixed library, {args.workers} workers, load average {load:.1f} before")
    print("| executor | wall s | files/s | CPU s (all processes) | peak RSS of the scanning process MB |")
    print("|---|---|---|---|---|")
    for name, r in (("local process pool", local), (f"Dask LocalCluster local:{args.workers}", dask)):
        print(f"| {name} | {r['wall_s']:.1f} | {args.files / r['wall_s']:.0f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} |")
    print(f"\ncluster overhead over the pool: {100 * (dask['wall_s'] / local['wall_s'] - 1):+.1f} % wall; "
          f"stored results identical item for item: {same}")
    t_file = local["wall_s"] * args.workers / args.files
    print(f"Dask per-task overhead: {over['per_task_ms']:.2f} ms of worker time per task ({over['tasks']} no-op tasks); "
          f"mean analysis time here {1000 * t_file:.1f} ms/file → expected speed-up per added worker "
          f"{t_file / (t_file + over['per_task_ms'] / 1000):.2f}× of one worker")
    sys.stdout.flush()
    if args.memory_files:
        memory_row(args, rows)
    elif args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))


def memory_row(args: argparse.Namespace, rows: dict) -> None:
    tiny = tiny_library(CACHE / f"tiny-{args.memory_files}", args.memory_files)
    mem = run_scan(CACHE / "home-memory", tiny, args.workers, f"local:{args.workers}")
    rows["memory"] = {**mem, "files": args.memory_files}
    print(f"\n{args.memory_files:,}-file scan through local:{args.workers}: peak RSS of the scanning process "
          f"{mem['peak_rss_mb']:.0f} MB, {mem['wall_s']:.0f} s ({args.memory_files / mem['wall_s']:.0f} files/s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
