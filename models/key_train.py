"""Train and evaluate the shipped key model (``djml/analysis/key_model.json``), reproducibly.

    python -m djml.models.key_train              # leave-one-source-out table + write the model
    python -m djml.models.key_train --no-write   # only the table
    python -m djml.models.key_train --manifest PATH.jsonl   # add another manifest of rows

Data: every benchmark set with a key label that the project may train on, read from the
benchmark cache (``$DJML_BENCH_CACHE`` or ``~/.cache/djml/bench``; built by
``benchmarks/datasets.py`` and ``benchmarks/music_sets.py`` from installed packages):
``tempo_key_beats`` (source "beats"), ``key_music21`` + ``key_music21_extra`` (source
"music21_key"; only labels that pass the checks against the notes, ``label_verified``) and
the cross-source manifest of real compositions (``<cache>/music_xsource/manifest.jsonl``,
one source per package; read whenever it has been built).
Features are the analyzer's own (:func:`djml.analysis.track.analyze_track` →
``key_features``), cached per file under ``<cache>/key_features/``, so a rerun costs seconds.

Evaluation is leave-one-source-out: each source is predicted by a model trained on the
others, and the L2 strength is chosen by an inner leave-one-source-out on those others, so
no setting is ever chosen on the source it is scored on. Rows sharing a piece_id with the
held-out source are dropped from its training set too, and every set cut from the music21
corpus is held out as one (:func:`family`). The table scores MIREX with the
standard convention (only the fifth above the truth counts 0.5, as mir_eval) and the lenient
one (either fifth), mode accuracy (major/minor right, any tonic) and tonic accuracy, per
source with 95 % bootstrap intervals, for the profile method and the learned model.

``loso_predict(rows)`` is the same evaluation as a function, for
``benchmarks/accuracy_analysis.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads: deterministic sums, no oversubscription

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from djml import keys  # noqa: E402
from djml.analysis import chroma, key_model  # noqa: E402

LAMBDAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
DEFAULT_LAMBDA = 1e-1
PRIOR_GAIN = 20.0     # the prior's logit per unit of profile correlation: p(best) ~ 0.5-0.9
BPM_RANGE = (70.0, 180.0)
BUILT_IN_SETS = {"tempo_key_beats": "beats", "key_music21": "music21_key", "key_music21_extra": "music21_key"}
MANIFESTS = ("music_xsource/manifest.jsonl",)   # benchmarks/music_sets.py, read when built
_FEATURE_CODE = ("chroma.py", "key.py")     # a change in these invalidates the feature cache


def cache_dir() -> Path:
    return Path(os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench")


# --------------------------------------------------------------------------- labels

_NAME = re.compile(r"^\s*([A-Ga-g])([#b♯♭]?)\s*(m|min|minor|maj|major)?\s*$")


def parse_key(row: dict) -> int | None:
    """The row's key as 0..23: an int ``key``, or a name ("A minor", "F#", "Bbm") with an
    optional ``mode`` column ("major"/"minor"); None when the row carries no usable key."""
    value, mode = row.get("key"), row.get("mode")
    if value is None or value == "":
        return None
    if isinstance(value, (int, np.integer)) or (isinstance(value, str) and value.strip().isdigit()):
        k = int(value)
        return k if 0 <= k < 24 else None
    try:
        return keys.parse(str(value)) if mode in (None, "") else _with_mode(str(value), str(mode))
    except (ValueError, KeyError):
        return None


def _with_mode(name: str, mode: str) -> int | None:
    m = _NAME.match(name.split()[0])
    if not m or mode.lower() not in ("major", "minor"):
        return None
    return keys.parse(m.group(1).upper() + m.group(2) + (" minor" if mode.lower() == "minor" else " major"))


# --------------------------------------------------------------------------- features

def _code_hash() -> str:
    here = Path(key_model.__file__).resolve().parent
    h = hashlib.sha1()
    for name in _FEATURE_CODE:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:12]


def _analyse(path: str) -> tuple[np.ndarray, int]:
    from djml.analysis.track import analyze_track

    t = analyze_track(path, BPM_RANGE, key_model_decides=False)
    return t.key_features, -1 if t.profile_key is None else int(t.profile_key)


def features(paths: list[str], cache: Path | None = None, jobs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(pooled (n, V, 12), profile-method key (n,), -1 = none) per path, cached per file."""
    store = (cache or cache_dir()) / "key_features" / f"v{chroma.FEATURE_VERSION}-{_code_hash()}.npz"
    known: dict[str, tuple[np.ndarray, int]] = {}
    if store.exists():
        with np.load(store, allow_pickle=False) as z:
            known = {str(k): (x, int(p)) for k, x, p in zip(z["keys"], z["pooled"], z["profile"])}
    ids = [f"{p}|{os.stat(p).st_size}|{os.stat(p).st_mtime_ns}" for p in paths]
    todo = sorted({(i, p) for i, p in zip(ids, paths) if i not in known})
    if todo:
        t0 = time.time()
        with ProcessPoolExecutor(max_workers=max(1, min(2, jobs))) as ex:
            for (i, _), res in zip(todo, ex.map(_analyse, [p for _, p in todo], chunksize=4)):
                known[i] = res
        print(f"key features: {len(todo)} files analysed in {time.time() - t0:.0f} s", file=sys.stderr)
        store.parent.mkdir(parents=True, exist_ok=True)
        names = sorted(known)
        np.savez_compressed(store, keys=np.array(names), pooled=np.stack([known[k][0] for k in names]),
                            profile=np.array([known[k][1] for k in names]))
    return np.stack([known[i][0] for i in ids]), np.array([known[i][1] for i in ids])


# --------------------------------------------------------------------------- model

def designs(pooled: np.ndarray) -> np.ndarray:
    return np.stack([key_model.design(x) for x in pooled])      # (n, 24, F)


def prior() -> np.ndarray:
    """(2, F) weights that reproduce the profile method: only the treble profile score,
    at PRIOR_GAIN. The fit is pulled towards them, so with little data (or a large L2
    strength) the model falls back to what the profile method decides."""
    W0 = np.zeros((2, key_model.N_FEATURES))
    W0[:, 12 * len(chroma.VECTORS)] = PRIOR_GAIN      # SCALARS[0]: treble_default
    return W0


def fit(phi: np.ndarray, y: np.ndarray, lam: float, sample_weight: np.ndarray | None = None
        ) -> tuple[np.ndarray, np.ndarray]:
    """Softmax over the 24 keys with mode-specific shared weights, L2-pulled towards
    :func:`prior` (and the mode biases towards 0: how often a source is in major says nothing
    about the next source): returns (weights (2, F), bias (2,)). Deterministic (L-BFGS from
    the prior)."""
    n, _, f = phi.shape
    W0 = prior()
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    w = w / w.sum()
    mode = np.repeat([0, 1], 12)
    onehot = np.zeros((n, 24))
    onehot[np.arange(n), y] = 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = theta[: 2 * f].reshape(2, f), theta[2 * f:]
        z = np.einsum("nkf,kf->nk", phi, W[mode]) + b[mode]
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -(w * logp[np.arange(n), y]).sum() + lam * (((W - W0) ** 2).sum() + (b ** 2).sum())
        g = (np.exp(logp) - onehot) * w[:, None]                 # (n, 24)
        gW = np.stack([np.einsum("nk,nkf->f", g[:, mode == m], phi[:, mode == m]) for m in (0, 1)])
        gb = np.array([g[:, mode == m].sum() for m in (0, 1)])
        return value, np.concatenate([(gW + 2 * lam * (W - W0)).ravel(), gb + 2 * lam * b])

    res = minimize(loss, np.concatenate([W0.ravel(), np.zeros(2)]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 500, "gtol": 1e-7})
    return res.x[: 2 * f].reshape(2, f), res.x[2 * f:]


def probabilities(phi: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    mode = np.repeat([0, 1], 12)
    z = np.einsum("nkf,kf->nk", phi, W[mode]) + b[mode]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def predict(phi: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.argmax(probabilities(phi, W, b), axis=1)


def source_weights(sources: np.ndarray) -> np.ndarray:
    """Each source weighs as much as the square root of its size: big sources still count
    more, but one big source cannot drown the others."""
    _, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    return 1.0 / np.sqrt(counts[inverse])


def family(source: str) -> str:
    """Sources held out together: every set cut from the music21 corpus is one family
    (an ABC tune can sit in two of them)."""
    return "music21" if source.startswith("music21") else source


def choose_lambda(phi: np.ndarray, y: np.ndarray, sources: np.ndarray) -> float:
    """L2 strength with the best standard-MIREX score over leave-one-source-out folds of
    the data given, each fold weighing sqrt(its size) (a two-clip source must not decide;
    DEFAULT_LAMBDA when there is only one source)."""
    names = np.unique([family(s) for s in sources])
    if len(names) < 2:
        return DEFAULT_LAMBDA
    best, best_score = DEFAULT_LAMBDA, -1.0
    for lam in LAMBDAS:
        scores, sizes = [], []
        for s in names:
            test = np.array([family(x) == s for x in sources])
            train = ~test
            W, b = fit(phi[train], y[train], lam, source_weights(sources[train]))
            scores.append(np.mean([mirex(e, t, False) for e, t in zip(predict(phi[test], W, b), y[test])]))
            sizes.append(np.sqrt(test.sum()))
        score = float(np.average(scores, weights=sizes))
        if score > best_score + 1e-9:
            best, best_score = lam, score
    return best


def loso(phi: np.ndarray, y: np.ndarray, sources: np.ndarray, pieces: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Leave-one-source-out key probabilities (n, 24), predictions (n,) and the L2
    strength chosen for each held-out source family."""
    proba = np.zeros((len(y), 24))
    chosen = {}
    for s in np.unique([family(x) for x in sources]):
        test = np.array([family(x) == s for x in sources])
        train = ~test & ~np.isin(pieces, pieces[test])
        lam = choose_lambda(phi[train], y[train], sources[train])
        W, b = fit(phi[train], y[train], lam, source_weights(sources[train]))
        proba[test] = probabilities(phi[test], W, b)
        chosen[str(s)] = lam
    return proba, np.argmax(proba, axis=1), chosen


def loso_predict(rows: list[dict]) -> dict[str, str]:
    """{path: "A minor"} for every row with a key label, each predicted by a model trained
    with the row's source held out (rows: path, source, key [, mode, piece_id]). Every other
    keyed row of the cache (BUILT_IN_SETS, MANIFESTS) trains too, as for the shipped model."""
    given = [r for r in rows if parse_key(r) is not None]
    if not given:
        return {}
    seen = {r["path"] for r in given}
    cache = cache_dir()
    known = load_rows(cache, [cache / m for m in MANIFESTS if (cache / m).exists()])
    usable = given + [r for r in known if r["path"] not in seen]
    pooled, _ = features([r["path"] for r in usable])
    y = np.array([parse_key(r) for r in usable])
    sources = np.array([str(r["source"]) for r in usable])
    pieces = np.array([f"{r['source']}:{r['path']}" if not r.get("piece_id") else str(r["piece_id"])
                       for r in usable])
    _, pred, _ = loso(designs(pooled), y, sources, pieces)
    return {r["path"]: keys.standard(int(k)) for r, k in zip(usable, pred) if r["path"] in seen}


# --------------------------------------------------------------------------- scoring

def mirex(estimate: int | None, truth: int, lenient: bool) -> float:
    """MIREX key score: exact 1, fifth 0.5 (standard: only the estimate a fifth above the
    truth, as mir_eval; lenient: either way), relative 0.3, parallel 0.2."""
    if estimate is None or estimate < 0:
        return 0.0
    if estimate == truth:
        return 1.0
    et, tt, em, tm = estimate % 12, truth % 12, estimate >= 12, truth >= 12
    if em == tm and ((et - tt) % 12 == 7 or (lenient and (et - tt) % 12 == 5)):
        return 0.5
    if em != tm and et == (tt + (3 if tm else -3)) % 12:
        return 0.3
    if em != tm and et == tt:
        return 0.2
    return 0.0


def bootstrap(values: np.ndarray, n: int = 2000, seed: int = 7) -> tuple[float, float]:
    """95 % percentile interval of the mean."""
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def score_table(pred: np.ndarray, y: np.ndarray) -> dict:
    std = np.array([mirex(int(e), int(t), False) for e, t in zip(pred, y)])
    len_ = np.array([mirex(int(e), int(t), True) for e, t in zip(pred, y)])
    ok = pred >= 0
    mode = (ok & ((pred >= 12) == (y >= 12))).astype(float)
    tonic = (ok & (pred % 12 == y % 12)).astype(float)
    return {"n": len(y), "mirex": float(std.mean()), "mirex_ci": bootstrap(std),
            "mirex_lenient": float(len_.mean()), "exact": float((pred == y).mean()),
            "mode": float(mode.mean()), "mode_ci": bootstrap(mode), "tonic": float(tonic.mean()),
            "parallel": float((ok & (pred != y) & (pred % 12 == y % 12)).mean())}


# --------------------------------------------------------------------------- data

def load_rows(cache: Path, manifests: list[Path]) -> list[dict]:
    """Every keyed row of the built-in sets and of the given JSONL manifests, once per file."""
    rows: list[dict] = []
    for name, source in BUILT_IN_SETS.items():
        path = cache / name / "manifest.json"
        if not path.exists():
            print(f"  {name}: not built (benchmarks/datasets.py {name}); skipped", file=sys.stderr)
            continue
        for r in json.loads(path.read_text())["items"]:
            if "label_verified" in r and not int(r["label_verified"]):
                continue      # a notated key its own notes contradict (datasets.label_checks)
            piece = (f"music21:{r['corpus_file']}:{r['abc_index']}" if "corpus_file" in r
                     else f"{source}:{r.get('id') or Path(r['path']).stem}")
            rows.append({**r, "source": source, "piece_id": piece})
    for m in manifests:
        for line in m.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    by_path = {r["path"]: r for r in rows}     # a manifest row replaces a built-in one
    return [r for r in by_path.values() if parse_key(r) is not None and Path(r["path"]).exists()]


def _fmt_ci(x: float, ci: tuple[float, float]) -> str:
    return f"{x:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def report(y: np.ndarray, sources: np.ndarray, methods: dict[str, np.ndarray]) -> dict:
    out = {}
    print(f"{'source':14s} {'n':>5s} {'method':8s} {'MIREX std [95% CI]':>24s} {'lenient':>8s} "
          f"{'exact':>6s} {'mode [95% CI]':>22s} {'tonic':>6s} {'par.':>5s}")
    for s in [*np.unique(sources), "ALL"]:
        sel = np.ones(len(y), bool) if s == "ALL" else sources == s
        for name, pred in methods.items():
            t = score_table(pred[sel], y[sel])
            out[f"{s}/{name}"] = t
            print(f"{s:14s} {t['n']:5d} {name:8s} {_fmt_ci(t['mirex'], t['mirex_ci']):>24s} "
                  f"{t['mirex_lenient']:8.3f} {t['exact']:6.3f} {_fmt_ci(t['mode'], t['mode_ci']):>22s} "
                  f"{t['tonic']:6.3f} {t['parallel']:5.3f}")
    return out


DRUM_SOURCES = ("hydrogen",)   # manifest sources that are drum programming only: no key


def load_drum_rows(manifests: list[Path]) -> list[dict]:
    rows = []
    for m in manifests:
        rows += [r for r in map(json.loads, filter(str.strip, m.read_text().splitlines()))
                 if r.get("source") in DRUM_SOURCES and Path(r["path"]).exists()]
    return rows


def clip_report(pooled: np.ndarray, proba: np.ndarray, y: np.ndarray, sources: np.ndarray,
                durations: np.ndarray, drum_rows: list[dict], cache: Path) -> None:
    """How the clip gate (djml.analysis.clip_key) does: on keyed clips (< 30 s) the share
    that gets a key and the MIREX score with a missing key scored 0; on drum-only rows the
    share that wrongly gets one (model trained on every keyed row)."""
    from djml.analysis.clip_key import MAX_ENTROPY, MIN_PROBABILITY, chroma_entropy

    def gate(x: np.ndarray, p: np.ndarray) -> bool:
        return chroma_entropy(x) <= MAX_ENTROPY and p.max() >= MIN_PROBABILITY

    clips = np.flatnonzero((durations > 0) & (durations < 30.0))
    print(f"clip key (entropy <= {MAX_ENTROPY}, p >= {MIN_PROBABILITY}), keyed clips < 30 s:")
    for s in [*np.unique(sources[clips]), "ALL"]:
        idx = clips if s == "ALL" else clips[sources[clips] == s]
        if len(idx) == 0:
            continue
        got = np.array([gate(pooled[i], proba[i]) for i in idx])
        scores = np.array([mirex(int(np.argmax(proba[i])), int(y[i]), False) if g else 0.0
                           for i, g in zip(idx, got)])
        print(f"  {s:14s} n {len(idx):4d}  with a key {got.mean():.2f}  MIREX (none = 0) {scores.mean():.3f}"
              f"  MIREX of those with a key {scores[got].mean() if got.any() else float('nan'):.3f}")
    if drum_rows:
        x, _ = features([r["path"] for r in drum_rows], cache)
        W, b = fit(designs(pooled), y, choose_lambda(designs(pooled), y, sources), source_weights(sources))
        p = probabilities(designs(x), W, b)
        wrong = np.mean([gate(xi, pi) for xi, pi in zip(x, p)])
        print(f"  drum-only rows ({', '.join(DRUM_SOURCES)}): {len(x)}, given a key {wrong:.2f}")


def mode_choice(proba: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """The ``mode`` decision (:func:`djml.analysis.key_model.decide`): the profile
    method's key, its parallel or its relative, whichever the model finds most probable."""
    out = profile.copy()
    for i, k in enumerate(profile):
        if k >= 0:
            cands = list(key_model.mode_candidates(int(k)))
            out[i] = cands[int(np.argmax(proba[i, cands]))]
    return out


def winner(table: dict, sources: np.ndarray) -> str:
    """The decision (model, profile or mode) with the best leave-one-source-out MIREX
    (standard), averaged over the sources with weights sqrt(size) as in
    :func:`choose_lambda`; the profile method unless another is strictly better."""
    names, counts = np.unique(sources, return_counts=True)
    mean = {m: np.average([table[f"{s}/{m}"]["mirex"] for s in names], weights=np.sqrt(counts))
            for m in ("profile", "model", "mode")}
    for m, v in mean.items():
        print(f"  {m:8s} sqrt(size)-weighted held-out MIREX (standard) {v:.4f}")
    return max(("profile", "model", "mode"), key=lambda m: (mean[m], m == "profile"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--manifest", type=Path, action="append", default=[],
                    help="JSONL manifest of more rows (path, source, key, mode, piece_id)")
    ap.add_argument("--no-write", action="store_true", help="evaluate only")
    ap.add_argument("--out", type=Path, default=key_model.MODEL_PATH)
    args = ap.parse_args(argv)
    cache = args.cache or cache_dir()
    manifests = [cache / m for m in MANIFESTS if (cache / m).exists()] + args.manifest
    print(f"manifests: {', '.join(map(str, manifests)) or 'none'}")
    rows = load_rows(cache, manifests)
    if not rows:
        sys.exit(f"no keyed rows in {cache}: build them with benchmarks/datasets.py tempo_key_beats "
                 "key_music21 key_music21_extra (from a djml source checkout)")
    pooled, profile = features([r["path"] for r in rows], cache)
    y = np.array([parse_key(r) for r in rows])
    sources = np.array([str(r["source"]) for r in rows])
    pieces = np.array([str(r["piece_id"]) for r in rows])
    phi = designs(pooled)
    proba, model_pred, chosen = loso(phi, y, sources, pieces)
    print(f"{len(rows)} rows from {len(np.unique(sources))} sources; L2 chosen per held-out source: {chosen}")
    top3 = np.argsort([-key_model.design(x)[:, 12 * len(chroma.VECTORS)] for x in pooled], axis=1)[:, :3]
    in_top3 = np.take_along_axis(proba, top3, axis=1)
    model_top3 = top3[np.arange(len(y)), np.argmax(in_top3, axis=1)]
    mode_pred = mode_choice(proba, profile)
    table = report(y, sources, {"profile": profile, "model": model_pred, "model@3": model_top3,
                                "mode": mode_pred})
    durations = np.array([float(r.get("duration") or 0.0) for r in rows])
    clip_report(pooled, proba, y, sources, durations, load_drum_rows(manifests), cache)
    if args.no_write:
        return 0
    lam = choose_lambda(phi, y, sources)
    W, b = fit(phi, y, lam, source_weights(sources))
    counts = {str(s): int(c) for s, c in zip(*np.unique(sources, return_counts=True))}
    info = {"trained_on": counts, "l2": lam, "numpy": np.__version__,
            "loso": {k: {m: round(v, 4) for m, v in t.items() if isinstance(v, float)}
                     for k, t in table.items()},
            "command": "python -m djml.models.key_train"}
    method = winner(table, sources)
    info["method_rule"] = ("the decision (profile, model, or mode: profile key with the model choosing "
                           "among it, its parallel and its relative) with the best leave-one-source-out "
                           "standard MIREX averaged over the sources with weights sqrt(size); profile on a tie")
    args.out.write_text(key_model.to_json(W, b, info, method), encoding="utf-8")
    print(f"wrote {args.out} (L2 {lam}, {len(rows)} rows; the analyzer's key: {method})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
