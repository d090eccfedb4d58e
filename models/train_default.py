"""Train the shipped sample-type model, reproducibly, from the Debian-packaged sources.

    python -m djml.models.train_default            # evaluate (leave-one-kit-out) + write shipped/
    python -m djml.models.train_default --no-eval  # just retrain the weights
    python -m djml.models.train_default --cnn      # also evaluate the log-mel CNN + ensemble

``benchmarks/sample_classifier.py`` prints the same evaluation as per-class / per-kit tables.

Sources (see benchmarks/README.md "Sources and licences" and MODEL_CARD.md): Hydrogen drum kits, General-MIDI
sound-font renders (FluidR3_GM, MuseScore_General_Lite), freedesktop sound theme (fx), and
1–4 bar loops cut from beats built over Hydrogen hits. Manifests come from
``benchmarks/datasets.py`` (run automatically from a source checkout when missing).

Evaluation is leave-one-kit-out: every kit (a Hydrogen kit, one GM kit of one sound font,
the freedesktop theme) is held out in turn and predicted by a model trained on all the
others — velocity layers of the same hit never straddle train and test.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/sklearn load: no oversubscription

import numpy as np  # noqa: E402

from djml.models import DRUM_CLASSES  # noqa: E402
from djml.models.service import SAMPLE_ET_PARAMS  # noqa: E402

SEED = 1234
SETS = ("samples_hydrogen", "samples_gm", "samples_fx")
LOOP_BARS = (1, 2, 4)
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
ET_PARAMS = SAMPLE_ET_PARAMS   # the same trees users retrain on top of the shipped set
CNN_PARAMS = {"width": 8, "pool": 2, "epochs": 30}
ENSEMBLE_WEIGHT = 0.5   # trees' share of the averaged probabilities


@dataclass
class Entry:
    path: str
    label: str
    kit: str
    source: str
    licence: str


def cache_dir() -> Path:
    return Path(os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench")


def ensure_manifests(cache: Path) -> None:
    missing = [s for s in (*SETS, "tempo_key_beats") if not (cache / s / "manifest.csv").exists()]
    if not missing:
        return
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "datasets.py"
    if not script.exists():
        sys.exit(f"missing data sets {missing} in {cache}; build them with benchmarks/datasets.py "
                 "from a djml source checkout")
    subprocess.run([sys.executable, str(script), *missing, "--cache", str(cache)], check=True)


def collect(cache: Path) -> list[Entry]:
    entries = []
    for name in SETS:
        with open(cache / name / "manifest.csv", newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                entries.append(Entry(r["path"], r["label"], r["kit"], r["source"], r["licence"]))
    return entries + make_loops(cache)


def make_loops(cache: Path) -> list[Entry]:
    """1, 2 and 4-bar excerpts of the generated beats (real Hydrogen hits on a grid)."""
    import soundfile as sf

    out_dir = cache / "samples_loops"
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    with open(cache / "tempo_key_beats" / "manifest.csv", newline="", encoding="utf-8") as f:
        beats = list(csv.DictReader(f))
    for i, r in enumerate(beats):
        bars = LOOP_BARS[i % len(LOOP_BARS)]
        target = out_dir / f"{Path(r['path']).stem}_{bars}bar.wav"
        if not target.exists():
            info = sf.info(r["path"])
            frames = int(round(bars * 4 * 60.0 / float(r["bpm"]) * info.samplerate))
            y, sr = sf.read(r["path"], frames=frames, dtype="float32")
            sf.write(target, y, sr, subtype="PCM_16")
        entries.append(Entry(str(target), "loop", f"beats:{r['kit']}", "beatgen", r["licence"]))
    return entries


def featurize(entries: list[Entry], cache: Path) -> tuple[list, list[int]]:
    """Analyse every file once (cached by path + size + mtime + analyzer version); returns
    ItemRows in the exact shape the library stores, and indices of the entries kept."""
    from djml.analysis import ANALYZER_VERSIONS, AnalysisError, analyze
    from djml.models.features import ItemRow

    store = cache / f"sample_features_v{ANALYZER_VERSIONS['sample']}.npz"
    known: dict[str, tuple] = {}
    if store.exists():
        with np.load(store, allow_pickle=False) as z:
            for k, fv, lm, d in zip(z["keys"], z["fv"], z["logmel"], z["data"]):
                known[str(k)] = (fv, lm, str(d))
    rows, kept, fresh = [], [], 0
    for i, e in enumerate(entries):
        st = os.stat(e.path)
        key = f"{e.path}|{st.st_size}|{st.st_mtime_ns}"
        if key not in known:
            try:
                a = analyze(e.path, "sample")
            except AnalysisError as exc:
                print(f"  skipped {e.path}: {exc}", file=sys.stderr)
                continue
            from djml.library import _jsonable

            known[key] = (a.feature_vector, a.logmel.ravel(), json.dumps(_jsonable(a.to_dict())))
            fresh += 1
        fv, lm, d = known[key]
        data = json.loads(d)
        rows.append(ItemRow(id=i, kind="sample", path=e.path, duration=data.get("duration"),
                            loudness=data.get("loudness"), sample_type=data.get("sample_type"),
                            analyzer_version=ANALYZER_VERSIONS["sample"], data=data,
                            vectors={"sample": np.asarray(fv, np.float32), "logmel": np.asarray(lm, np.float32)}))
        kept.append(i)
    if fresh:
        keys = list(known)
        np.savez_compressed(store, keys=np.array(keys), fv=np.stack([known[k][0] for k in keys]),
                            logmel=np.stack([known[k][1] for k in keys]), data=np.array([known[k][2] for k in keys]))
    print(f"features: {len(rows)} files ({fresh} analysed now, {len(rows) - fresh} from cache)")
    return rows, kept


def loko_proba(kits: np.ndarray, classes: list[str], fit_proba) -> np.ndarray:
    """Leave-one-kit-out class probabilities (n, len(classes)) for every item:
    ``fit_proba(train_idx, test_idx) -> (proba, model_classes)`` is called once per kit."""
    proba = np.zeros((len(kits), len(classes)), np.float32)
    for kit in sorted(set(kits)):
        test = np.flatnonzero(kits == kit)
        p, model_classes = fit_proba(np.flatnonzero(kits != kit), test)
        proba[np.ix_(test, [classes.index(c) for c in model_classes])] = p
    return proba


def summarise(name: str, y: np.ndarray, kits: np.ndarray, classes: list[str], proba: np.ndarray,
              seconds: float | None = None) -> dict:
    """Accuracy on drums and on everything, per-class recall, per-kit drum accuracy."""
    from djml.models.evaluate import report

    pred = np.array(classes)[proba.argmax(axis=1)]
    drums = np.isin(y, DRUM_CLASSES)
    per_kit = {k: float(np.mean(pred[(kits == k) & drums] == y[(kits == k) & drums]))
               for k in sorted(set(kits[drums]))}
    out = {"model": name, "all": report(list(y), list(pred)), "drums": report(list(y[drums]), list(pred[drums])),
           "drum_accuracy_per_kit": per_kit, "drum_kit_sizes": {k: int(((kits == k) & drums).sum()) for k in per_kit}}
    if seconds is not None:
        out["seconds"] = round(seconds, 1)
    print(f"{name:10s} LOKO accuracy: drums {out['drums']['accuracy']:.3f} "
          f"(macro-F1 {out['drums']['macro_f1']:.3f}), all classes {out['all']['accuracy']:.3f}"
          + (f" [{seconds:.0f} s]" if seconds is not None else ""), flush=True)
    return out


def evaluate(models: list[str], X: np.ndarray, L: np.ndarray | None, y: np.ndarray,
             kits: np.ndarray) -> dict[str, dict]:
    """Leave-one-kit-out evaluation of the named models: mfcc_lr (the floor every model must beat), et
    (trees), cnn, ensemble (mean of et and cnn probabilities; needs both)."""
    from djml.models.estimators import Estimator
    from djml.models.features import LogmelFeatures, SampleFeatures
    from djml.models.shipped_data import logmel_shape

    classes = sorted(set(y))

    def et(train, test):
        est = Estimator("sample_type", "et", SampleFeatures(), seed=SEED, params=ET_PARAMS)
        return est.fit_arrays(X[train], list(y[train])).predict_proba_arrays(X[test]), est.classes_

    def cnn(train, test):
        est = Estimator("sample_type", "cnn", LogmelFeatures(logmel_shape()), seed=SEED, params=CNN_PARAMS)
        return est.fit_arrays(L[train], list(y[train])).predict_proba_arrays(L[test]), est.classes_

    def mfcc_lr(train, test):  # MFCC mean/std + logistic regression
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        cols = [i for i, n in enumerate(_feature_names()) if n.startswith("mfcc_")]
        lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X[train][:, cols], y[train])
        return lr.predict_proba(X[test][:, cols]), list(lr.classes_)

    makers = {"mfcc_lr": mfcc_lr, "et": et, "cnn": cnn}
    probas: dict[str, np.ndarray] = {}
    results = {}
    for name in models:
        t0 = time.perf_counter()
        if name == "ensemble":
            probas[name] = ensemble_proba(probas["et"], probas["cnn"])
        else:
            probas[name] = loko_proba(kits, classes, makers[name])
        results[name] = summarise(name, y, kits, classes, probas[name], time.perf_counter() - t0)
    return results


def ensemble_proba(trees: np.ndarray, cnn: np.ndarray) -> np.ndarray:
    return ENSEMBLE_WEIGHT * trees + (1 - ENSEMBLE_WEIGHT) * cnn


def load_dataset(cache: Path, with_logmel: bool = False):
    """(entries, rows, X for the trees, log-mel stack for the CNN or None, labels, kits)."""
    from djml.models.features import LogmelFeatures, SampleFeatures
    from djml.models.shipped_data import logmel_shape

    ensure_manifests(cache)
    entries = collect(cache)
    rows, kept = featurize(entries, cache)
    entries = [entries[i] for i in kept]
    X = SampleFeatures().fit(rows).transform(rows)
    L = LogmelFeatures(logmel_shape()).fit(rows).transform(rows) if with_logmel else None
    return entries, rows, X, L, np.array([e.label for e in entries]), np.array([e.kit for e in entries])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=cache_dir())
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    parser.add_argument("--no-eval", action="store_true", help="skip leave-one-kit-out evaluation")
    parser.add_argument("--cnn", action="store_true", help="also evaluate the log-mel CNN and the ensemble")
    args = parser.parse_args(argv)

    from djml.analysis import ANALYZER_VERSIONS
    from djml.models.estimators import Estimator
    from djml.models.features import SampleFeatures

    entries, rows, X, L, y, kits = load_dataset(args.cache, with_logmel=args.cnn)
    print("classes: " + ", ".join(f"{c} {int((y == c).sum())}" for c in sorted(set(y))) + f"; {len(set(kits))} kits")
    results = {}
    if not args.no_eval:
        results = evaluate(["mfcc_lr", "et"] + (["cnn", "ensemble"] if args.cnn else []), X, L, y, kits)

    spec = SampleFeatures().fit(rows)
    est = Estimator("sample_type", "et", spec, seed=SEED, params=ET_PARAMS)
    est.fit_arrays(X, list(y), item_keys=[hashlib.sha1(e.path.encode()).hexdigest() for e in entries])
    metrics = {}
    if "et" in results:
        metrics = {"loko_drum_accuracy": results["et"]["drums"]["accuracy"],
                   "loko_drum_macro_f1": results["et"]["drums"]["macro_f1"],
                   "loko_accuracy": results["et"]["all"]["accuracy"],
                   "holdout_accuracy": results["et"]["all"]["accuracy"],
                   "baseline_mfcc_lr_drum_accuracy": results["mfcc_lr"]["drums"]["accuracy"]}
    est.metadata["metrics"] = metrics
    est.metadata["analyzer_version"] = ANALYZER_VERSIONS["sample"]
    est.metadata["sources"] = sorted({e.source for e in entries})
    write_shipped(args.out, est, X, y, spec.names, ANALYZER_VERSIONS["sample"], metrics, results, entries)


def _feature_names() -> list[str]:
    from djml.analysis import FEATURE_NAMES

    return list(FEATURE_NAMES)


def write_shipped(out: Path, est, X: np.ndarray, y: np.ndarray, names: list[str], analyzer_version: int,
                  metrics: dict, results: dict, entries: list[Entry]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    file_hash = est.save(out / "sample_type.pkl")
    version = f"sample_type-shipped-{file_hash[:8]}"
    meta = {k: v for k, v in est.metadata.items() if k not in ("metrics", "feature_means")}
    (out / "sample_type.json").write_text(json.dumps(
        {"version": version, "backend": est.backend, "metadata": meta, "metrics": metrics}, indent=1) + "\n")
    np.savez_compressed(out / "sample_type_base.npz", X=X.astype(np.float32), y=y.astype(str),
                        names=np.array(names), analyzer_version=np.int64(analyzer_version))
    if results:
        (out / "evaluation.json").write_text(json.dumps(
            {name: {k: v for k, v in r.items()} for name, r in results.items()}, indent=1) + "\n")
    licences = {}
    for e in entries:
        licences.setdefault(e.kit.split(":")[0] if e.source.startswith("gm") else e.kit, e.licence)
    (out / "licences.json").write_text(json.dumps(licences, indent=1, sort_keys=True) + "\n")
    sizes = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
    print(f"wrote {version} to {out}: " + ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()
