"""Recommendation benchmarks on a 10k-track library; prints tables.

How the library is made (no audio can be downloaded here):
1. ``--real`` (default 300) generated tracks (djml.synth: 5 drum styles, 70-175 BPM, all 24
   keys, some drums-only, random gain, noise and low-pass) are analysed by the real
   analyser; their 61-dim feature vectors and the *analysed* BPM, key and energy are cached
   (a track whose analysis finds no tempo has no BPM in the library: the generator's BPM is
   kept apart, for the simulated DJ only).
2. Each of the 10k library tracks is a perturbed copy of one analysed track: the vector gets
   Gaussian noise of 0.35 × the per-feature standard deviation, BPM ±2 %, energy ±0.7, and
   25 % of copies get a neighbouring Camelot key. Rows go straight into a fresh library via
   one executemany transaction (same tables the writer fills).
3. ``--sets`` DJ sets (default 400) are random walks of 12-24 tracks that mostly move to
   mixable, similar-sounding tracks, with recurring favourite transitions; BPR-MF is trained on
   them (torch, in this script) and saved as .npy like `djml recommend --train` does. The
   simulated DJ hears the true tempo (the generator's BPM), the library only knows the
   analysed one.

Measured: recall@10 of HNSW vs exact search for several ef values, with djml.index's
parameters and standardisation, on **real analysed audio** (the one-shots of the Hydrogen
kits, GM sound fonts and freedesktop sounds in the "sample" space; the beats and music21
renders of benchmarks/datasets.py in the "audio" space; ``--real-sets``), on the analysed
generated tracks, on 10k mixtures of them and on the 10k library of perturbed copies;
index build time and query latency; warm in-process recommend() latency; cold `djml
recommend ID --json` wall time in fresh processes without a daemon; and the
held-out-last-track evaluation (content-only, CF-only, hybrid) from djml.models.recommend_eval.

    nice python benchmarks/recommend.py [--tracks 10000] [--real 300] [--sets 400]
    nice python benchmarks/recommend.py --recall-only        # only the recall tables
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402  (benchmarks/datasets.py: the real-audio sets)

CACHE = datasets.default_cache() / "recommend"
# real analysed audio for the recall tables: set -> (analysis kind, djml.index space)
REAL_SETS = {"samples_hydrogen": ("sample", "sample"), "samples_gm": ("sample", "sample"),
             "samples_fx": ("sample", "sample"), "tempo_key_beats": ("track", "audio"),
             "key_music21": ("track", "audio"), "key_music21_extra": ("track", "audio")}
STYLES = ("four_on_floor", "breakbeat", "dnb", "halftime", "swing")


def _analyse_one(k: int) -> tuple[np.ndarray, float, int, float, float]:
    """(vector, analysed BPM or NaN, key or -1, energy or NaN, the generator's BPM)."""
    from djml import synth
    from djml.analysis import analyze

    rng = np.random.default_rng(k)
    style = STYLES[k % len(STYLES)]
    bpm = float(rng.uniform(*{"dnb": (160, 175), "halftime": (70, 90), "swing": (80, 100)}.get(style, (115, 135))))
    key = None if rng.random() < 0.15 else int(rng.integers(24))
    y = synth.drum_track(bpm, key, 20.0, style, seed=k)
    y = y * rng.uniform(0.3, 1.0) + rng.normal(scale=rng.uniform(0, 0.02), size=len(y))
    if rng.random() < 0.4:  # a darker mix: one-pole low-pass
        alpha = rng.uniform(0.2, 0.6)
        from scipy.signal import lfilter

        y = lfilter([alpha], [1, alpha - 1], y)
    path = Path(tempfile.gettempdir()) / f"djml-bench-{os.getpid()}-{k}.wav"
    synth.write_wav(path, y.astype(np.float32))
    try:
        a = analyze(str(path), "track")
    finally:
        path.unlink(missing_ok=True)
    nan = float("nan")
    return (a.feature_vector, nan if a.bpm is None else float(a.bpm), -1 if a.key is None else int(a.key),
            nan if a.energy is None else float(a.energy), bpm)


def real_vectors(n: int) -> dict[str, np.ndarray]:
    from djml.analysis import ANALYZER_VERSIONS

    path = CACHE / f"generated_tracks_t{ANALYZER_VERSIONS['track']}.npz"
    if path.exists():
        data = dict(np.load(path))
        if len(data["vectors"]) >= n:
            return {k: v[:n] for k, v in data.items()}
    CACHE.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1)) as pool:
        rows = list(pool.map(_analyse_one, range(n), chunksize=4))
    print(f"analysed {n} generated tracks in {time.perf_counter() - start:.0f} s", flush=True)
    data = {"vectors": np.stack([r[0] for r in rows]).astype(np.float32),
            "bpm": np.array([r[1] for r in rows]), "key": np.array([r[2] for r in rows]),
            "energy": np.array([r[3] for r in rows]), "true_bpm": np.array([r[4] for r in rows])}
    np.savez(path, **data)
    return data


def build_library(home: Path, real: dict[str, np.ndarray], n_tracks: int, n_sets: int, seed: int = 0) -> dict:
    from djml import compat, db, keys
    from djml.db import now

    rng = np.random.default_rng(seed)
    vectors, n_real = real["vectors"], len(real["vectors"])
    std = vectors.std(axis=0) + 1e-6
    base = rng.integers(n_real, size=n_tracks)
    vecs = (vectors[base] + rng.normal(size=(n_tracks, vectors.shape[1])) * 0.35 * std).astype("<f4")
    jitter = rng.uniform(0.98, 1.02, n_tracks)
    bpm = real["bpm"][base] * jitter             # NaN where the analysis found no tempo
    true_bpm = real["true_bpm"][base] * jitter   # what the simulated DJ hears
    key = real["key"][base].copy()
    shift = (rng.random(n_tracks) < 0.25) & (key >= 0)
    for j in np.flatnonzero(shift):
        options = compat.compatible_keys(int(key[j]), "strict")
        key[j] = options[rng.integers(len(options))]
    energy = np.clip(real["energy"][base] + rng.normal(scale=0.7, size=n_tracks), 1, 10)
    (home / "config.toml").write_text(f'data_dir = "{home / "data"}"\n')
    conn = db.connect(home / "data" / "library.db")
    stamp = now()
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO items (id, audio_hash, kind, duration, artist, title, genre, created_at, updated_at)"
        " VALUES (?, ?, 'track', 300, ?, ?, 'techno', ?, ?)",
        [(i + 1, f"h{i}", f"Artist {i % 500}", f"Track {i}", stamp, stamp) for i in range(n_tracks)])
    conn.executemany(
        "INSERT INTO locations (item_id, path, status, first_seen, last_seen) VALUES (?, ?, 'ok', ?, ?)",
        [(i + 1, f"/music/{i}.flac", stamp, stamp) for i in range(n_tracks)])
    conn.executemany(
        "INSERT INTO analyses (item_id, analyzer_version, analyzed_at, bpm, key, camelot, energy)"
        " VALUES (?, 1, ?, ?, ?, ?, ?)",
        [(i + 1, stamp, _num(bpm[i]), None if key[i] < 0 else int(key[i]),
          None if key[i] < 0 else keys.camelot(int(key[i])), _num(energy[i])) for i in range(n_tracks)])
    conn.executemany(
        "INSERT INTO vectors (item_id, space, dim, vector, source, created_at) VALUES (?, 'audio', ?, ?, 'bench', ?)",
        [(i + 1, vecs.shape[1], vecs[i].tobytes(), stamp) for i in range(n_tracks)])
    conn.execute("COMMIT")
    insert_s = time.perf_counter() - t0
    sets = _dj_sets(rng, vecs, true_bpm, n_sets)
    conn.execute("BEGIN")
    for s, items in enumerate(sets):
        set_id = conn.execute("INSERT INTO sets (name, source, created_at) VALUES (?, 'djml', ?)",
                              (f"set {s}", stamp)).lastrowid
        conn.executemany("INSERT INTO set_entries (set_id, position, item_id) VALUES (?, ?, ?)",
                         [(set_id, p, item) for p, item in enumerate(items)])
    conn.execute("COMMIT")
    conn.close()
    return {"insert_s": insert_s, "sets": len(sets), "entries": sum(map(len, sets)),
            "no_bpm": int(np.isnan(bpm).sum())}


def _num(x: float) -> float | None:
    """A float for SQLite, NULL for NaN (nothing measured)."""
    return None if np.isnan(x) else float(x)


def _dj_sets(rng, vecs, bpm, n_sets) -> list[list[int]]:
    """Random walks a DJ might play: a crate of ~600 favourites, next track among the 30
    most similar mixable ones (tempo ±6 %), with habitual transitions preferred."""
    from djml import compat

    n = len(vecs)
    crate = rng.choice(n, size=min(600, n), replace=False)
    z = (vecs[crate] - vecs[crate].mean(0)) / (vecs[crate].std(0) + 1e-6)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    sims = z @ z.T
    habit: dict[int, int] = {}
    sets = []
    for _ in range(n_sets):
        cur = int(rng.integers(len(crate)))
        walk = [cur]
        for _ in range(int(rng.integers(12, 25))):
            if cur in habit and rng.random() < 0.6 and habit[cur] not in walk:
                nxt = habit[cur]
            else:
                order = np.argsort(-sims[cur])
                ok = [j for j in order[1:200] if j not in walk
                      and compat.tempo(bpm[crate[cur]], bpm[crate[j]], 6).ok][:30]
                if not ok:
                    break
                nxt = int(ok[int(rng.integers(len(ok)))])
                habit.setdefault(cur, nxt)
            walk.append(nxt)
            cur = nxt
        sets.append([int(crate[j]) + 1 for j in walk])
    return sets


def _mixtures(vectors: np.ndarray, n: int, seed: int = 2) -> np.ndarray:
    """Random convex combinations of 2-3 analysed vectors plus 10 % noise: no tight clusters."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(vectors), size=(n, 3))
    weights = rng.dirichlet([1.0, 1.0, 0.5], size=n)
    mixed = np.einsum("nk,nkd->nd", weights, vectors[picks])
    return (mixed + rng.normal(size=mixed.shape) * 0.1 * vectors.std(axis=0)).astype(np.float32)


def _analyse_file(job: tuple[str, str]) -> np.ndarray | None:
    from djml.analysis import AnalysisError, analyze

    path, kind = job
    try:
        return analyze(path, kind).feature_vector
    except AnalysisError:
        return None


def real_audio_vectors(names: list[str], jobs: int) -> dict[str, np.ndarray]:
    """{djml.index space: feature vectors of the real audio of these benchmark sets}, each
    file analysed once by djml (cached per path, size, mtime and analyzer version)."""
    from djml.analysis import ANALYZER_VERSIONS

    cache_path = CACHE / f"real_audio_vectors_t{ANALYZER_VERSIONS['track']}_s{ANALYZER_VERSIONS['sample']}.npz"
    cached: dict[str, np.ndarray] = {}
    if cache_path.exists():
        with np.load(cache_path) as z:
            cached = {str(k): z["vectors"][i] for i, k in enumerate(z["keys"])}
    wanted: list[tuple[str, str, str]] = []   # (cache key, space, path)
    todo: list[tuple[str, str]] = []
    for name in names:
        kind, space = REAL_SETS[name]
        try:
            rows = datasets.ensure(name)
        except Exception as exc:  # noqa: BLE001 - a set whose tools are missing is skipped, said so
            print(f"{name}: not available ({type(exc).__name__}: {exc}); skipped", file=sys.stderr)
            continue
        for row in rows:
            st = os.stat(row["path"])
            key = f"{row['path']}|{st.st_size}|{st.st_mtime_ns}|{kind}"
            wanted.append((key, space, row["path"]))
            if key not in cached:
                todo.append((row["path"], kind))
    if todo:
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            vectors = list(pool.map(_analyse_file, todo, chunksize=16))
        for (path, kind), vec in zip(todo, vectors):
            st = os.stat(path)
            cached[f"{path}|{st.st_size}|{st.st_mtime_ns}|{kind}"] = vec
        print(f"analysed {len(todo)} real files in {time.perf_counter() - start:.0f} s", flush=True)
        keys_ok = [k for k, v in cached.items() if v is not None]
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(cache_path, keys=np.array(keys_ok), vectors=np.stack([cached[k] for k in keys_ok]))
    by_space: dict[str, list[np.ndarray]] = {}
    for key, space, _ in wanted:
        if cached.get(key) is not None:
            by_space.setdefault(space, []).append(cached[key])
    return {space: np.stack(v).astype(np.float32) for space, v in by_space.items()}


def recall_table(vectors: np.ndarray, label: str, queries: int = 500) -> None:
    """Recall@10 of the HNSW index against exact cosine search, built and standardised
    exactly as djml.index builds a z-scored space (M, ef_construction, per-dimension mean
    and scale with constant features left unscaled), for several ef values."""
    import hnswlib

    from djml import index as djml_index

    mean, scale = vectors.mean(axis=0), vectors.std(axis=0)
    scale[scale < 1e-6] = 1.0
    x = ((vectors - mean) / scale).astype(np.float32)
    t0 = time.perf_counter()
    idx = hnswlib.Index(space="cosine", dim=x.shape[1])
    idx.init_index(max_elements=len(x), ef_construction=djml_index.EF_CONSTRUCTION, M=djml_index.M)
    idx.set_num_threads(1)
    idx.add_items(x, np.arange(len(x)))
    build_s = time.perf_counter() - t0
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(1)
    q = rng.choice(len(x), size=min(queries, len(x)), replace=False)
    sims = xn[q] @ xn.T
    exact = np.argsort(-sims, axis=1)[:, :10]
    tenth = np.sort(sims, axis=1)[:, -10] - 1e-5
    distinct = len(np.unique(np.round(xn, 5), axis=0))
    print(f"\n{label}: {len(x)} × {x.shape[1]} ({distinct} distinct after standardising), M={djml_index.M},"
          f" ef_construction={djml_index.EF_CONSTRUCTION}, build {build_s:.2f} s, {len(q)} queries")
    print("| ef | recall@10 (ids) | recall@10 (ties count) | query µs |\n|---|---|---|---|")
    for ef in (10, 20, 50, 100, 200):
        idx.set_ef(max(ef, 10))
        t0 = time.perf_counter()
        labels, _ = idx.knn_query(x[q], k=10)
        us = (time.perf_counter() - t0) / len(q) * 1e6
        recall = np.mean([len(set(labels[i]) & set(exact[i])) / 10 for i in range(len(q))])
        # a returned neighbour as similar as the exact 10th is as good (duplicate files)
        tied = np.mean([(sims[i, labels[i]] >= tenth[i]).mean() for i in range(len(q))])
        mark = "  ← djml default" if ef == djml_index.EF_SEARCH else ""
        note = "  (ef ≥ n: exhaustive)" if ef >= len(x) else ""
        print(f"| {ef} | {recall:.4f} | {tied:.4f} | {us:.0f} |{mark}{note}")


def _with_daemon(djml: str, env: dict, ids: list[int], home: Path) -> str:
    """Fresh `djml recommend` processes answered by a warm daemon (started here, stopped by
    pid whatever happens)."""
    from djml.client import Client, DaemonNotRunning

    daemon = subprocess.Popen([djml, "daemon", "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(home / "data" / "djml.sock", timeout=5) as client:
                    client.call("recommend", ref=ids[0], options={"n": 10})  # warm the caches
                break
            except (DaemonNotRunning, OSError):
                if time.monotonic() > deadline:
                    return "daemon did not start"
                time.sleep(0.2)
        walls = []
        for item in ids:
            t0 = time.perf_counter()
            proc = subprocess.run([djml, "recommend", str(item), "--json"], capture_output=True, text=True, env=env)
            walls.append(time.perf_counter() - t0)
            assert proc.returncode == 0, proc.stderr
        return (f"`djml recommend ID --json` median {statistics.median(walls):.3f} s, min {min(walls):.3f} s"
                f" over {len(walls)} runs (target ≤ 0.1 s)")
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=300)
    parser.add_argument("--sets", type=int, default=400)
    parser.add_argument("--runs", type=int, default=7, help="cold CLI runs to time")
    parser.add_argument("--eval-cases", type=int, default=150, help="held-out sets to evaluate on")
    parser.add_argument("--keep", type=Path, help="build the library in this folder and keep it")
    parser.add_argument("--real-sets", default="samples_hydrogen,samples_gm,samples_fx,tempo_key_beats,key_music21",
                        help=f"benchmark sets whose real audio is analysed for the recall tables (of {', '.join(REAL_SETS)};"
                             " '' for none)")
    parser.add_argument("--jobs", type=int, default=2, help="analysis worker processes")
    parser.add_argument("--recall-only", action="store_true", help="print the recall tables and stop")
    args = parser.parse_args()
    names = [n for n in args.real_sets.split(",") if n]
    unknown = sorted(set(names) - set(REAL_SETS))
    if unknown:
        parser.error(f"unknown --real-sets {unknown}")
    titles = {"sample": "Real one-shots analysed by djml (\"sample\" space: " + ", ".join(
                  n for n in names if REAL_SETS[n][1] == "sample") + ")",
              "audio": "Real music renders analysed by djml (\"audio\" space: " + ", ".join(
                  n for n in names if REAL_SETS[n][1] == "audio") + ")"}
    for space, vectors in real_audio_vectors(names, args.jobs).items():
        recall_table(vectors, titles[space])
    real = real_vectors(args.real)
    recall_table(real["vectors"], f"{len(real['vectors'])} generated tracks (djml.synth) analysed by djml")
    recall_table(_mixtures(real["vectors"], args.tracks), f"{args.tracks} mixtures of 2-3 analysed tracks (a continuum,"
                 " harder than clusters)")
    if args.recall_only:
        return
    home = args.keep or Path(tempfile.mkdtemp(prefix="djml-bench-rec-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DJML_HOME"] = str(home)
    built = build_library(home, real, args.tracks, args.sets)
    print(f"\nlibrary: {args.tracks} tracks inserted in {built['insert_s']:.1f} s ({built['no_bpm']} without a BPM:"
          f" the analysis found none); {built['sets']} sets, {built['entries']} entries")

    from djml import config as config_mod
    from djml import db, index
    from djml.models.cf import train_from_library
    from djml.models.recommend import recommend
    from djml.models.recommend_eval import evaluate_recommendations

    config = config_mod.load()
    conn = db.connect(config.db_path)
    _, matrix, _ = index.read_vectors(conn, "audio")
    recall_table(matrix, f"{args.tracks}-track library (Gaussian perturbed copies of the generated tracks)")
    t0 = time.perf_counter()
    index.load(conn, config, "audio")
    print(f"\ndjml.index build + save ({args.tracks} tracks): {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    trained = train_from_library(conn, config)
    print(f"BPR-MF on {trained['sets']} sets / {trained['items']} tracks: {time.perf_counter() - t0:.1f} s")

    ids = [r[0] for r in conn.execute("SELECT item_id FROM set_entries ORDER BY RANDOM() LIMIT 30")]
    times = []
    for item in ids:
        t0 = time.perf_counter()
        recommend(conn, config, item, n=10)
        times.append(time.perf_counter() - t0)
    print(f"in-process recommend(): median {statistics.median(times) * 1000:.0f} ms,"
          f" max {max(times) * 1000:.0f} ms over {len(ids)} seeds (index, sets and CF loaded per call)")

    djml = str(Path(sys.executable).with_name("djml"))
    # Fresh processes as a user runs them: bytecode cached (an installed package has .pyc
    # files; here they go to a cache folder, not into the repository), no daemon.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(DJML_HOME=str(home), PYTHONPYCACHEPREFIX=str(CACHE / "pycache"))
    walls = []
    for run, item in enumerate([ids[0], *ids[: args.runs]]):
        t0 = time.perf_counter()
        proc = subprocess.run([djml, "recommend", str(item), "--json"], capture_output=True, text=True, env=env)
        if run:  # the first run only fills the bytecode cache
            walls.append(time.perf_counter() - t0)
        assert proc.returncode == 0, proc.stderr
    print(f"cold `djml recommend ID --json` (fresh process, no daemon): median {statistics.median(walls):.3f} s,"
          f" min {min(walls):.3f} s, max {max(walls):.3f} s over {len(walls)} runs")
    base = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], env=env, check=True)
        base.append(time.perf_counter() - t0)
    print(f"  for scale on this (shared) machine: `python -c 'import numpy'` median {statistics.median(base):.3f} s")
    print(f"with a daemon running: {_with_daemon(djml, env, ids[: args.runs], home)}")
    print("\nHeld-out last track of each set (seed = the track before it), k = 10:")
    t0 = time.perf_counter()
    report = evaluate_recommendations(conn, config, k=10, max_cases=args.eval_cases)
    print(f"({time.perf_counter() - t0:.0f} s)")
    print(report["table"])
    print(json.dumps({"sets_evaluated": report["cases"]}))


if __name__ == "__main__":
    main()
