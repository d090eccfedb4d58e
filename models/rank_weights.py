"""Learning the hybrid ranker's weights from the DJ's own sets (learning to rank).

Every transition A → B in a set is a choice: out of everything the ranker would have offered
after A, the DJ took B. The sets are split in two: *evidence* sets feed the transition
counts and the BPR-MF model, exactly as they will at recommendation time, and the
transitions of the *query* sets become pairwise examples (B should outscore the top tracks
the ranker put above it). Splitting matters: scoring a transition with statistics that
include that very transition would teach the ranker to trust the collaborative terms far
more than they deserve on a new seed.

The weights go to ``<models_dir>/rank_weights.json``; :func:`djml.models.recommend.load_set_weights`
reads them and accept/skip feedback then refines them. Imports torch (via the MF model):
call from the daemon or `djml recommend --train`, never from a query path.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import TYPE_CHECKING, Any

import numpy as np

from djml.models.cf import fit_sets
from djml.models.transitions import SetStats, load_sets
from djml.models.recommend import (
    DEFAULT_WEIGHTS, FEATURES, WEIGHTS_FILE, Sources, load_indexes, candidate_features, fit_pairwise,
)

if TYPE_CHECKING:
    from djml.config import Config

SET_PRIOR = 0.5      # L2 pull towards DEFAULT_WEIGHTS (weaker than for clicks: many examples)
NEGATIVES = 5        # passed-over tracks per transition: the ones ranked highest
MIN_SETS = 4


def fit_set_weights(
    conn: sqlite3.Connection, config: "Config", sets: dict[int, list[int]], *,
    holdout: float = 0.25, max_cases: int = 300, seed: int = 0,
) -> dict[str, Any] | None:
    """{"weights", "pairs", "cases"} learned from ``sets`` (None with fewer than 4 sets or
    no usable transition)."""
    if len(sets) < MIN_SETS:
        return None
    rng = np.random.default_rng(seed)
    ids = sorted(sets)
    rng.shuffle(ids)
    n_query = max(1, int(round(holdout * len(ids))))
    query, evidence = ids[:n_query], {sid: sets[sid] for sid in ids[n_query:]}
    model = fit_sets(evidence)
    sources = Sources(stats=SetStats(evidence.values()), cf=model.embeddings() if model else None,
                      indexes=load_indexes(conn, config, ("audio", "text")), weights=dict(DEFAULT_WEIGHTS))
    cases = [(a, b) for sid in query for a, b in zip(sets[sid], sets[sid][1:]) if a != b]
    if len(cases) > max_cases:
        cases = [cases[i] for i in rng.choice(len(cases), size=max_cases, replace=False)]
    diffs = []
    for a, b in cases:
        scored = candidate_features(conn, sources, a, include=[b])
        chosen = next((s for s in scored if s["id"] == b), None)
        if chosen is None:
            continue
        others = sorted((s for s in scored if s["id"] != b), key=lambda s: -s["score"])[:NEGATIVES]
        diffs += [[chosen["features"][f] - o["features"][f] for f in FEATURES] for o in others]
    if not diffs:
        return None
    weights = fit_pairwise(np.asarray(diffs), DEFAULT_WEIGHTS, SET_PRIOR)
    return {"weights": weights, "pairs": len(diffs), "cases": len(cases)}


def train_from_library(conn: sqlite3.Connection, config: "Config") -> dict[str, Any]:
    """Fit on every set in the library and save the weights (see module docstring)."""
    sets = load_sets(conn)
    fitted = fit_set_weights(conn, config, sets)
    if fitted is None:
        return {"trained": False, "reason": f"need at least {MIN_SETS} sets with transitions", "sets": len(sets)}
    folder = config.models_dir
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{WEIGHTS_FILE}.tmp{os.getpid()}"
    tmp.write_text(json.dumps({**fitted, "sets": len(sets)}), encoding="utf-8")
    os.replace(tmp, folder / WEIGHTS_FILE)
    return {"trained": True, "sets": len(sets), **fitted}
