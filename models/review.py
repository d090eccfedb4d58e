"""Review-queue ordering: what should the user label next to teach the model fastest?

Uncertainty sampling alone keeps asking about near-duplicates (ten almost identical
kicks the model is equally unsure about); pure diversity ignores what the model already
knows. The queue therefore picks greedily: each next item maximises

    uncertainty(item) - DIVERSITY * max cosine similarity to the items already picked,

over standardised feature vectors. Before any model exists every uncertainty is 1, so the
same rule degrades gracefully into farthest-point sampling: a spread of the library.
Only numpy + sqlite3: the daemon answers ``review.list`` from this on every request.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import numpy as np

from djml.models import KIND_OF_TASK, TASKS
from djml.models import labels as label_sources
from djml.models.features import load_rows

if TYPE_CHECKING:
    from djml.config import Config

DIVERSITY = 0.5
POOL = 2000          # most uncertain candidates considered per task (bounded cost)
VECTOR_SPACE = {"sample": "sample", "track": "audio"}


def order(uncertainty: np.ndarray, vectors: np.ndarray | None, k: int, diversity: float = DIVERSITY) -> list[int]:
    """Indices of ``k`` items in teaching order (see module docstring). ``vectors`` may be
    None (or have rows of zeros) when items have no features: plain uncertainty order."""
    n = len(uncertainty)
    k = min(k, n)
    u = np.asarray(uncertainty, np.float64)
    if vectors is None or diversity <= 0 or n == 0:
        return [int(i) for i in np.argsort(-u, kind="stable")[:k]]
    V = np.asarray(vectors, np.float64)
    std = V.std(axis=0)
    # Shrunk standardisation: near-constant columns are not blown up into pure noise.
    V = (V - V.mean(axis=0)) / (std + np.median(std) + 1e-9)
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    V = np.divide(V, norms, out=np.zeros_like(V), where=norms > 0)
    closest = np.full(n, -1.0)       # max similarity to anything picked so far (none yet)
    picked: list[int] = []
    available = np.ones(n, bool)
    for _ in range(k):
        score = u - diversity * np.maximum(closest, 0.0)
        score[~available] = -np.inf
        i = int(np.argmax(score))
        picked.append(i)
        available[i] = False
        closest = np.maximum(closest, V @ V[i])
    return picked


def candidates(conn: sqlite3.Connection, config: "Config", task: str) -> list[dict[str, Any]]:
    """Items of the task's kind that need a human, with their uncertainty (1 - confidence;
    1 when nothing predicted them). Excluded: items the user (or an import) labelled, and
    for genre/mood items whose tags already answer; confident predictions unless they
    contradict a weak folder label."""
    kind = KIND_OF_TASK[task]
    known = label_sources.current_labels(conn, task)
    settled = {i for i, (_, source) in known.items() if source in label_sources.STRONG_SOURCES}
    if task in ("genre", "mood"):
        settled |= set(label_sources.training_labels(conn, task))
    rows = conn.execute(
        "SELECT i.id, p.label, p.confidence, p.top, p.unsure, p.model_version, a.bpm, a.key,"
        " a.bpm_ambiguous, a.item_id IS NOT NULL AS analysed"
        " FROM items i LEFT JOIN predictions p ON p.item_id = i.id AND p.task = ?"
        " LEFT JOIN analyses a ON a.item_id = i.id WHERE i.kind = ?", (task, kind))
    out = []
    for r in rows:
        if r["id"] in settled:
            continue
        weak = known.get(r["id"])  # a folder/tag label; strong ones were excluded above
        if r["label"] is None:
            unc, reasons = 1.0, ["no prediction yet"]
        else:
            unc = 1.0 - float(r["confidence"])
            reasons = []
            if r["confidence"] < config.review_threshold:
                reasons.append(f"low confidence {r['confidence']:.2f}")
            if weak and weak[0] != r["label"]:
                reasons.append(f"model says {r['label']}, {weak[1]} says {weak[0]}")
                unc = max(unc, 0.5)
            if kind == "track":
                if r["bpm"] is None:
                    reasons.append("missing BPM")
                elif r["bpm_ambiguous"]:
                    reasons.append("BPM octave ambiguous")
                if r["key"] is None:
                    reasons.append("missing key")
            if not reasons:
                continue
        out.append({"item_id": r["id"], "task": task, "label": r["label"],
                    "confidence": r["confidence"], "top": json.loads(r["top"]) if r["top"] else [],
                    "model_version": r["model_version"], "reasons": reasons, "uncertainty": unc})
    return out


def queue(conn: sqlite3.Connection, config: "Config", task: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The review queue, best teaching value first; one task or all tasks interleaved by score."""
    tasks = [task] if task else list(TASKS)
    picked: list[dict[str, Any]] = []
    for t in tasks:
        cands = sorted(candidates(conn, config, t), key=lambda c: (-c["uncertainty"], c["item_id"]))[:POOL]
        if not cands:
            continue
        space = VECTOR_SPACE[KIND_OF_TASK[t]]
        rows = {r.id: r for r in load_rows(conn, [c["item_id"] for c in cands], spaces=(space,))}
        dims = {r.vectors[space].size for r in rows.values() if space in r.vectors}
        vectors = None
        if len(dims) == 1:
            dim = dims.pop()
            vectors = np.stack([rows[c["item_id"]].vectors.get(space, np.zeros(dim, np.float32))
                                for c in cands])
        for rank, i in enumerate(order(np.array([c["uncertainty"] for c in cands]), vectors, limit)):
            c = cands[i]
            r = rows.get(c["item_id"])
            picked.append({**c, "rank": rank, "path": r.path if r else None,
                           "artist": r.artist if r else None, "title": r.title if r else None})
    if len(tasks) > 1:  # interleave tasks: each task's own rank first, then uncertainty
        picked.sort(key=lambda c: (c["rank"], -c["uncertainty"]))
    return picked[:limit]
