"""Daemon benchmark: import throughput, file-to-event latency, socket latency, idle cost,
and crash safety under repeated kill -9. Prints a table.

    python benchmarks/daemon.py                # 500 files, 20 kills
    python benchmarks/daemon.py --files 100 --kills 5
    python benchmarks/daemon.py --kills-only --kill-files 200 --kills 20   # the kill -9 figure only

The kill -9 figure: N kills at random moments during an import, then how many files were
lost or duplicated, whether derived data is complete (every sample predicted by the active
model, every track with a text vector: what the daemon back-fills after a kill), and how
many workers outlived their daemon.

Runs a real `djml daemon run` on a throw-away DJML_HOME with generated short one-shots.
Targets: status p95 <= 2 ms, idle RSS <= 150 MB (before models load), idle CPU <= 1 %,
0 lost and 0 duplicated items after the kill loop.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from djml import synth
from drops import drop_and_wait
from djml.client import Client, DaemonNotRunning

DJML = str(Path(sys.executable).with_name("djml"))
KINDS = ("kick", "snare", "hihat", "clap", "tom", "perc")


class Daemon:
    def __init__(self, home: Path):
        self.home = home
        self.socket = home / "data" / "djml.sock"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DJML_HOME": str(self.home)}
        log = open(self.home / "bench.log", "ab")
        self.proc = subprocess.Popen([DJML, "daemon", "run"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                Client(self.socket, timeout=5).close()
                return
            except DaemonNotRunning:
                time.sleep(0.05)
        raise SystemExit("daemon did not start; see " + str(self.home / "bench.log"))

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)  # the daemon only: its workers must notice alone
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def running(pid: int) -> bool:
    """Alive and not a zombie (a container's pid 1 may never reap orphans)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def make_files(staging: Path, n: int, offset: int) -> list[Path]:
    staging.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = staging / f"s{offset + i:05d}.wav"
        synth.write_wav(path, synth.one_shot(KINDS[i % len(KINDS)], seed=offset + i))
        paths.append(path)
    return paths


def measure(args: argparse.Namespace, daemon: "Daemon", home: Path, samples: Path, staging: Path,
            rows: list[tuple[str, str, str]]) -> None:
    daemon.start()
    if args.kills_only:
        kill_loop(args, daemon, home, samples, staging, rows, expected=0)
        return
    pid = daemon.proc.pid

    # idle cost (no workers yet, no models loaded)
    time.sleep(3)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(10)
    idle_cpu = 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    rows.append(("idle RSS (daemon process)", f"{rss_mb(pid):.0f} MB", "<= 150 MB"))
    rows.append(("idle CPU", f"{idle_cpu:.2f} %", "<= 1 %"))

    for method in ("hello", "status"):  # hello touches no database: the noise floor
        # one connection per method: each stays inside the per-connection burst allowance
        with Client(daemon.socket) as client:
            lat = []
            for _ in range(args.status_calls):
                s = time.perf_counter()
                client.call(method)
                lat.append((time.perf_counter() - s) * 1000)
            rows.append((f"{method} request p50 / p95", f"{pct(lat, 50):.2f} / {pct(lat, 95):.2f} ms",
                         "p95 <= 2 ms" if method == "status" else "baseline"))

    # latency of one file at a time (no queue in front of it)
    singles = make_files(staging, 10, 200_000)
    lat = []
    with Client(daemon.socket, timeout=None) as client:
        client.subscribe(["item.added"])
        for f in singles:
            target = samples / f.name
            os.replace(f, target)
            closed = time.monotonic()
            while client.next_event(timeout=120)[1].get("path") != str(target):
                pass
            lat.append((time.monotonic() - closed) * 1000)
    rows.append(("single file closed -> item.added p50 / p95", f"{pct(lat, 50):.0f} / {pct(lat, 95):.0f} ms",
                 "settle 0.5 s incl."))

    # import: drop files as fast as a copier would (rename in = "file closed")
    files = make_files(staging, args.files, 0)
    start = time.monotonic()
    closed_at, added_at, failed = drop_and_wait(daemon.socket, files, samples)
    elapsed = time.monotonic() - start
    lat = [(added_at[p] - closed_at[p]) * 1000 for p in added_at]
    rows.append((f"import of {args.files} one-shots", f"{len(files) / elapsed:.1f} files/s",
                 f"{failed} failed"))
    rows.append(("burst: file closed -> item.added p50 / p95", f"{pct(lat, 50):.0f} / {pct(lat, 95):.0f} ms",
                 "includes queueing"))
    time.sleep(2)
    rows.append(("RSS after import (daemon + workers)",
                 f"{rss_mb(pid):.0f} + {sum(rss_mb(c) for c in children(pid)):.0f} MB", "models loaded?"))
    with Client(daemon.socket) as client:
        lat = []
        for _ in range(200):
            s = time.perf_counter()
            client.call("status")
            lat.append((time.perf_counter() - s) * 1000)
    rows.append((f"status p50 / p95 with {args.files} items", f"{pct(lat, 50):.2f} / {pct(lat, 95):.2f} ms", ""))
    kill_loop(args, daemon, home, samples, staging, rows, expected=args.files + len(singles))


def kill_loop(args: argparse.Namespace, daemon: "Daemon", home: Path, samples: Path, staging: Path,
              rows: list[tuple[str, str, str]], expected: int) -> None:
    """kill -9 at random moments during an import of ``args.kill_files`` files, restart,
    repeat; then wait for the queue and the derived-data back-fill and count."""
    from djml.models.enrich import lacking

    files = make_files(staging, args.kill_files, 100_000)
    for f in files:
        os.replace(f, samples / f.name)
    rng = random.Random(7)
    orphans = 0
    for _ in range(args.kills):
        time.sleep(rng.uniform(0.2, 2.5))
        workers = children(daemon.proc.pid)
        daemon.kill9()
        deadline = time.monotonic() + 5  # workers notice the dead parent within ~1 s
        while any(running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        orphans += sum(1 for w in workers if running(w))
        daemon.start()
    db = home / "data" / "library.db"
    expected += args.kill_files
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        pending = conn.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued','running')").fetchone()[0]
        unpredicted = len(lacking(conn, embed_text=True))
        conn.close()
        if not pending and not unpredicted:
            break
        time.sleep(1)
    time.sleep(2)
    daemon.stop()
    conn = sqlite3.connect(db)
    samples_total = conn.execute("SELECT COUNT(*) FROM items WHERE kind = 'sample'").fetchone()[0]
    unpredicted = len(lacking(conn))
    no_text = conn.execute("SELECT COUNT(*) FROM items i WHERE i.kind = 'track' AND NOT EXISTS"
                           " (SELECT 1 FROM vectors v WHERE v.item_id = i.id AND v.space = 'text')").fetchone()[0]
    items = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    present = conn.execute("SELECT COUNT(DISTINCT path) FROM locations WHERE status = 'ok'").fetchone()[0]
    failed = conn.execute("SELECT COUNT(*) FROM locations WHERE status = 'failed'").fetchone()[0]
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    rows.append((f"kill -9 x{args.kills} during import of {args.kill_files}",
                 f"lost {expected - present}, duplicated {items - present}", "target 0 and 0"))
    rows.append(("  failed / integrity_check / workers alive 5 s after kill", f"{failed} / {integrity} / {orphans}", ""))
    rows.append(("  derived data: samples predicted by the active model",
                 f"{samples_total - unpredicted} of {samples_total}", "target all"))
    rows.append(("  derived data: tracks without a text vector", f"{no_text}", "target 0"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--kill-files", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--status-calls", type=int, default=2000)
    parser.add_argument("--kills-only", action="store_true", help="Only the kill -9 loop (the crash figure).")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="djml-bench-") as tmp:
        root = Path(tmp)
        home, samples, staging = root / "home", root / "music" / "samples", root / "staging"
        home.mkdir()
        samples.mkdir(parents=True)
        (home / "config.toml").write_text(f'samples = ["{samples}"]\nsettle_seconds = 0.5\n')
        daemon = Daemon(home)
        try:
            measure(args, daemon, home, samples, staging, rows)
        finally:
            daemon.stop()  # whatever happened, leave no daemon behind
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':<24}  note")
    print("-" * (width + 40))
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:<24}  {note}")


if __name__ == "__main__":
    main()
