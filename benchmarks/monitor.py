"""What the model monitor costs an idle daemon, and whether it loads a model while nothing is due.

Builds (once, in the benchmark cache) a library of generated tracks — 5000 analysed-looking
items, 600 bucket labels, one trained bucket model with its drift snapshot and 300 items
added after it — then measures:

1. ``schedule.due`` (the check the daemon runs every ``monitor_seconds``, default 300 s):
   CPU ms per call over many calls, and the CPU share that is at the default interval;
2. ``drift.check`` on the 300 new items (what a due weekly check costs, once a week);
3. in a fresh interpreter, which modules a check that finds nothing due imports
   (no numpy, scikit-learn, torch or djml.models.estimators may appear);
4. a real idle `djml daemon run` on that library for ``--seconds`` with the monitor
   ticking every second (300 × the default rate) and with it ticking never, from
   /proc/PID/stat: the difference is the monitor's CPU, scaled to the default interval.

    nice .venv/bin/python benchmarks/monitor.py [--seconds 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from djml import db
from djml.analysis import FEATURE_NAMES, RHYTHM_NAMES, Analysis
from djml.config import Config
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.tags import Tags

ITEMS, LABELS, NEW = 5000, 600, 300
DJML = str(Path(sys.executable).with_name("djml"))


def cache_dir() -> Path:
    return Path(os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench") / "monitor"


def add_track(library: Library, n: int, rng: np.random.Generator, bpm_shift: float = 0.0) -> tuple[int, float]:
    bpm = float(rng.normal(124 + bpm_shift, 5))
    vec = rng.normal(0, 0.1, len(FEATURE_NAMES)).astype(np.float32)
    vec[FEATURE_NAMES.index("band_low_mean")] = rng.normal(0.4, 0.05)
    vec[FEATURE_NAMES.index("bpm_norm")] = bpm / 100
    a = Analysis(path=f"/nonexistent/monitor-bench/t{n}.wav", kind="track", analyzer_version=1,
                 audio_hash=f"monitor-bench-{n}", duration=300.0, sample_rate=44100, channels=2, loudness=-9.0,
                 peak_db=-0.5, bpm=bpm, bpm_confidence=0.9, key=int(rng.integers(24)), key_confidence=0.8,
                 energy=float(rng.normal(6, 1.5)), feature_vector=vec,
                 rhythm=rng.normal(0, 0.3, len(RHYTHM_NAMES)).astype(np.float32))
    result = FileResult(path=a.path, stat=FileStat(1000 + n, n, n, 1), tags=Tags(title=f"Track {n}"), analysis=a)
    return library.record_result(result)[1], bpm


def build(folder: Path) -> Config:
    config = Config(config_path=folder / "config.toml", data_dir=folder / "data")
    if (folder / "ready").exists():
        return config
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    from djml.models import service

    library = Library(db.connect(config.db_path))
    rng = np.random.default_rng(0)
    made = [add_track(library, n, rng) for n in range(ITEMS)]
    for item_id, bpm in made[:LABELS]:
        library.set_label(item_id, "bucket", "warm-up" if bpm < 124 else "peak-time")
    print("training the bucket model once …", file=sys.stderr)
    service.train(library, config, "bucket", clock=time.time())
    for n in range(ITEMS, ITEMS + NEW):
        add_track(library, n, rng, bpm_shift=5.0)
    library.conn.close()
    (folder / "ready").write_text("1")
    return config


def time_due(config: Config, calls: int) -> dict[str, float]:
    from djml.models.monitor import schedule

    conn = db.connect_readonly(config.db_path)
    now = time.time()
    schedule.due(conn, config, now)            # warm the page cache and the imports
    start = time.process_time()
    for _ in range(calls):
        work = schedule.due(conn, config, now)
    cpu = (time.process_time() - start) / calls
    conn.close()
    return {"cpu_ms_per_check": round(1000 * cpu, 3), "due": [w.kind for w in work],
            "cpu_share_at_300s": cpu / 300.0}


def time_drift(config: Config) -> dict[str, float]:
    from djml.models.monitor import drift

    tmp = Path(tempfile.mkdtemp(prefix="djml-monitor-bench-"))
    try:
        shutil.copy(config.db_path, tmp / "library.db")
        library = Library(db.connect(tmp / "library.db"))
        start = time.process_time()
        result = drift.check(library, "bucket", 0.1, time.time())
        cpu = time.process_time() - start
        library.conn.close()
    finally:
        shutil.rmtree(tmp)
    return {"cpu_s": round(cpu, 3), "n_items": result["n_items"] if result else 0,
            "features": result["features"] if result else []}


def imports_when_idle(config: Config) -> list[str]:
    code = (
        "import sys, time\n"
        "from djml import config as c, db\n"
        "from djml.models.monitor import schedule\n"
        f"cfg = c.from_dict({{'data_dir': {str(config.data_dir)!r}}}, c.Path('/nonexistent/config.toml'))\n"
        "conn = db.connect_readonly(cfg.db_path)\n"
        "schedule.due(conn, cfg, time.time())\n"
        "print(','.join(m for m in ('numpy', 'sklearn', 'torch', 'djml.models.estimators', 'djml.models.service')"
        " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def daemon_cpu(config: Config, monitor_seconds: float, seconds: float) -> float:
    """CPU seconds the idle daemon used over ``seconds`` (after a settling start-up)."""
    home = Path(tempfile.mkdtemp(prefix="djml-monitor-bench-"))
    try:
        (home / "data").mkdir()
        shutil.copy(config.db_path, home / "data" / "library.db")
        (home / "config.toml").write_text(f"library = []\nembed_text = false\nmonitor_seconds = {monitor_seconds}\n")
        env = {**os.environ, "DJML_HOME": str(home)}
        proc = subprocess.Popen([DJML, "daemon", "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(15)                                   # start-up: reconcile, warm-up
            before = _cpu(proc.pid)
            time.sleep(seconds)
            return _cpu(proc.pid) - before
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle daemon measuring time per run")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = build(cache_dir())
    due = time_due(config, args.calls)
    drift_cost = time_drift(config)
    heavy = imports_when_idle(config)
    fast = daemon_cpu(config, 1.0, args.seconds)
    off = daemon_cpu(config, 1e9, args.seconds)
    per_tick = max(0.0, fast - off) / args.seconds          # CPU s per 1-s tick
    result = {"items": ITEMS, "labels": LABELS, "new_items": NEW, "check": due, "drift_check": drift_cost,
              "imports_when_nothing_due": heavy,
              "daemon": {"seconds": args.seconds, "cpu_s_monitor_every_1s": round(fast, 3),
                         "cpu_s_monitor_off": round(off, 3), "monitor_cpu_share_at_300s": per_tick / 300.0}}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"library: {ITEMS} tracks, {LABELS} bucket labels, 1 model, {NEW} items added after it")
    print(f"schedule.due: {due['cpu_ms_per_check']:.2f} ms CPU per check → {100 * due['cpu_share_at_300s']:.4f} %"
          f" of a core at monitor_seconds = 300 (due now: {due['due'] or 'nothing'})")
    print(f"drift.check on {drift_cost['n_items']} new items: {drift_cost['cpu_s']:.3f} s CPU"
          f" (moved: {', '.join(drift_cost['features']) or 'nothing'})")
    print(f"imports of a check with nothing due: {', '.join(heavy) or 'none of numpy/sklearn/torch/estimators'}")
    print(f"idle daemon over {args.seconds:.0f} s: {fast:.2f} s CPU ({100 * fast / args.seconds:.2f} % of a core,"
          f" whole daemon) with a check every second, {off:.2f} s with none → monitor ≈"
          f" {100 * result['daemon']['monitor_cpu_share_at_300s']:.4f} % of a core at the default 300 s"
          " (differences below ~0.05 s are noise)")


if __name__ == "__main__":
    main()
