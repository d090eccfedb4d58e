"""Train the shipped tempo decision (``djml/analysis/tempo_model.json``), reproducibly.

    python -m djml.models.tempo_train              # leave-one-source-out report + write the model
    python -m djml.models.tempo_train --no-eval    # just refit and write
    python -m djml.models.tempo_train --check      # refit and compare with the shipped file

Data: the cross-source set of real compositions (``benchmarks/music_sets.py``: rows with
``path, source, piece_id, bpm`` …, built into the bench cache from installed packages) —
only sources whose use for training is allowed. Truth is the tempo at the documented
beat level (docs/analysis.md); a file whose truth lies outside the folding range, or
among none of its candidates, teaches nothing and is left out of the fit (it still
counts, as a miss, in the scores).

Model: a conditional logit over each file's tempo candidates (features in
:mod:`djml.analysis.tempo_model`), optionally with 8 tanh units, L2-regularised, fitted
with L-BFGS; files weighted so
every source counts equally, and every piece within it. The regularisation strength and the hidden layer are chosen by an
inner leave-one-source-out over the training sources only, so no setting is chosen on the data
it is scored on. Per-file onset envelopes are cached under ``<cache>/tempo_features`` (the
audio is decoded once); candidate features are recomputed from them, cheaply.

:func:`loso_predict` gives held-out predictions for benchmarks/accuracy_analysis.py.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from djml.analysis import tempo, tempo_model  # noqa: E402

BPM_RANGE = tempo.DEFAULT_BPM_RANGE
TOLERANCE = 0.04                # Accuracy1: a candidate within 4 % is the truth
LAMBDAS = (0.001, 0.003, 0.01, 0.03)
HIDDEN = (0,)                   # tanh units tried (0: the plain conditional logit); see docs/analysis.md
SEED = 21
JOBS = 2                        # processes for the inner-fold fits (--jobs)
ENVELOPE_VERSION = 2            # bump when a front end (track.py / sample.py STFT, flux) changes


# --------------------------------------------------------------------------- front end

def file_envelopes(path: str) -> dict[str, np.ndarray]:
    """The onset bands :func:`djml.analysis.analyze` (kind chosen by duration, as for a
    file outside the configured folders) hands to its tempo decision: a track's all-band,
    treble and low flux from the streaming decode, or a sample's (finer STFT) with its
    duration and onsets, for :func:`djml.analysis.sample.loop_tempo`."""
    from djml.analysis import SAMPLE_MAX_SECONDS, probe

    if probe(path)[0] < SAMPLE_MAX_SECONDS:
        return _sample_bands(path)
    return _track_bands(path)


def _track_bands(path: str) -> dict[str, np.ndarray]:
    from djml.analysis import spectral
    from djml.analysis.decode import ANALYSIS_SR, Decoder
    from djml.analysis.features import N_MELS
    from djml.analysis.bands import LOW_HZ, TREBLE_HZ
    from djml.analysis.track import HOP, N_FFT

    fb = spectral.mel_filterbank(ANALYSIS_SR, N_FFT, N_MELS)
    treble = spectral.mel_band_index(ANALYSIS_SR, N_MELS, TREBLE_HZ)
    low = spectral.mel_band_index(ANALYSIS_SR, N_MELS, LOW_HZ)
    framer = spectral.StreamingFrames(N_FFT, HOP)
    parts: list[tuple[np.ndarray, ...]] = []
    previous = None
    decoder = Decoder(path, ANALYSIS_SR)
    for frames in [*(framer.push(b) for b in decoder.blocks()), framer.flush()]:
        if len(frames) == 0:
            continue
        logmel = spectral.log_power(spectral.power(frames, N_FFT) @ fb)
        parts.append(tuple(p.astype(np.float32) for p in spectral.onset_flux_bands(logmel, previous, treble, low)))
        previous = logmel[-1]
    empty = np.zeros(0, np.float32)
    flux, high, low_env = (np.concatenate(p) for p in zip(*parts)) if parts else (empty, empty, empty)
    return {"flux": flux, "high": high, "low": low_env}


def _sample_bands(path: str) -> dict[str, np.ndarray]:
    from djml.analysis import sample, spectral
    from djml.analysis.decode import ANALYSIS_SR, decode_mono
    from djml.analysis.features import N_MELS

    y, decoder = decode_mono(path, ANALYSIS_SR)
    power = spectral.power_spectrogram(y, sample.N_FFT, sample.HOP)
    logmel = spectral.log_power(power @ spectral.mel_filterbank(ANALYSIS_SR, sample.N_FFT, N_MELS))
    flux, high, low = sample.onset_bands(logmel)
    return {"flux": flux, "high": high, "low": low, "duration": np.float64(decoder.duration)}


def _is_sample(env: dict[str, np.ndarray]) -> bool:
    return "duration" in env


def treble_share() -> float:
    from djml.analysis import spectral
    from djml.analysis.decode import ANALYSIS_SR
    from djml.analysis.features import N_MELS
    from djml.analysis.bands import TREBLE_HZ

    return (N_MELS - spectral.mel_band_index(ANALYSIS_SR, N_MELS, TREBLE_HZ)) / N_MELS


def fps() -> float:
    from djml.analysis.track import FPS
    return FPS


def cache_dir() -> Path:
    return Path(os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench")


def _envelope_store(path: str, cache: Path) -> Path:
    st = os.stat(path)
    tag = hashlib.sha1(f"{ENVELOPE_VERSION}|{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    return cache / "tempo_features" / f"{tag[:20]}.npz"


def cached_envelopes(path: str, cache: Path) -> dict[str, np.ndarray]:
    """Envelopes of `path`, decoded once per (path, size, mtime, front-end version)."""
    store = _envelope_store(path, cache)
    if store.exists():
        with np.load(store) as z:
            return {k: z[k] for k in z.files}
    env = file_envelopes(path)
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_suffix(".tmp.npz")
    np.savez(tmp, **env)
    tmp.replace(store)
    return env


def _cache_one(args: tuple[str, str]) -> None:
    cached_envelopes(args[0], Path(args[1]))


def prefill_envelopes(paths: list[str], cache: Path, jobs: int = 2, log=print) -> None:
    """Decode the files whose envelopes are not cached yet, `jobs` processes at a time
    (each file's result is the same whichever process computes it)."""
    todo = [p for p in paths if not _envelope_store(p, cache).exists()]
    if not todo:
        return
    log(f"  decoding {len(todo)} files ({len(paths) - len(todo)} cached) on {jobs} processes")
    if jobs <= 1 or len(todo) < 4:
        for p in todo:
            cached_envelopes(p, cache)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as ex:
        list(ex.map(_cache_one, [(p, str(cache)) for p in todo], chunksize=8))


# --------------------------------------------------------------------------- examples

@dataclass
class Example:
    path: str
    source: str
    piece: str
    truth: float
    env: dict[str, np.ndarray]
    bpms: list[float]
    features: np.ndarray | None       # None: no candidates (no pulse)
    positive: int | None              # index of the candidate nearest the truth, if within 4 %


def decision_envelopes(env: dict[str, np.ndarray]) -> tempo_model.Envelopes | None:
    """What the tempo decision sees for this file (None: a sample without a tempo candidate)."""
    if not _is_sample(env):
        return tempo.prepare_envelopes(env["flux"], fps(), env["high"], treble_share(), env["low"])
    from djml.analysis import sample

    duration = float(env["duration"])
    if not sample.has_tempo_candidate(duration, sample.sample_onsets(env["flux"])):
        return None
    flux, high, low = sample.tempo_envelopes((env["flux"], env["high"], env["low"]), duration)
    return tempo.prepare_envelopes(flux, sample.TEMPO_FPS, high, sample.TREBLE_SHARE, low,
                                   sample.loop_seconds(duration))


def make_examples(rows: list[dict], cache: Path, log=print, jobs: int = 2) -> list[Example]:
    prefill_envelopes([r["path"] for r in rows], cache, jobs, log)
    out = []
    for i, r in enumerate(rows):
        env = cached_envelopes(r["path"], cache)
        envs = decision_envelopes(env) if len(env["flux"]) else None
        c = tempo.tempo_candidates(envs, BPM_RANGE) if envs is not None else None
        truth = float(r["bpm"])
        positive = None
        if c is not None:
            err = [abs(b / truth - 1) for b in c.bpms]
            j = int(np.argmin(err))
            positive = j if err[j] <= TOLERANCE else None
        out.append(Example(r["path"], str(r["source"]), str(r.get("piece_id") or r["path"]), truth, env,
                           c.bpms if c else [], c.features if c else None, positive))
        if (i + 1) % 100 == 0:
            log(f"  features {i + 1}/{len(rows)}")
    return out


# --------------------------------------------------------------------------- fit

def example_weights(examples: list[Example]) -> np.ndarray:
    """Every source weighs the same, and within it every piece (its clips and renders share
    the piece's weight): a long piece cut into many sections must not outvote the rest."""
    pieces: dict[str, set[str]] = defaultdict(set)
    clips: dict[tuple[str, str], int] = defaultdict(int)
    for x in examples:
        pieces[x.source].add(x.piece)
        clips[(x.source, x.piece)] += 1
    return np.array([1.0 / (len(pieces) * len(pieces[x.source]) * clips[(x.source, x.piece)])
                     for x in examples])


def fit(examples: list[Example], lam: float, hidden: int = 0) -> tempo_model.TempoModel:
    """Conditional logit (plus `hidden` tanh units) weighted by :func:`example_weights`,
    L2 `lam` on standardised features; deterministic (seeded start, L-BFGS)."""
    usable = [x for x in examples if x.features is not None and x.positive is not None]
    if not usable:
        raise ValueError("no training example has its true tempo among the candidates")
    X = np.concatenate([x.features for x in usable])
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    Z = (X - mean) / scale
    wt = example_weights(usable)
    counts = np.array([len(x.features) for x in usable])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = starts + np.array([x.positive for x in usable])
    wt_rows = np.repeat(wt, counts)
    n, d = Z.shape
    h = hidden

    def unpack(theta: np.ndarray):
        w = theta[:d]
        W = theta[d:d + h * d].reshape(h, d)
        c = theta[d + h * d:d + h * d + h]
        v = theta[d + h * d + h:]
        return w, W, c, v

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, W, c, v = unpack(theta)
        H = np.tanh(Z @ W.T + c) if h else np.zeros((n, 0))
        s = Z @ w + H @ v
        m = np.maximum.reduceat(s, starts)
        e = np.exp(s - np.repeat(m, counts))
        sums = np.add.reduceat(e, starts)
        total = float(wt @ (np.log(sums) + m - s[pos]))
        g = wt_rows * e / np.repeat(sums, counts)
        g[pos] -= wt
        dA = (g[:, None] * v[None, :]) * (1.0 - H * H)
        grad = np.concatenate([Z.T @ g, (dA.T @ Z).ravel(), dA.sum(axis=0), H.T @ g])
        reg = theta.copy()
        reg[d + h * d:d + h * d + h] = 0.0          # biases are not shrunk
        return total + 0.5 * lam * float(reg @ theta), grad + lam * reg

    from scipy.optimize import minimize

    rng = np.random.default_rng(SEED)
    theta0 = np.concatenate([np.zeros(d), rng.normal(0.0, 0.3, h * d), np.zeros(h), rng.normal(0.0, 0.3, h)])
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-8})
    w, W, c, v = unpack(res.x)
    return tempo_model.TempoModel(mean, scale, w, W, c, v)


def predict(x: Example, model: tempo_model.TempoModel) -> float | None:
    """The analyzer's full answer with `model`: a track's BPM (choice + beat-time
    refinement), a sample's loop BPM (None for a one-shot)."""
    env = x.env
    if _is_sample(env):
        from djml.analysis import sample

        bands = (env["flux"], env["high"], env["low"])
        return sample.loop_tempo(bands, float(env["duration"]), sample.sample_onsets(env["flux"]),
                                 BPM_RANGE, model=model)[0]
    est = tempo.estimate_tempo(env["flux"], fps(), BPM_RANGE, high_env=env["high"],
                               treble_share=treble_share(), low_env=env["low"], model=model)
    return est.bpm if est else None


def choice_accuracy(examples: list[Example], model: tempo_model.TempoModel) -> float:
    """Share of files whose most probable candidate is within 4 % of the truth (fast:
    no refinement), the inner criterion for the regularisation strength."""
    hits = [x.features is not None and x.positive is not None
            and int(np.argmax(model.probabilities(x.features))) == x.positive for x in examples]
    return float(np.mean(hits)) if hits else 0.0


_SHARED: list[Example] = []     # the examples the forked inner-fold workers index into


def _inner_fold(task: tuple[list[int], list[int], float, int]) -> float:
    train, test, lam, h = task
    return choice_accuracy([_SHARED[i] for i in test], fit([_SHARED[i] for i in train], lam, h))


def choose_setting(examples: list[Example], jobs: int | None = None) -> tuple[float, int]:
    """(L2 strength, hidden units) by an inner leave-one-source-out over `examples`'
    source families (all of them training data); ties go to the simpler setting. The
    fits are independent and deterministic, so `jobs` processes give the same answer."""
    global _SHARED
    families = sorted({family(x.source) for x in examples})
    grid = [(lam, h) for h in HIDDEN for lam in LAMBDAS]
    if len(families) < 2:
        return LAMBDAS[len(LAMBDAS) // 2], 0
    tasks, keys = [], []
    for lam, h in grid:
        for f in families:
            train = [i for i, x in enumerate(examples) if family(x.source) != f]
            if not any(examples[i].positive is not None for i in train):
                continue
            tasks.append((train, [i for i, x in enumerate(examples) if family(x.source) == f], lam, h))
            keys.append((lam, h))
    _SHARED = examples
    jobs = JOBS if jobs is None else jobs
    if jobs > 1 and len(tasks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as ex:
            results = list(ex.map(_inner_fold, tasks))
    else:
        results = [_inner_fold(t) for t in tasks]
    per: dict[tuple[float, int], list[float]] = defaultdict(list)
    for k, r in zip(keys, results):
        per[k].append(r)
    scores = {g: float(np.mean(per[g])) if per[g] else 0.0 for g in grid}
    return max(grid, key=lambda g: (round(scores[g], 6), -g[1], g[0]))


def _fold_fingerprint(examples: list[Example], source: str) -> str:
    """What a held-out fold's predictions depend on: every example (path, source, piece,
    truth, candidates and their features), the search grid and this code."""
    h = hashlib.sha1(f"{source}|{LAMBDAS}|{HIDDEN}|{SEED}|{BPM_RANGE}|{FEATURE_FILES}".encode())
    for name in FEATURE_FILES:
        h.update((Path(tempo.__file__).parent / name).read_bytes())
    h.update(Path(__file__).read_bytes())
    for x in examples:
        h.update(f"{x.path}|{x.source}|{x.piece}|{x.truth}|{x.positive}|{x.bpms}".encode())
        if x.features is not None:
            h.update(np.ascontiguousarray(x.features).tobytes())
    return h.hexdigest()[:20]


FEATURE_FILES = ("tempo.py", "tempo_model.py", "sample.py")   # djml/analysis code the folds run


def loso(examples: list[Example], scored: set[str] | None = None,
         store: Path | None = None) -> dict[str, float | None]:
    """Held-out prediction per path of the `scored` sources (default: all): each predicted
    by a model fitted without its source family, regularisation chosen without it too.
    With `store`, each fold's predictions are kept there under a fingerprint of all it
    depends on (:func:`_fold_fingerprint`), so the benchmark and the trainer share them."""
    out: dict[str, float | None] = {}
    for s in sorted(scored or {x.source for x in examples}):
        kept = store / f"{_fold_fingerprint(examples, s)}.json" if store else None
        if kept is not None and kept.exists():
            out.update(json.loads(kept.read_text()))
            continue
        train = [x for x in examples if family(x.source) != family(s)]
        model = fit(train, *choose_setting(train))
        fold = {x.path: predict(x, model) for x in examples if x.source == s}
        out.update(fold)
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.with_suffix(".part").write_text(json.dumps(fold))
            kept.with_suffix(".part").replace(kept)
    return out


def loso_predict(rows: list[dict], cache: Path | None = None) -> dict[str, float | None]:
    """Leave-one-source-out tempo predictions for manifest `rows` (each needs ``path``,
    ``source``, ``bpm``; ``piece_id`` optional; rows without a tempo are skipped): path ->
    BPM, None when no pulse was found (a one-shot, for a short file). The training-only
    :func:`extra_rows` join every fold whose held-out source is not their family's."""
    cache = cache or cache_dir()
    rows = [r for r in rows if r.get("bpm")]
    examples = make_examples(sorted(rows, key=lambda r: (r["source"], r["path"])) + extra_rows(cache), cache,
                             log=lambda _m: None)
    return loso(examples, scored={r["source"] for r in rows}, store=cache / "tempo_loso")


# --------------------------------------------------------------------------- data + CLI

# A source generated by the same code as another is held out with it (never a fold's
# training data when its sibling is scored).
SOURCE_FAMILY = {"meter_beats": "beats"}
EXTRA_SOURCES = ("tempo_meter_beats",)   # benchmarks/datasets.py sets: training only


# The Debian package each source's material comes from (licences recorded with the weights).
SOURCE_PACKAGES = {"freedoom": "freedoom", "simutrans": "simutrans-data", "freedink": "freedink-data",
                   "blupi": "planetblupi-music-midi", "pianobooster": "pianobooster",
                   "hydrogen": "hydrogen-data", "sonicpi": "sonic-pi-samples",
                   "beats": "hydrogen-drumkits", "meter_beats": "hydrogen-drumkits"}


def licences(sources: set[str]) -> dict[str, str]:
    """Licence hints of the training material per source (music21's corpus: public-domain
    works, BSD-licensed package)."""
    _checkout("datasets")
    datasets = importlib.import_module("benchmarks.datasets")
    return {s: (datasets.debian_licence(SOURCE_PACKAGES[s]) if s in SOURCE_PACKAGES else
                "music21 corpus (public-domain works)" if s.startswith("music21") else "unknown")
            for s in sorted(sources)}


def family(source: str) -> str:
    return SOURCE_FAMILY.get(source, source)


def _checkout(module: str) -> Path:
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / f"{module}.py").exists():
        sys.exit(f"training needs a djml source checkout (benchmarks/{module}.py builds the data)")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root


def extra_rows(cache: Path) -> list[dict]:
    """Training-only rows of generated meters (``tempo_meter_beats``, source meter_beats)."""
    _checkout("datasets")
    datasets = importlib.import_module("benchmarks.datasets")
    rows = [dict(r, bpm=float(r["bpm"])) for name in EXTRA_SOURCES for r in datasets.ensure(name, cache)]
    return sorted(rows, key=lambda r: r["path"])


def training_rows(cache: Path) -> list[dict]:
    """The rows the shipped model is fitted on: every row with a tempo of the cross-source
    set of real compositions (``benchmarks/music_sets.py`` builds it into the cache first,
    if needed), plus :func:`extra_rows`."""
    _checkout("music_sets")
    music_sets = importlib.import_module("benchmarks.music_sets")
    try:
        rows = music_sets.load_manifest(cache=cache)
    except FileNotFoundError:
        music_sets.build(list(music_sets.ALL_SOURCES), cache)
        rows = music_sets.load_manifest(cache=cache)
    rows = sorted((r for r in rows if r.get("bpm")), key=lambda r: (r["source"], r["path"]))
    return rows + extra_rows(cache)


def scores(examples: list[Example], predictions: dict[str, float | None]) -> dict[str, dict]:
    per = defaultdict(list)
    for x in examples:
        per[x.source].append((predictions.get(x.path), x.truth))
    per["all"] = [p for s in list(per) for p in per[s]]

    def acc(pairs, factors):
        return float(np.mean([b is not None and any(abs(b - t * f) <= TOLERANCE * t * f for f in factors)
                              for b, t in pairs]))
    return {s: {"n": len(p), "acc1": round(acc(p, (1.0,)), 4),
                "acc2": round(acc(p, (1.0, 2.0, 0.5, 3.0, 1 / 3)), 4)} for s, p in per.items()}


def build_model(examples: list[Example], evaluate: bool = True, log=print,
                shipped: tempo_model.TempoModel | None = None, store: Path | None = None) -> str:
    """The shipped model's JSON: fitted on all `examples` (regularisation by inner
    leave-one-source-out), with the held-out scores per source when `evaluate`, next to
    those of the `shipped` weights on the same files (in-sample on the sources they were
    fitted on: their file's ``trained_on``)."""
    covered = float(np.mean([x.positive is not None for x in examples]))
    log(f"truth among the candidates: {covered:.3f}")
    metadata: dict = {}
    if evaluate:
        scored = [x for x in examples if x.source not in SOURCE_FAMILY]
        held_out = scores(scored, loso(examples, {x.source for x in examples} - set(SOURCE_FAMILY),
                                       store=store))
        before = scores(scored, {x.path: predict(x, shipped) for x in scored}) if shipped else {}
        log(f"  {'source':24s} {'n':>6s}  held out: Acc1  Acc2" + ("   shipped weights: Acc1  Acc2" if before else ""))
        for s, m in held_out.items():
            b = before.get(s)
            log(f"  {s:24s} n={m['n']:4d}  {m['acc1']:.3f} {m['acc2']:.3f}"
                + (f"   {b['acc1']:.3f} {b['acc2']:.3f}" if b else ""))
        metadata["loso"] = held_out
    lam, hidden = choose_setting(examples)
    import scipy

    metadata.update({
        "trained_on": {s: sum(x.source == s for x in examples) for s in sorted({x.source for x in examples})},
        "candidates_cover_truth": round(covered, 4), "l2": lam, "hidden_units": hidden, "bpm_range": list(BPM_RANGE),
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "licences": licences({x.source for x in examples}),
        "rebuild": "python -m djml.models.tempo_train",
    })
    return fit(examples, lam, hidden).to_json(**metadata)


def main(argv: list[str] | None = None) -> int:
    global JOBS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=tempo_model.MODEL_PATH)
    ap.add_argument("--no-eval", action="store_true", help="skip the leave-one-source-out report")
    ap.add_argument("--check", action="store_true", help="refit and compare with --out instead of writing")
    ap.add_argument("--jobs", type=int, default=JOBS, help="processes for decoding and the inner-fold fits")
    args = ap.parse_args(argv)
    JOBS = max(1, args.jobs)
    cache = args.cache or cache_dir()
    rows = training_rows(cache)
    print(f"{len(rows)} files from {len({r['source'] for r in rows})} sources")
    try:
        shipped = tempo_model.parse_model(args.out.read_text(), str(args.out))
    except (OSError, tempo_model.TempoModelError) as exc:
        print(f"no usable model at {args.out} to compare with: {exc}")
        shipped = None
    text = build_model(make_examples(rows, cache, jobs=JOBS), evaluate=not (args.no_eval or args.check),
                       shipped=shipped, store=cache / "tempo_loso")
    if args.check:
        same, shipped = tempo_model.parse_model(text), tempo_model.parse_model(args.out.read_text())
        identical = all(np.allclose(getattr(same, k), getattr(shipped, k), atol=1e-6)
                        for k in ("mean", "scale", "weights", "hidden", "output"))
        print("identical to the shipped model" if identical else "DIFFERENT from the shipped model")
        return 0 if identical else 1
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
