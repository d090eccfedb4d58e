"""Speed and memory of djml.analysis versus naive librosa (and Essentia if installed).

Generates (once, cached) 5-minute 44.1 kHz stereo tracks as FLAC and MP3 plus a set of
one-shots with djml.synth, then measures every contender in a fresh single-threaded
subprocess (OMP/MKL/OpenBLAS threads = 1) and prints a table: wall and CPU seconds per
file, x realtime, peak RSS of the worker (VmHWM; getrusage would inherit the parent's
peak), ratio against naive librosa.

Load context (the machine is shared): before and after the contenders the same run times
``python -c pass`` and a fixed single-threaded numpy workload (FFTs + reductions) and
prints their wall and CPU seconds with the load average. For a single-threaded process
CPU time is what it costs on an idle core; wall / CPU of the fixed workload says how much
waiting for a core inflated every wall number of this run ("contention").

    .venv/bin/python benchmarks/speed_analysis.py [--cache DIR] [--tracks 2] [--oneshots 300]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}
TRACK_SECONDS = 300.0
TRACK_SPECS = [(126.0, 21, "four_on_floor"), (174.0, 4, "dnb"), (140.0, 14, "halftime"), (92.0, 7, "swing")]


def generate(cache: Path, n_tracks: int, n_oneshots: int) -> dict[str, list[str]]:
    import numpy as np

    from djml import synth

    cache.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {"flac": [], "mp3": [], "oneshot": []}
    for i, (bpm, key, style) in enumerate(TRACK_SPECS[:n_tracks]):
        stem = cache / f"track{i}_{int(bpm)}_{style}"
        need = [ext for ext in ("flac", "mp3") if not stem.with_suffix(f".{ext}").exists()]
        if need:
            print(f"generating {stem.name} ({', '.join(need)}) ...", file=sys.stderr)
            mono = synth.drum_track(bpm, key, TRACK_SECONDS, style=style, sr=44100, seed=i)
            stereo = np.stack([mono, np.roll(mono, 7) * 0.95], axis=1)
            for ext in need:
                synth.write_wav(stem.with_suffix(f".{ext}"), stereo, 44100)
        files["flac"].append(str(stem.with_suffix(".flac")))
        files["mp3"].append(str(stem.with_suffix(".mp3")))
    shots = cache / "oneshots"
    shots.mkdir(exist_ok=True)
    for i in range(n_oneshots):
        kind = synth.ONE_SHOT_KINDS[i % len(synth.ONE_SHOT_KINDS)]
        path = shots / f"{i:04d}_{kind}.wav"
        if not path.exists():
            synth.write_wav(path, synth.one_shot(kind, sr=44100, seed=i), 44100)
        files["oneshot"].append(str(path))
    return files


# ---- worker side: runs in a fresh process, prints one JSON line ----------------------

def _worker(mode: str, paths: list[str]) -> None:
    t0 = time.perf_counter()
    if mode == "reference":
        _reference_workload()
        return
    if mode.startswith("djml"):
        from djml.analysis import analyze as run
    elif mode == "librosa":
        run = _librosa_naive
    elif mode == "essentia":
        run = _essentia
    else:
        raise SystemExit(f"unknown mode {mode}")
    import_s = time.perf_counter() - t0
    times, cpu = [], []
    for p in paths:
        t, c = time.perf_counter(), time.process_time()
        run(p)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    rss_mb = _peak_rss_mb()
    print(json.dumps({"import_s": import_s, "times": times, "cpu": cpu, "rss_mb": rss_mb}))


def _reference_workload() -> None:
    """Fixed CPU-bound numpy work (~0.5 s on an idle core): load probe, prints wall/CPU."""
    import numpy as np

    x = np.random.default_rng(0).standard_normal((64, 4096)).astype(np.float32)
    t, c = time.perf_counter(), time.process_time()
    acc = 0.0
    for _ in range(60):
        spec = np.fft.rfft(x, axis=1)
        acc += float(np.abs(spec).sum()) + float(np.dot(x[0], x[1]))
    print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "acc": acc}))


def _peak_rss_mb() -> float:
    """VmHWM (reset by exec), not getrusage: Linux keeps ru_maxrss across fork+exec, so a
    child would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _librosa_naive(path: str) -> None:
    import librosa

    y, sr = librosa.load(path, sr=22050, mono=True)
    librosa.beat.beat_track(y=y, sr=sr)
    librosa.feature.chroma_cqt(y=y, sr=sr)
    librosa.feature.mfcc(y=y, sr=sr)


def _essentia(path: str) -> None:
    import essentia.standard as es

    audio = es.MonoLoader(filename=path, sampleRate=44100)()
    es.RhythmExtractor2013(method="multifeature")(audio)
    es.KeyExtractor()(audio)


# ---- driver ------------------------------------------------------------------------

def measure(mode: str, paths: list[str]) -> dict | None:
    env = dict(os.environ, **THREAD_ENV)
    cmd = [sys.executable, __file__, "--worker", mode, *paths]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(f"[{mode}] skipped: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def load_context() -> dict:
    """Load average, `python -c pass` wall (median of 5) and the reference workload."""
    starts = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        starts.append(time.perf_counter() - t)
    ref = measure("reference", []) or {}
    return {"loadavg": os.getloadavg()[0], "python_pass_s": sorted(starts)[2],
            "ref_wall_s": ref.get("wall", float("nan")), "ref_cpu_s": ref.get("cpu", float("nan"))}


def _print_load(label: str, ctx: dict) -> None:
    print(f"load {label}: loadavg(1 min) {ctx['loadavg']:.1f}, `python -c pass` {1000 * ctx['python_pass_s']:.0f} ms, "
          f"reference workload wall {ctx['ref_wall_s']:.2f} s / CPU {ctx['ref_cpu_s']:.2f} s "
          f"(contention x{ctx['ref_wall_s'] / ctx['ref_cpu_s']:.2f})")


def _essentia_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import essentia.standard"], capture_output=True)
    return probe.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "djml-bench")
    ap.add_argument("--tracks", type=int, default=2, help="5-minute tracks per format (max 4)")
    ap.add_argument("--oneshots", type=int, default=300)
    ap.add_argument("--no-librosa", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args.worker, args.paths)
        return
    files = generate(args.cache, min(args.tracks, len(TRACK_SPECS)), args.oneshots)
    before = load_context()
    rows = []   # (label, result, seconds of audio per file)
    for fmt in ("flac", "mp3"):
        rows.append((f"djml track {fmt.upper()}", measure("djml", files[fmt]), TRACK_SECONDS))
    shot_audio = _mean_duration(files["oneshot"])
    rows.append(("djml one-shots WAV", measure("djml", files["oneshot"]), shot_audio))
    if not args.no_librosa:
        rows.append(("naive librosa FLAC", measure("librosa", files["flac"][:1]), TRACK_SECONDS))
        rows.append(("naive librosa one-shots", measure("librosa", files["oneshot"][:50]), shot_audio))
    if _essentia_available():
        rows.append(("essentia FLAC", measure("essentia", files["flac"][:1]), TRACK_SECONDS))
    else:
        print("essentia not importable: skipped", file=sys.stderr)
    after = load_context()
    _print_table(rows)
    from djml.analysis.decode import flac_decoder

    print(f"FLAC decoder: {flac_decoder()}")
    _print_load("before", before)
    _print_load("after ", after)


def _mean_duration(paths: list[str]) -> float:
    import soundfile as sf

    return sum(sf.info(p).duration for p in paths) / max(1, len(paths))


def _print_table(rows: list[tuple[str, dict | None, float]]) -> None:
    def median(values: list[float]) -> float:
        # the first file pays lazy imports/JIT (numba for librosa.beat): report warm median
        v = sorted(values[1:] or values)
        return v[len(v) // 2]

    base = {label.split()[-1]: median(r["times"]) for label, r, _ in rows if r and label.startswith("naive")}
    print(f"{'contender':26s} {'files':>5s} {'import s':>8s} {'first s':>8s} {'s/file':>8s} {'CPU s/file':>10s} "
          f"{'files/s':>8s} {'x realtime':>10s} {'peak RSS MB':>11s} {'vs librosa':>10s}")
    for label, r, audio_s in rows:
        if r is None:
            print(f"{label:26s} skipped")
            continue
        s, c = median(r["times"]), median(r.get("cpu") or r["times"])
        key = "one-shots" if "one-shots" in label else "FLAC"
        ratio = base.get(key)
        print(f"{label:26s} {len(r['times']):5d} {r['import_s']:8.2f} {r['times'][0]:8.2f} {s:8.3f} {c:10.3f} "
              f"{1 / s:8.1f} {audio_s / s:10.0f} {r['rss_mb']:11.0f} "
              f"{(f'{ratio / s:9.1f}x') if ratio and not label.startswith('naive') else '':>10s}")


if __name__ == "__main__":
    main()
