"""Analysis speed on one core: djml vs naive librosa vs Essentia vs the decode floor.

Every tool runs on the **same files** (5-minute 44.1 kHz stereo tracks as FLAC and MP3,
and one-shot WAVs, all generated once by djml.synth into the cache), each in a fresh
worker process per tool and file type, pinned to one core (``sched_setaffinity``) with
OMP/MKL/OpenBLAS/numba threads = 1. In each worker the first call (on the first file) is a
**warm-up and is discarded** (it pays lazy imports, numba compilation, caches), then every
file is timed; both **CPU seconds** (``process_time``: the cost on a free core) and **wall
seconds** are reported, each in its own column, and every ratio says which one it uses.

Rows per file type:

* ``decode: read``   the decoder djml uses (dr_flac for 16-bit FLAC, else libsndfile) and
  the stereo-to-mono mix, nothing else: the floor any analysis of the file pays.
* ``decode: djml pass``  djml's whole decode (read + identity hash + mono + soxr resample
  to 22.05 kHz): what djml's pipeline pays before its first FFT.
* ``djml``           ``djml.analysis.analyze(path)`` (tracks as "track", one-shots "sample").
* ``djml, no loudness``  the same with the decoder's BS.1770 meter off: loudness costs the
  difference (``--only djml,djml-no-loudness --rounds 4`` alternates the two).
* ``naive librosa``  ``librosa.load(sr=22050)`` + ``beat.beat_track`` + ``feature.chroma_cqt``
  + ``feature.mfcc``, each from the signal (how a script without care would do it).
* ``essentia``       ``MonoLoader`` + ``RhythmExtractor2013(multifeature)`` + ``KeyExtractor``
  (AGPL: benchmark only; from this interpreter if it imports essentia, else
  ``--essentia-python``, else ``~/.cache/djml/peers/essentia/bin/python``).

"decode-bound" = djml CPU / decode-pass CPU: 1.0 would mean the analysis itself is free.

Load context (the machine may be shared): before and after, the load average, ``python -c
pass`` and a fixed single-threaded numpy workload's wall and CPU ("contention" = its wall /
CPU: how much waiting for a core inflated every wall number of the run).

    .venv/bin/python benchmarks/speed_analysis.py [--tracks 2] [--oneshots 200] [--rounds 1]
    .venv/bin/python benchmarks/speed_analysis.py --only djml,decode --rounds 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}
TRACK_SECONDS = 300.0
TRACK_SPECS = [(126.0, 21, "four_on_floor"), (174.0, 4, "dnb"), (140.0, 14, "halftime"), (92.0, 7, "swing")]
FILE_TYPES = ("flac", "mp3", "oneshot")
TOOLS = ("decode-read", "decode-djml", "djml", "djml-no-loudness", "librosa", "essentia")
LABELS = {"decode-read": "decode: read", "decode-djml": "decode: djml pass", "djml": "djml",
          "djml-no-loudness": "djml, no loudness",
          "librosa": "naive librosa", "essentia": "essentia"}
PEER_ESSENTIA = Path.home() / ".cache" / "djml" / "peers" / "essentia" / "bin" / "python"


def default_cache() -> Path:
    bench = os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench"
    return Path(bench) / "speed_analysis"


def generate(cache: Path, n_tracks: int, n_oneshots: int) -> dict[str, list[str]]:
    import numpy as np

    from djml import synth

    cache.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {"flac": [], "mp3": [], "oneshot": []}
    for i, (bpm, key, style) in enumerate(TRACK_SPECS[:n_tracks]):
        stem = cache / f"track{i}_{int(bpm)}_{style}"
        need = [ext for ext in ("flac", "mp3") if not stem.with_suffix(f".{ext}").exists()]
        if need:
            print(f"generating {stem.name} ({', '.join(need)}) ...", file=sys.stderr, flush=True)
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

def _worker(mode: str, core: int | None, paths: list[str]) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    if mode == "reference":
        _reference_workload()
        return
    t0, c0 = time.perf_counter(), time.process_time()
    run = _tool(mode)
    import_s = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    warm = _timed(run, paths[0])                     # discarded: lazy imports, JIT, caches
    walls, cpus, errors = [], [], []
    for p in paths:
        try:
            w, c = _timed(run, p)
        except Exception as exc:  # noqa: BLE001 - a peer failing on one file is reported, not fatal
            errors.append(f"{Path(p).name}: {type(exc).__name__}: {exc}"[:200])
            continue
        walls.append(w)
        cpus.append(c)
    print(json.dumps({"import": import_s, "warmup": {"wall": warm[0], "cpu": warm[1]}, "wall": walls,
                      "cpu": cpus, "errors": errors, "rss_mb": _peak_rss_mb()}))


def _timed(run, path: str) -> tuple[float, float]:  # noqa: ANN001
    t, c = time.perf_counter(), time.process_time()
    run(path)
    return time.perf_counter() - t, time.process_time() - c


def _tool(mode: str):  # noqa: ANN202 - a callable path -> None
    if mode == "djml":
        from djml.analysis import SAMPLE_MAX_SECONDS, analyze
        from djml.analysis.decode import probe

        return lambda p: analyze(p, "sample" if probe(p).duration < SAMPLE_MAX_SECONDS else "track")
    if mode == "djml-no-loudness":
        return _without_loudness()
    if mode == "decode-djml":
        from djml.analysis.decode import Decoder

        return lambda p: sum(len(b) for b in Decoder(p).blocks())
    if mode == "decode-read":
        from djml.analysis.decode import Decoder

        def read(path: str) -> None:
            """The reader djml picks for the file (dr_flac / libsndfile) and its mono mix, as
            Decoder.blocks() drives it, without the identity hash and the resampling."""
            decoder = Decoder(path)
            for pcm, _mono in decoder._native_blocks():
                decoder.frames += len(pcm)

        return read
    if mode == "librosa":
        import librosa.beat  # noqa: F401 - imported here so the import column holds its cost
        import librosa.feature  # noqa: F401

        return _librosa_naive
    if mode == "essentia":
        import essentia.standard  # noqa: F401

        return _essentia
    raise SystemExit(f"unknown mode {mode}")


def unmetered():  # noqa: ANN201 - (Decoder subclass, decode_mono)
    """djml's decoder and whole-file reader with the BS.1770 meter off and everything else
    as is (the loudness fields come back empty)."""
    import numpy as np

    from djml.analysis import decode
    from djml.analysis.loudness import Loudness

    class Unmetered(decode.Decoder):
        def __init__(self, path, target_sr=decode.ANALYSIS_SR, *, measure_loudness=False):  # noqa: ANN001
            super().__init__(path, target_sr)

        def loudness(self) -> Loudness:
            return Loudness(None, None, None)

    def decode_mono(path, target_sr=decode.ANALYSIS_SR, *, measure_loudness=False):  # noqa: ANN001, ANN202
        decoder = Unmetered(path, target_sr)
        parts = list(decoder.blocks())
        return np.concatenate(parts) if parts else np.zeros(0, np.float32), decoder

    return Unmetered, decode_mono


def _without_loudness():  # noqa: ANN202 - a callable path -> None
    """djml's analysis with the decoder's BS.1770 meter off: what loudness costs is
    ``djml`` minus this, measured in the same run."""
    from djml.analysis import SAMPLE_MAX_SECONDS, analyze, decode, sample, track

    track.Decoder, sample.decode_mono = unmetered()
    return lambda p: analyze(p, "sample" if decode.probe(p).duration < SAMPLE_MAX_SECONDS else "track")


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
    import essentia
    import essentia.standard as es

    essentia.log.warningActive = False   # one-shots are too short for a tempo: it says so per file
    audio = es.MonoLoader(filename=path, sampleRate=44100)()
    es.RhythmExtractor2013(method="multifeature")(audio)
    es.KeyExtractor()(audio)


# ---- driver ------------------------------------------------------------------------

def measure(python: str, mode: str, paths: list[str], core: int | None) -> dict | None:
    env = dict(os.environ, **THREAD_ENV)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    cmd = [python, __file__, "--worker", mode, *([] if core is None else ["--core", str(core)]), *paths]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(f"[{mode}] failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load_context(python: str, core: int | None) -> dict:
    """Load average, `python -c pass` wall (median of 5) and the reference workload."""
    starts = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        starts.append(time.perf_counter() - t)
    ref = measure(python, "reference", [], core) or {}
    return {"loadavg": os.getloadavg()[0], "python_pass_s": statistics.median(starts),
            "ref_wall_s": ref.get("wall", float("nan")), "ref_cpu_s": ref.get("cpu", float("nan"))}


def essentia_python(explicit: str | None) -> str | None:
    """An interpreter that imports essentia.standard, or None."""
    for candidate in (explicit, sys.executable, str(PEER_ESSENTIA)):
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import essentia.standard"], capture_output=True)
            if probe.returncode == 0:
                return candidate
    return None


def summarise(runs: list[dict]) -> dict:
    """Per-file means of each round, then the median over rounds (rounds alternate tools,
    so a burst of load hits one round of each tool rather than one tool)."""
    def per_round(key: str) -> list[float]:
        return [sum(r[key]) / len(r[key]) for r in runs if r[key]]

    cpu, wall = per_round("cpu"), per_round("wall")
    return {"rounds": len(runs), "files": len(runs[0]["cpu"]) if runs else 0,
            "cpu": statistics.median(cpu) if cpu else None, "wall": statistics.median(wall) if wall else None,
            "cpu_rounds": cpu, "wall_rounds": wall,
            "warmup_wall": statistics.median(r["warmup"]["wall"] for r in runs),
            "import_wall": statistics.median(r["import"]["wall"] for r in runs),
            "rss_mb": max(r["rss_mb"] for r in runs), "errors": sorted({e for r in runs for e in r["errors"]})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=None, help="where the generated files live "
                    "(default $DJML_BENCH_CACHE/speed_analysis or ~/.cache/djml/bench/speed_analysis)")
    ap.add_argument("--tracks", type=int, default=2, help="5-minute tracks per format (max 4)")
    ap.add_argument("--oneshots", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1, help="repeat every worker this many times, tools alternating")
    ap.add_argument("--only", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--types", default=",".join(FILE_TYPES), help=f"comma-separated subset of {','.join(FILE_TYPES)}")
    ap.add_argument("--core", type=int, default=None, help="CPU to pin every worker to (default: the last one)")
    ap.add_argument("--essentia-python", help="interpreter with essentia installed (default: this one, "
                    f"else {PEER_ESSENTIA})")
    ap.add_argument("--json", type=Path, help="write every measurement here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args.worker, args.core, args.paths)
        return
    tools = [t for t in args.only.split(",") if t]
    types = [t for t in args.types.split(",") if t]
    unknown = sorted(set(tools) - set(TOOLS)) + sorted(set(types) - set(FILE_TYPES))
    if unknown:
        ap.error(f"unknown tool or file type: {unknown}")
    core = args.core if args.core is not None else (max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                                    else None)
    pythons = {t: sys.executable for t in tools}
    if "essentia" in tools:
        found = essentia_python(args.essentia_python)
        if found is None:
            print("essentia: not importable here, by --essentia-python or in the peer venv: skipped",
                  file=sys.stderr)
            tools.remove("essentia")
        else:
            pythons["essentia"] = found
    if "librosa" in tools and subprocess.run([sys.executable, "-c", "import librosa"], capture_output=True).returncode:
        print("librosa: not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
        tools.remove("librosa")
    files = generate(args.cache or default_cache(), min(args.tracks, len(TRACK_SPECS)), args.oneshots)
    before = load_context(sys.executable, core)
    runs: dict[tuple[str, str], list[dict]] = {}
    started = time.perf_counter()
    for r in range(args.rounds):
        for ftype in types:
            for tool in tools:
                print(f"round {r + 1}/{args.rounds}: {tool} on {len(files[ftype])} {ftype} files ...",
                      file=sys.stderr, flush=True)
                result = measure(pythons[tool], tool, files[ftype], core)
                if result is not None:
                    runs.setdefault((tool, ftype), []).append(result)
    after = load_context(sys.executable, core)
    summary = {key: summarise(v) for key, v in runs.items()}
    audio = {"flac": TRACK_SECONDS, "mp3": TRACK_SECONDS, "oneshot": _mean_duration(files["oneshot"])}
    print_table(summary, types, tools, audio, core)
    from djml.analysis.decode import flac_decoder

    print(f"\nFLAC decoder: {flac_decoder()}; {len(files['flac'])} tracks per format, {len(files['oneshot'])} one-shots "
          f"(mean {audio['oneshot']:.2f} s); {args.rounds} round(s), {time.perf_counter() - started:.0f} s")
    for label, ctx in (("before", before), ("after ", after)):
        print(f"load {label}: loadavg(1 min) {ctx['loadavg']:.1f}, `python -c pass` {1000 * ctx['python_pass_s']:.0f} ms, "
              f"reference workload wall {ctx['ref_wall_s']:.2f} s / CPU {ctx['ref_cpu_s']:.2f} s "
              f"(contention x{ctx['ref_wall_s'] / ctx['ref_cpu_s']:.2f})")
    if args.json:
        args.json.write_text(json.dumps({"summary": {f"{t}|{f}": s for (t, f), s in summary.items()},
                                         "runs": {f"{t}|{f}": v for (t, f), v in runs.items()},
                                         "load": {"before": before, "after": after}, "core": core,
                                         "files": files}, indent=1))
        print(f"wrote {args.json}")


def _mean_duration(paths: list[str]) -> float:
    import soundfile as sf

    return sum(sf.info(p).duration for p in paths) / max(1, len(paths))


def print_table(summary: dict, types: list[str], tools: list[str], audio: dict[str, float], core: int | None) -> None:
    print(f"\nOne core each (pinned to CPU {core}), warm: the first call per worker discarded. "
          "CPU = process CPU seconds, wall = elapsed; means per file.")
    head = (f"{'file type':8s} {'tool':18s} {'files':>5s} {'CPU s/file':>10s} {'wall s/file':>11s} "
            f"{'files/s CPU':>11s} {'x realtime CPU':>14s} {'CPU vs librosa':>14s} {'warm-up wall s':>14s} "
            f"{'import wall s':>13s} {'peak RSS MB':>11s}")
    print(head)
    for ftype in types:
        base = summary.get(("librosa", ftype), {}).get("cpu")
        for tool in tools:
            s = summary.get((tool, ftype))
            if not s or s["cpu"] is None:
                print(f"{ftype:8s} {LABELS[tool]:18s} failed")
                continue
            vs = f"{base / s['cpu']:13.1f}x" if base and tool != "librosa" else f"{'':>14s}"
            print(f"{ftype:8s} {LABELS[tool]:18s} {s['files']:5d} {s['cpu']:10.4f} {s['wall']:11.4f} "
                  f"{1 / s['cpu']:11.1f} {audio[ftype] / s['cpu']:14.0f} {vs} {s['warmup_wall']:14.2f} "
                  f"{s['import_wall']:13.2f} {s['rss_mb']:11.0f}")
            for err in s["errors"][:3]:
                print(f"{'':27s} error: {err}")
        djml, floor, read = (summary.get((t, ftype), {}).get("cpu") for t in ("djml", "decode-djml", "decode-read"))
        if djml and floor:
            share = f"; the reader alone is {read / djml:.0%} of djml's CPU" if read else ""
            print(f"{ftype:8s} decode-bound: djml CPU = {djml / floor:.2f} x its decode pass "
                  f"(decode {floor / djml:.0%} of djml's CPU, analysis {1 - floor / djml:.0%}){share}")
    ranges = {k: (min(v["cpu_rounds"]), max(v["cpu_rounds"])) for k, v in summary.items() if len(v["cpu_rounds"]) > 1}
    if ranges:
        print("CPU s/file range over rounds: " + "; ".join(f"{LABELS[t]} {f} {lo:.3f}-{hi:.3f}"
                                                            for (t, f), (lo, hi) in sorted(ranges.items())))


if __name__ == "__main__":
    main()
