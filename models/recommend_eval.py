"""Offline evaluation of recommendations against what the DJ really played next.

Protocol: for every set with at least three tracks, hide its last track; the seed is the
track before it. Set statistics and the set model are learned from the remaining entries
only, so no held-out transition leaks into training. Each method ranks the library with no
hard filters (the DJ's real next track need not obey our tempo/key rules; compatibility
still counts as a score), excluding what was already played in that set.

Methods, side by side: ``content`` (timbre + compatibility, i.e. cold start), ``cf``
(transitions + co-occurrence + BPR-MF only), ``hybrid`` (the default weights) and
``hybrid-learned`` (weights fitted on the training sets by :mod:`djml.models.rank_weights`).
Metrics at k: precision, recall, NDCG and hit rate (one relevant item per case, so recall
equals hit rate), catalogue coverage (share of tracks ever recommended) and intra-list
diversity (mean pairwise 1 − cosine of the audio vectors inside a list).

Trains BPR-MF with torch when it is installed (evaluation is not a one-shot query path).
"""

from __future__ import annotations

import importlib.util
import math
import sqlite3
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from djml import index
from djml.models.transitions import SetStats, load_sets
from djml.models.recommend import COLLAB, DEFAULT_WEIGHTS, DIVERSITY, Sources, recommend

if TYPE_CHECKING:
    from djml.config import Config

METHODS = ("content", "cf", "hybrid", "hybrid-learned")


def _weights(method: str, learned: dict[str, float] | None) -> dict[str, float]:
    if method == "hybrid-learned":
        return dict(learned or DEFAULT_WEIGHTS)
    if method == "hybrid":
        return dict(DEFAULT_WEIGHTS)
    if method == "cf":
        return {f: (w if f in COLLAB else 0.0) for f, w in DEFAULT_WEIGHTS.items()}
    return {f: (0.0 if f in COLLAB or f == "novelty" else w) for f, w in DEFAULT_WEIGHTS.items()}


def _fit(conn: sqlite3.Connection, config: "Config", train_sets: dict[int, list[int]]):
    """(CF embeddings, learned weights) from the training sets; (None, None) without torch."""
    if importlib.util.find_spec("torch") is None:
        return None, None
    from djml.models.cf import fit_sets
    from djml.models.rank_weights import fit_set_weights

    model = fit_sets(train_sets)
    fitted = fit_set_weights(conn, config, train_sets)
    return (model.embeddings() if model is not None else None), (fitted or {}).get("weights")


def evaluate_recommendations(
    conn: sqlite3.Connection, config: "Config", k: int = 10, *, max_cases: int | None = None
) -> dict[str, Any]:
    """Metrics per method (see module docstring) plus a Markdown ``table`` and ``cases``."""
    sets = load_sets(conn)
    cases = [(set_id, items) for set_id, items in sets.items() if len(items) >= 3]
    if max_cases is not None:
        cases = cases[:max_cases]
    if not cases:
        return {"cases": 0, "methods": {}, "table": "no set with at least 3 tracks to evaluate on"}
    held = {set_id for set_id, _ in cases}
    train_sets = {sid: (items[:-1] if sid in held else items) for sid, items in sets.items()}
    stats = SetStats(train_sets.values())
    cf, learned = _fit(conn, config, train_sets)
    indexes = {space: index.load(conn, config, space) for space in index.SPACES}
    catalogue = conn.execute("SELECT COUNT(*) FROM items WHERE kind = 'track'").fetchone()[0]
    audio = indexes.get("audio")
    results: dict[str, dict[str, float]] = {}
    for method in METHODS:
        sources = Sources(stats=stats if method != "content" else SetStats([]),
                          cf=cf if method != "content" else None, indexes=indexes,
                          weights=_weights(method, learned), diversity=DIVERSITY if method != "cf" else 0.0)
        gains, hits, recommended, diversities = [], [], set(), []
        for _, items in cases:
            seed, target = items[-2], items[-1]
            recs = recommend(conn, config, seed, n=k, bpm_tolerance=None, key_mode="any",
                             exclude=items[:-2], sources=sources)
            ids = [r["id"] for r in recs]
            rank = ids.index(target) if target in ids else None
            hits.append(rank is not None)
            gains.append(0.0 if rank is None else 1.0 / math.log2(rank + 2))
            recommended.update(ids)
            if audio is not None and len(ids) > 1:
                diversities.append(_intra_list_diversity(audio, ids))
        hr = float(np.mean(hits))
        results[method] = {
            f"precision@{k}": hr / k, f"recall@{k}": hr, f"ndcg@{k}": float(np.mean(gains)), f"hr@{k}": hr,
            "coverage": len(recommended) / max(catalogue, 1),
            "diversity": float(np.mean(diversities)) if diversities else float("nan"),
        }
    return {"cases": len(cases), "k": k, "cf_trained": cf is not None, "learned_weights": learned,
            "methods": results,
            "table": _table(results, k)}


def _intra_list_diversity(audio: index.SpaceIndex, ids: list[int]) -> float:
    vectors = list(audio.unit_vectors(ids).values())
    if len(vectors) < 2:
        return float("nan")
    return float(np.mean([1.0 - float(a @ b) for a, b in combinations(vectors, 2)]))


def _table(results: dict[str, dict[str, float]], k: int) -> str:
    cols = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"hr@{k}", "coverage", "diversity"]
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for method, metrics in results.items():
        lines.append(f"| {method} | " + " | ".join(f"{metrics[c]:.4f}" for c in cols) + " |")
    return "\n".join(lines)
