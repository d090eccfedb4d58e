"""What a user runs, at every library size: issue 18's table, with its floors, in one run.

    nice -n 19 .venv/bin/python benchmarks/speed.py                        # 1k / 10k / 100k
    nice -n 19 .venv/bin/python benchmarks/speed.py --sizes 1000 --runs 3  # quick look
    .venv/bin/python benchmarks/speed.py --only analyze,daemon             # some sections

Sections (``--only``):

* ``analyze`` — `djml analyze` of one 5-minute 44.1 kHz stereo FLAC and of one one-shot,
  whole process (the CLI and every process it starts): CPU s (user + sys, from
  ``wait4``) and wall s, next to the floors measured in the same run: ``python -c pass``,
  ``python -c "import click"``, decode only (djml's reader, its own process) and the
  analysis alone (``import djml.analysis; analyze(FILE)`` in one process, no CLI).
* ``daemon`` — 100 one-shots dropped into a watched folder at once (settle 2 s): file
  closed → ``item.added`` p50 / p95; the daemon's RSS after start, after the text
  embedder ran once, and after its idle period; the embedder's peak as `djml status`
  reports it.
* ``library`` — per size: `djml recommend ID --json` cold (no daemon) and through a
  running daemon, `djml ls --json --bpm 120-128` direct and through the daemon (time
  to the first row and to the last), and bytes per item of the database.

How the libraries are built: one generated track and one one-shot are analysed for
real, and every item is stored through the real writer (``Library.record_result``) as a
copy of one of them with its own audio hash, tags, BPM, key and energy (60 % tracks,
40 % samples, as a DJ's library of tracks plus sample packs), then predicted and
indexed by the real ``after_store``. Built libraries are kept in the benchmark cache
(``$DJML_BENCH_CACHE`` or ``~/.cache/djml/bench``, folder ``speed/``) and reused.

Times: median over ``--runs`` fresh processes, bytecode cached (the first run of each
command is discarded). CPU s is what to compare across machines; wall s on a shared
machine includes waiting for a core (the load average is printed with the table).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from djml.procs import WORKER_THREAD_ENV
from drops import drop_and_wait

DJML = str(Path(sys.executable).with_name("djml"))
TRACK_SECONDS = 300.0
TRACK_SHARE = 0.6


def cache_dir() -> Path:
    root = os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench"
    path = Path(root) / "speed"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bench_env(home: Path | None = None) -> dict[str, str]:
    """Fresh processes as a user runs them: bytecode cached (in the benchmark cache, not in
    the repository), no colour, a private DJML_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "DJML_CONFIG")}
    env.update(PYTHONPYCACHEPREFIX=str(cache_dir() / "pycache"), NO_COLOR="1")
    if home is not None:
        env["DJML_HOME"] = str(home)
    return env


@dataclass
class Timing:
    cpu: float
    wall: float
    first_line: float | None = None
    lines: int = 0


def run_once(cmd: list[str], env: dict[str, str]) -> Timing:
    """One fresh process: CPU of it and every child it waited for (``wait4``), wall time,
    and when its first line of output arrived."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    first, lines = None, 0
    for _ in proc.stdout:
        if first is None:
            first = time.perf_counter() - start
        lines += 1
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:   # a failing command's time is no figure
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return Timing(usage.ru_utime + usage.ru_stime, wall, first, lines)


def measure(cmd: list[str], env: dict[str, str], runs: int) -> Timing:
    """Median of ``runs`` runs after one discarded run (bytecode cache, page cache)."""
    run_once(cmd, env)
    done = [run_once(cmd, env) for _ in range(runs)]
    firsts = [t.first_line for t in done if t.first_line is not None]
    return Timing(statistics.median(t.cpu for t in done), statistics.median(t.wall for t in done),
                  statistics.median(firsts) if firsts else None, done[-1].lines)


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, what: str, size: str, timing: Timing | None = None, value: str = "", target: str = "") -> None:
        cpu = f"{timing.cpu:.3f}" if timing else ""
        wall = f"{timing.wall:.3f}" if timing else ""
        if timing and timing.first_line is not None and not value:
            value = f"first row {timing.first_line:.3f} s, {timing.lines} rows"
        self.rows.append((what, size, cpu, wall, value + (f" (target {target})" if target else "")))
        print(f"  {what} [{size}]: cpu {cpu} wall {wall} {value}", file=sys.stderr, flush=True)

    def print(self) -> None:
        print(f"\nmachine: {os.cpu_count()} cores, load average before / after: {LOAD_BEFORE} / {load()}")
        print("\n| what a user runs | items | CPU s | wall s | notes |\n|---|---|---|---|---|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


LOAD_BEFORE = load()


# ---- audio ---------------------------------------------------------------------------

def audio_files() -> tuple[Path, Path]:
    """A 5-minute stereo FLAC and a one-shot WAV (generated once, kept in the cache)."""
    folder = cache_dir() / "audio"
    folder.mkdir(exist_ok=True)
    track, shot = folder / "track_126_four_on_floor.flac", folder / "kick.wav"
    if not track.exists() or not shot.exists():
        import numpy as np

        from djml import synth

        mono = synth.drum_track(126.0, 21, TRACK_SECONDS, style="four_on_floor", sr=44100, seed=0)
        synth.write_wav(track, np.stack([mono, np.roll(mono, 7) * 0.95], axis=1), 44100)
        synth.write_wav(shot, synth.one_shot("kick", sr=44100, seed=1), 44100)
    return track, shot


def section_analyze(table: Table, runs: int) -> None:
    track, shot = audio_files()
    home = Path(tempfile.mkdtemp(prefix="djml-speed-"))
    env = bench_env(home)
    # the floors run as djml's workers do: one BLAS thread (more threads only spin on a
    # busy machine: the analysis alone costs ~2.5x the CPU with OpenBLAS's default)
    floor_env = {**env, **{name: "1" for name in WORKER_THREAD_ENV}}
    py = sys.executable
    try:
        table.add("floor: `python -c pass`", "—", measure([py, "-c", "pass"], env, runs))
        table.add("floor: `python -c \"import click\"`", "—", measure([py, "-c", "import click"], env, runs))
        table.add("floor: `python -c \"import numpy\"` (one BLAS thread, as a worker)", "—",
                  measure([py, "-c", "import numpy"], floor_env, runs))
        table.add("floor: decode only (djml's reader + mono mix, 5-min FLAC)", "—",
                  measure([py, "-c", f"from djml.analysis.decode import decode_mono; decode_mono({str(track)!r})"],
                          floor_env, runs))
        table.add("floor: analysis alone in one process (5-min FLAC)", "—",
                  measure([py, "-c", f"import djml.analysis as a; a.analyze({str(track)!r}, 'track')"], floor_env, runs))
        table.add("floor: analysis alone in one process (one-shot)", "—",
                  measure([py, "-c", f"import djml.analysis as a; a.analyze({str(shot)!r}, 'sample')"], floor_env, runs))
        table.add("`djml analyze FILE` (5-min FLAC), whole process", "—",
                  measure([DJML, "analyze", str(track)], env, runs), target="≤ 0.5 s CPU")
        table.add("`djml analyze FILE` (one one-shot), whole process", "—",
                  measure([DJML, "analyze", str(shot)], env, runs), target="≤ 0.15 s CPU")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    from djml.config import Config

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    default = Config(Path("/nonexistent/config.toml"), Path("/nonexistent")).workers
    table.add("`--workers` default", "—", value=f"{default} worker(s) on {cores} usable core(s)",
              target="cores − 1")


# ---- daemon ----------------------------------------------------------------------------

class Daemon:
    """A real `djml daemon run` on a throw-away home, stopped by pid whatever happens."""

    def __init__(self, home: Path, env: dict[str, str] | None = None):
        self.home = home
        self.env = env if env is not None else bench_env(home)
        self.socket = home / "data" / "djml.sock"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Daemon":
        from djml.client import Client, DaemonNotRunning

        log = open(self.home / "bench-daemon.log", "ab")
        self.proc = subprocess.Popen([DJML, "daemon", "run"], env=self.env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                Client(self.socket, timeout=5).close()
                return self
            except (DaemonNotRunning, OSError):
                time.sleep(0.05)
        self.__exit__()
        raise SystemExit("daemon did not start; see " + str(self.home / "bench-daemon.log"))

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_mb(self) -> float:
        assert self.proc is not None
        return _rss_of(self.proc.pid)

    def children(self) -> list[int]:
        assert self.proc is not None
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                        found.append(int(entry.name))
                except (OSError, ValueError):
                    pass
        return found

    def memory(self) -> str:
        """"daemon MB (+ children MB: n processes)"."""
        kids = self.children()
        return (f"{self.rss_mb():.0f} MB (+ {sum(_rss_of(k) for k in kids):.0f} MB in {len(kids)} child"
                f" process(es): analysis workers, text model)")

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds so far of the daemon itself and of its live child processes."""
        assert self.proc is not None
        children = 0.0
        for pid in self.children():
            try:
                children += _cpu_of(pid)
            except OSError:
                pass
        return _cpu_of(self.proc.pid), children

    def wait_caught_up(self, timeout: float = 900) -> None:
        """Until the daemon has nothing to back-fill (predictions of a newer model, text
        vectors): requests are timed against a daemon at rest, as a user meets it."""
        from djml.models.enrich import lacking

        db = self.home / "data" / "library.db"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                left = len(lacking(conn))
            finally:
                conn.close()
            if not left and not self.status()["derived"]["pending"]:
                time.sleep(2)    # the last batch's index update
                return
            time.sleep(1)
        raise SystemExit(f"the daemon was still back-filling after {timeout:.0f} s")

    def status(self) -> dict:
        from djml.client import Client

        with Client(self.socket, timeout=30) as client:
            return client.call("status")


def _rss_of(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def section_daemon(table: Table, files: int, settle: float, idle: float) -> None:
    from djml import synth

    root = Path(tempfile.mkdtemp(prefix="djml-speed-daemon-"))
    try:
        home, tracks, samples, staging = root / "home", root / "tracks", root / "samples", root / "staging"
        for folder in (home, tracks, samples, staging):
            folder.mkdir()
        from djml.config import Config

        knows_idle = hasattr(Config, "text_model_idle_seconds")   # for runs against older djml
        (home / "config.toml").write_text(
            f'library = ["{tracks}"]\nsamples = ["{samples}"]\nsettle_seconds = {settle}\nembed_text = true\n'
            + (f"text_model_idle_seconds = {idle}\n" if knows_idle else ""))
        shots = []
        for i in range(files):
            kind = synth.ONE_SHOT_KINDS[i % len(synth.ONE_SHOT_KINDS)]
            shots.append(synth.write_wav(staging / f"{i:04d}_{kind}.wav", synth.one_shot(kind, seed=i)))
        track = synth.write_wav(staging / "Artist - Title.wav", synth.drum_track(124.0, 9, 40.0))
        with Daemon(home) as daemon:
            time.sleep(5)
            table.add("daemon RSS after start (idle)", "—", value=daemon.memory(), target="≤ 100 MB")
            own0, workers0 = daemon.cpu_seconds()
            closed, added, failed = drop_and_wait(daemon.socket, shots, samples)
            own1, workers1 = daemon.cpu_seconds()
            lat = sorted(added[p] - closed[p] for p in added)
            p50, p95 = statistics.median(lat), statistics.quantiles(lat, n=100)[94]
            table.add(f"{files} one-shots dropped at once, closed → item.added", "—",
                      value=f"p50 {p50:.2f} s, p95 {p95:.2f} s (settle {settle:g} s, {failed} failed)",
                      target=f"p95 ≤ {settle + 1:g} s")
            table.add("  CPU of that burst: daemon / analysis workers", "—",
                      value=f"{own1 - own0:.2f} s / {workers1 - workers0:.2f} s (workers alive at the end;"
                      f" first file {lat[0]:.2f} s after it closed)")
            time.sleep(3)
            table.add("daemon RSS after the burst (analysis, predictions)", "—", value=daemon.memory())
            os.replace(track, tracks / track.name)
            db = home / "data" / "library.db"
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                embedded = conn.execute("SELECT COUNT(*) FROM vectors WHERE space = 'text'").fetchone()[0]
                conn.close()
                if embedded:
                    break
                time.sleep(0.2)
            table.add("daemon RSS right after text embedding", "—", value=daemon.memory())
            embedder = (daemon.status().get("memory") or {}).get("text_model") or {}
            table.add("text embedder peak RSS (`djml status`)", "—",
                      value=f"{embedder.get('peak_rss_mb', 'not reported')} MB")
            time.sleep(idle + 5)
            table.add(f"daemon RSS {idle + 5:.0f} s later (idle period {idle:g} s)", "—",
                      value=daemon.memory(), target="≤ 100 MB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---- libraries of a given size -----------------------------------------------------------

def build_library(home: Path, n: int) -> None:
    """``n`` items through the real writer, then predicted and indexed (module docstring)."""
    import dataclasses

    import numpy as np

    from djml import config as config_mod
    from djml import db
    from djml.analysis import analyze
    from djml.library import Library
    from djml.models.enrich import after_store
    from djml.pipeline import FileResult, FileStat
    from djml.synth import drum_track, one_shot, write_wav
    from djml.tags import Tags

    home.mkdir(parents=True, exist_ok=True)
    audio = home / "templates"
    audio.mkdir(exist_ok=True)
    track_t = analyze(str(write_wav(audio / "t.wav", drum_track(124.0, 9, 40.0))), "track")
    shot_t = analyze(str(write_wav(audio / "s.wav", one_shot("snare"))), "sample")
    write_library_config(home)
    os.environ["DJML_HOME"] = str(home)
    config = config_mod.load()
    conn = db.connect(config.db_path)
    library = Library(conn)
    rng = np.random.default_rng(n)
    genres = ["House", "Techno", "Drum & Bass", "Disco", "Ambient"]
    batch: list[int] = []
    conn.execute("BEGIN IMMEDIATE")
    outer = library.transaction
    library.transaction = lambda: _no_transaction(conn)   # one commit per 5000 items, not per item
    try:
        for i in range(n):
            is_track = i < n * TRACK_SHARE
            template = track_t if is_track else shot_t
            path = str(home / ("music" if is_track else "samples") / f"{i // 500:03d}" / f"item {i:06d}.wav")
            jitter = rng.normal(scale=0.05, size=template.feature_vector.shape).astype(np.float32)
            analysis = dataclasses.replace(
                template, path=path, audio_hash=f"{i:032x}", bpm=float(rng.uniform(70, 180)),
                key=int(rng.integers(0, 24)), energy=float(rng.uniform(1, 10)),
                feature_vector=template.feature_vector * (1 + jitter))
            tags = Tags(artist=f"Artist {i % 700}", title=f"Title {i}", genre=genres[i % len(genres)])
            stat = FileStat(size=1000 + i, mtime_ns=i, inode=i + 1, device=1)
            _, item_id = library.record_result(FileResult(path, stat, tags=tags, analysis=analysis))
            batch.append(item_id)
            if len(batch) == 5000 or i == n - 1:
                conn.execute("COMMIT")
                library.transaction = outer
                after_store(library, config, batch)
                library.transaction = lambda: _no_transaction(conn)
                batch = []
                conn.execute("BEGIN IMMEDIATE")
                print(f"  built {i + 1} of {n}", file=sys.stderr, flush=True)
        conn.execute("COMMIT")
    finally:
        library.transaction = outer
        conn.close()
    (home / "built").write_text(str(n))


class _no_transaction:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        return None


def write_library_config(home: Path) -> None:
    """Paths relative to the config (a library folder can be moved); no text embedding:
    the daemon would spend its first minutes embedding every synthetic track, and this
    section measures answers of a daemon with nothing to catch up on."""
    (home / "config.toml").write_text('data_dir = "data"\nlibrary = ["music"]\nsamples = ["samples"]\n'
                                      "embed_text = false\n")


def library_for(n: int) -> Path:
    home = cache_dir() / f"library-{n}"
    if (home / "built").exists():
        write_library_config(home)
        conn = sqlite3.connect(home / "data" / "library.db")   # text vectors an earlier daemon made
        conn.execute("DELETE FROM vectors WHERE space = 'text'")
        conn.commit()
        conn.close()
    else:
        shutil.rmtree(home, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build", str(n), "--home", str(home)], check=True,
                       env=bench_env(home))
        print(f"  library of {n} built in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return home


def section_library(table: Table, sizes: list[int], runs: int) -> None:
    env = bench_env()
    table.add("floor: `python -c pass`", "—", measure([sys.executable, "-c", "pass"], env, runs))
    table.add("floor: `djml --help`", "—", measure([DJML, "--help"], env, runs))
    table.add("floor: `python -c \"import numpy, hnswlib\"` (what a cold recommend must load)", "—",
              measure([sys.executable, "-c", "import numpy, hnswlib"], env, runs))
    for n in sizes:
        home = library_for(n)
        env = bench_env(home)
        label = f"{n // 1000}k"
        db = home / "data" / "library.db"
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        seed = conn.execute("SELECT id FROM items WHERE kind = 'track' ORDER BY id LIMIT 1 OFFSET 7").fetchone()[0]
        vectors = conn.execute("SELECT COALESCE(SUM(LENGTH(vector)), 0) FROM vectors").fetchone()[0]
        patch = conn.execute("SELECT AVG(LENGTH(vector)) FROM vectors WHERE space = 'logmel'").fetchone()[0]
        pages, free, page_size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                                  for p in ("page_count", "freelist_count", "page_size"))
        conn.close()
        size = (pages - free) * page_size
        table.add("library size", label, value=f"{size / n / 1024:.1f} KB per item ({vectors / n / 1024:.1f} KB of"
                  f" vectors; a sample's log-mel patch {patch / 1024:.0f} KB; 60 % tracks, 40 % samples)")
        rec = [DJML, "recommend", str(seed), "--json"]
        ls = [DJML, "ls", "--json", "--bpm", "120-128"]
        table.add("`djml recommend --json` cold", label, measure(rec, env, runs), target="≤ 0.25 s")
        table.add("`djml ls --json --bpm 120-128`", label, measure(ls, env, runs), target="first row ≤ 0.1 s")
        with Daemon(home) as daemon:
            daemon.wait_caught_up()
            run_once(rec, env)   # the daemon loads its index on the first request
            table.add("`djml recommend --json` through the daemon", label, measure(rec, env, runs),
                      target="≤ 0.05 s")
            table.add("`djml ls --json --bpm 120-128` through the daemon", label, measure(ls, env, runs),
                      target="faster than direct")


def section_vectors(table: Table, test_sources: int) -> None:
    """Float16 log-mel patches against float32 on the real sample sets: the CNN trained
    on float32 patches predicts held-out sources from float32 and from float16 patches
    (agreement, largest probability change), and a CNN trained and tested on float16
    patches, as a library that stores them runs it end to end. The held-out sources are
    the last ``test_sources`` in name order (nothing is chosen on the scores)."""
    import numpy as np

    from djml.models import train_default as td
    from djml.models.estimators import Estimator
    from djml.models.features import LogmelFeatures
    from djml.models.shipped_data import logmel_shape

    data = td.load_dataset(td.cache_dir(), copies=0, with_logmel=True)
    sources = sorted(set(data.sources))
    test = np.isin(data.sources, sources[-test_sources:])
    train = ~test
    half = data.L.astype(np.float16).astype(np.float32)

    def fit(patches: np.ndarray) -> Estimator:
        est = Estimator("sample_type", "cnn", LogmelFeatures(logmel_shape()), seed=td.SEED, params=td.CNN_PARAMS)
        return est.fit_arrays(patches[train], list(data.y[train]), data.weights[train])

    full_model = fit(data.L)
    p32 = full_model.predict_proba_arrays(data.L[test])
    p16 = full_model.predict_proba_arrays(half[test])
    classes = np.array(full_model.classes_)
    truth = data.y[test]
    half_model = fit(half)
    q16 = half_model.predict_proba_arrays(half[test])
    agree = float(np.mean(p32.argmax(1) == p16.argmax(1)))
    table.add("sample vectors: float16 log-mel patches vs float32 (CNN)", "—", value=(
        f"{int(test.sum())} held-out sounds of {test_sources} sources ({', '.join(sources[-test_sources:])}):"
        f" same class {agree:.2%}, largest probability change {np.abs(p32 - p16).max():.4f};"
        f" accuracy float32 {np.mean(classes[p32.argmax(1)] == truth):.3f}, float16 inputs"
        f" {np.mean(classes[p16.argmax(1)] == truth):.3f}, trained and tested on float16"
        f" {np.mean(np.array(half_model.classes_)[q16.argmax(1)] == truth):.3f};"
        f" patch max rounding error {np.abs(half - data.L).max():.1e}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="library sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (after one discarded)")
    parser.add_argument("--only", default="analyze,daemon,vectors,library", help="sections to run")
    parser.add_argument("--test-sources", type=int, default=3, help="held-out sample sources (vectors section)")
    parser.add_argument("--burst", type=int, default=100, help="one-shots dropped at once (daemon section)")
    parser.add_argument("--settle", type=float, default=2.0, help="settle_seconds of the daemon section")
    parser.add_argument("--idle", type=float, default=20.0, help="text_model_idle_seconds of the daemon section")
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)   # internal: build one library
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build_library(args.home, args.build)
        return
    sections = set(args.only.split(","))
    table = Table()
    if "analyze" in sections:
        section_analyze(table, args.runs)
    if "daemon" in sections:
        section_daemon(table, args.burst, args.settle, args.idle)
    if "vectors" in sections:
        section_vectors(table, args.test_sources)
    if "library" in sections:
        section_library(table, [int(s) for s in args.sizes.split(",") if s], args.runs)
    table.print()
    (cache_dir() / "last.json").write_text(json.dumps({"rows": table.rows, "load": load()}))


if __name__ == "__main__":
    main()
