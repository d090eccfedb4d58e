"""What to play next: a hybrid ranker with explanations that carry their numbers.

Candidates are the union of
  * sound-alikes from the ``audio`` (and ``text``) similarity index,
  * tracks that followed / shared a set with the seed (:mod:`djml.models.transitions`),
  * neighbours in the learned set-embedding space (:mod:`djml.models.cf`, numpy only),
  * mixable tracks straight from SQL (BPM window × compatible keys), so the filters never
    leave the list empty just because the nearest sound-alikes are in another key.
Hard filters (BPM tolerance incl. half/double time, key mode, energy direction) come from
:mod:`djml.compat`. Every survivor gets feature scores in [0, 1]; the score is their
weighted sum (:data:`DEFAULT_WEIGHTS`, re-fitted on the DJ's sets by `djml recommend --train`
and refined by accept/skip feedback, see :func:`learned_weights`), and
the list is picked greedily with a diversity penalty (maximal marginal relevance) so ten
near-identical tracks do not crowd out everything else. With no sets yet, the collaborative
features are zero for everyone and the ranking is content + compatibility: cold start
needs no special case.

Imports: numpy, hnswlib, sqlite3 — never torch/sklearn/librosa (CLI one-shot path).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from djml import compat, index, keys
from djml.cues import Cue, cues_from_json
from djml.models.cf import CFEmbeddings, cf_dir
from djml.models.transitions import SetStats
from djml.query import resolve, resolve_item

if TYPE_CHECKING:
    from djml.config import Config

# Starting weights (sum 1). Collaborative evidence is the strongest single signal once the
# DJ has sets; content (timbre) decides among mixable tracks before that; compatibility
# terms separate good from merely allowed mixes; novelty is a light nudge to dig deeper.
DEFAULT_WEIGHTS: dict[str, float] = {
    "content": 0.20,     # cosine similarity of audio feature vectors
    "text": 0.05,        # cosine similarity of text embeddings (artist/title/genre)
    "transition": 0.30,  # P(next = candidate | seed) in the DJ's sets
    "cooccur": 0.15,     # sets containing both (cosine of set membership)
    "mf": 0.10,          # learned set-embedding similarity (BPR-MF)
    "harmonic": 0.08,    # compat.harmonic score
    "tempo": 0.06,       # compat.tempo score
    "energy": 0.04,      # compat.energy score
    "novelty": 0.02,     # rarely played in sets
}
FEATURES = tuple(DEFAULT_WEIGHTS)
COLLAB = ("transition", "cooccur", "mf")
DIVERSITY = 0.15         # MMR: penalty × highest timbre similarity to an already chosen track
FEEDBACK_PRIOR = 2.0     # L2 pull of learned weights towards the defaults
ACCEPTED = "recommend_accepted"  # feedback event read by learned_weights
WEIGHTS_FILE = "rank_weights.json"  # in models_dir, written by djml.models.rank_weights
_POOL = 250              # mixable tracks fetched by SQL, nearest BPM first
_NEIGHBOURS = 120        # sound-alikes fetched from the index


class RecommendError(ValueError):
    """The seed cannot be resolved or the options are invalid (message says which)."""


@dataclass
class Sources:
    """Everything the ranker reads besides the database. Built once per request by the CLI,
    cached by the daemon, or injected by the evaluation (training-only sets)."""

    stats: SetStats
    cf: CFEmbeddings | None
    indexes: dict[str, index.SpaceIndex | None] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    diversity: float = DIVERSITY

    @classmethod
    def from_library(
        cls, conn: sqlite3.Connection, config: "Config", seed: int | None = None, kind: str | None = None,
        known: dict[str, dict[str, Any]] | None = None,
    ) -> "Sources":
        """Everything from the library; with ``seed`` only the sets around it are loaded and
        with ``kind`` only the indexes that kind of seed uses (much cheaper for a one-shot).
        ``known``: :func:`djml.index.fingerprints` the caller read already (see load_indexes)."""
        spaces = {"track": ("audio", "text"), "sample": ("sample",)}.get(kind or "", tuple(index.SPACES))
        return cls(
            stats=SetStats.around(conn, seed) if seed is not None else SetStats.from_library(conn),
            cf=CFEmbeddings.load(cf_dir(config)),
            indexes=load_indexes(conn, config, spaces, known),
            weights=learned_weights(conn, load_set_weights(config))[0],
        )


def load_indexes(
    conn: sqlite3.Connection, config: "Config", spaces: Iterable[str] = tuple(index.SPACES),
    known: dict[str, dict[str, Any]] | None = None,
) -> dict[str, index.SpaceIndex | None]:
    """The indexes of ``spaces``, checked against one scan of the vectors table, or against
    ``known`` fingerprints of the library as it is now (the daemon keeps them while nothing
    was committed: at 100k items the scan is a fifth of a recommendation)."""
    spaces = tuple(spaces)
    known = known if known is not None else index.fingerprints(conn, spaces)
    return {space: index.load(conn, config, space, known=known) for space in spaces}


def recommend(
    conn: sqlite3.Connection,
    config: "Config",
    ref: str | int,
    n: int = 10,
    bpm_tolerance: float | None = 6.0,
    key_mode: str = "relaxed",
    energy: str | None = None,
    *,
    exclude: Iterable[int] = (),
    sources: Sources | None = None,
    known: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Up to ``n`` recommendations after ``ref`` (item id, path, or "artist - title" text),
    best first. Each dict has id, artist, title, path, bpm, camelot, energy, score,
    features (name → value in [0, 1]), reasons (texts with numbers) and explanation.
    ``exclude``: item ids never to suggest (e.g. what is already in the set being built).
    A sample as seed gives similar samples instead."""
    _validate(n, bpm_tolerance, key_mode, energy)
    seed_id = resolve_item(conn, ref)
    if seed_id is None:
        raise RecommendError(f"no item matches {ref!r} (give an item id, a file path or artist/title words)")
    seed = _facts(conn, [seed_id])[seed_id]
    sources = sources or Sources.from_library(conn, config, seed_id, seed["kind"], known)
    if seed["kind"] == "sample":
        return _similar_samples(conn, sources, seed, n, {int(i) for i in exclude})
    candidates = _candidates(conn, sources, seed, bpm_tolerance, key_mode) - {int(i) for i in exclude}
    scored = score_candidates(conn, sources, seed, candidates, bpm_tolerance, key_mode, energy)
    chosen = _select([s for s in scored if s["ok"]], sources, n)
    return _with_paths(conn, [_describe(s, seed, sources.weights, i + 1) for i, s in enumerate(chosen)])


def recommend_result(
    conn: sqlite3.Connection, config: "Config", ref: str | int, n: int = 10,
    bpm_tolerance: float | None = 6.0, key_mode: str = "relaxed", energy: str | None = None,
    *, known: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What `djml recommend` and the daemon's ``recommend`` method answer: the seed it used
    (and how the reference found it: several items may match the words), the suggestions,
    and when fewer than ``n`` pass the filters, which filter removed the candidates.
    ``known``: the index fingerprints, when the caller has them (see load_indexes)."""
    _validate(n, bpm_tolerance, key_mode, energy)
    found = resolve(conn, ref)
    if found.item_id is None:
        raise RecommendError(f"no item matches {ref!r} (give an item id, a file path or artist/title words)")
    rows = recommend(conn, config, found.item_id, n, bpm_tolerance, key_mode, energy, known=known)
    facts = _facts(conn, [found.item_id])[found.item_id]
    seed = {"id": found.item_id, "name": found.name, "kind": facts["kind"], "artist": facts["artist"],
            "title": facts["title"], "bpm": facts["bpm"],
            "camelot": keys.camelot(facts["key"]) if facts["key"] is not None else None,
            "key": keys.standard(facts["key"]) if facts["key"] is not None else None,
            "energy": facts["energy"], **_with_paths(conn, [{"id": found.item_id}])[0],
            "resolved": found.as_dict()}
    shortfall = None
    if len(rows) < n:
        shortfall = (filter_report(conn, facts, bpm_tolerance, key_mode, energy) if facts["kind"] == "track"
                     else {"filter": None, "reason": "no more similar samples in the library yet"})
    return {"seed": seed, "items": rows, "requested": n, "shortfall": shortfall,
            "options": {"bpm_tolerance": bpm_tolerance, "key_mode": key_mode, "energy": energy}}


def filter_report(conn: sqlite3.Connection, seed: dict[str, Any], bpm_tolerance: float | None,
                  key_mode: str, energy: str | None) -> dict[str, Any]:
    """How many of the other present tracks pass the tempo filter, then also the key
    filter, then also the energy direction, and which filter emptied (or most shrank) the
    list: the hint must blame the filter that really removed the candidates."""
    rows = conn.execute(
        "SELECT a.bpm, a.key, a.energy FROM items i JOIN analyses a ON a.item_id = i.id"
        " WHERE i.kind = 'track' AND i.id != ? AND EXISTS"
        " (SELECT 1 FROM locations l WHERE l.item_id = i.id AND l.status = 'ok')", (seed["id"],)).fetchall()
    stages = [
        ("tempo", f"within ±{bpm_tolerance:g}% BPM (or half/double time)" if bpm_tolerance else "any tempo",
         lambda r: compat.tempo(seed["bpm"], r["bpm"], bpm_tolerance).ok),
        ("key", f"in a compatible key ({key_mode})", lambda r: compat.harmonic(seed["key"], r["key"], key_mode).ok),
        ("energy", f"with energy {energy}" if energy else "any energy",
         lambda r: compat.energy(seed["energy"], r["energy"], energy).ok),
    ]
    counts = {"tracks": len(rows)}
    left, culprit, biggest = rows, None, 0
    for name, _, passes in stages:
        kept = [r for r in left if passes(r)]
        counts[name] = len(kept)
        if len(left) - len(kept) > biggest:
            culprit, biggest = name, len(left) - len(kept)
        if left and not kept:
            culprit = name
            break
        left = kept
    labels = {name: text for name, text, _ in stages}
    if not rows:
        culprit, reason = None, "no other tracks with a present file in the library yet"
    elif culprit is None:
        reason = f"the library has only {len(rows)} other track(s)"
    elif counts.get(culprit) == 0:
        reason = f"none of the {len(left)} candidate track(s) is {labels[culprit]}"
    else:
        reason = (f"{len(left)} track(s) pass every filter; the {culprit} filter ({labels[culprit]})"
                  f" removed {biggest}")
    return {"filter": culprit, "reason": reason, "counts": counts}


def _validate(n: int, bpm_tolerance: float | None, key_mode: str, energy: str | None) -> None:
    if n < 1:
        raise RecommendError(f"n must be at least 1, got {n}")
    if bpm_tolerance is not None and not 0 < bpm_tolerance <= 50:
        raise RecommendError(f"BPM tolerance must be between 0 and 50 %, got {bpm_tolerance}")
    if key_mode not in compat.KEY_MODES:
        raise RecommendError(f"key mode must be one of {', '.join(compat.KEY_MODES)}, got {key_mode!r}")
    if energy is not None and energy not in compat.ENERGY_DIRECTIONS:
        raise RecommendError(f"energy must be one of {', '.join(compat.ENERGY_DIRECTIONS)}, got {energy!r}")


# -- gathering -----------------------------------------------------------------------------

_FACTS_SQL = """
    SELECT i.id, i.kind, i.artist, i.title, a.bpm, a.key, a.energy, a.sample_type, a.data,
      EXISTS (SELECT 1 FROM locations l WHERE l.item_id = i.id AND l.status = 'ok') AS present
    FROM items i LEFT JOIN analyses a ON a.item_id = i.id WHERE i.id IN ({marks})
"""
_PATH_SQL = """
    SELECT i.id,
      (SELECT l.path FROM locations l WHERE l.item_id = i.id
        ORDER BY l.status = 'ok' DESC, l.id LIMIT 1) AS path,
      EXISTS (SELECT 1 FROM locations l WHERE l.item_id = i.id AND l.status = 'ok') AS present
    FROM items i WHERE i.id IN ({marks})
"""


def _facts(conn: sqlite3.Connection, ids: Iterable[int], sql: str = _FACTS_SQL) -> dict[int, dict[str, Any]]:
    ids = list(ids)
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk):
            out[row["id"]] = dict(row)
    return out


def _with_paths(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add path and missing flag, only for the rows that are shown (two subqueries each)."""
    paths = _facts(conn, [r["id"] for r in rows], _PATH_SQL)
    for r in rows:
        r["path"] = paths[r["id"]]["path"]
        r["missing"] = not paths[r["id"]]["present"]
    return rows


def _pool(conn: sqlite3.Connection, seed: dict[str, Any], bpm_tolerance: float | None, key_mode: str) -> list[int]:
    """Mixable tracks by SQL alone, nearest BPM first (uses the analyses indexes)."""
    where, params = ["i.kind = 'track'", "i.id != ?"], [seed["id"]]
    bpm = seed.get("bpm")
    if bpm and bpm_tolerance is not None:
        windows = []
        for factor, _, _ in compat.TEMPO_FACTORS:
            centre = bpm / factor
            windows.append("a.bpm BETWEEN ? AND ?")
            params += [centre * (1 - bpm_tolerance / 100), centre * (1 + bpm_tolerance / 100)]
        where.append("(" + " OR ".join(windows) + ")")
    if seed.get("key") is not None and key_mode != compat.ANY:
        # by Camelot name (stored with every key): the (camelot, bpm) index then answers
        # key and tempo window alone, ~6x cheaper at 100k items than reading the rows
        allowed = [keys.camelot(k) for k in compat.compatible_keys(seed["key"], key_mode)]
        where.append(f"a.camelot IN ({','.join('?' * len(allowed))})")
        params += allowed
    order = "ABS(a.bpm - ?)" if bpm else "i.id"
    if bpm:
        params.append(bpm)
    sql = (f"SELECT i.id FROM items i JOIN analyses a ON a.item_id = i.id WHERE {' AND '.join(where)}"
           f" ORDER BY {order} LIMIT {_POOL}")
    return [r[0] for r in conn.execute(sql, params)]


def _candidates(
    conn: sqlite3.Connection, sources: Sources, seed: dict[str, Any], bpm_tolerance: float | None, key_mode: str
) -> set[int]:
    seed_id = seed["id"]
    found: set[int] = set(_pool(conn, seed, bpm_tolerance, key_mode))
    for space in ("audio", "text"):
        loaded = sources.indexes.get(space)
        if loaded is not None:
            try:
                found.update(i for i, _ in index.search_loaded(conn, loaded, seed_id, _NEIGHBOURS))
            except index.VectorIndexError:
                pass  # the seed has no vector in this space (not analysed / not embedded yet)
    found.update(sources.stats.transitions(seed_id))
    found.update(sources.stats.cooccurrences(seed_id))
    if sources.cf is not None:
        found.update(sources.cf.similar(seed_id, _NEIGHBOURS))
    found.discard(seed_id)
    return found


def candidate_features(
    conn: sqlite3.Connection, sources: Sources, seed_id: int, include: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """Scored candidates for a track seed with no hard filters, plus ``include`` (e.g. the
    track the DJ really played next): the raw material for learning the weights."""
    seed = _facts(conn, [seed_id]).get(seed_id)
    if seed is None or seed["kind"] != "track":
        return []
    ids = _candidates(conn, sources, seed, None, compat.ANY) | {int(i) for i in include}
    return score_candidates(conn, sources, seed, ids, None, compat.ANY, None)


# -- scoring -------------------------------------------------------------------------------

def score_candidates(
    conn: sqlite3.Connection, sources: Sources, seed: dict[str, Any], candidate_ids: Iterable[int],
    bpm_tolerance: float | None = 6.0, key_mode: str = "relaxed", energy: str | None = None,
) -> list[dict[str, Any]]:
    """Feature scores, filter verdict and reasons for each candidate track (never the seed)."""
    seed_id = seed["id"]
    ids = sorted({int(i) for i in candidate_ids} - {seed_id})
    facts = _facts(conn, ids)
    ids = [i for i in ids if i in facts and facts[i]["kind"] == "track"]
    audio = _unit_vectors(sources.indexes.get("audio"), [seed_id, *ids])
    text = _unit_vectors(sources.indexes.get("text"), [seed_id, *ids])
    transitions = sources.stats.transitions(seed_id)
    trans_scores = sources.stats.transition_scores(seed_id)
    together = sources.stats.cooccurrences(seed_id)
    co_scores = sources.stats.cooccurrence_scores(seed_id)
    mf = sources.cf.similar(seed_id, len(sources.cf.item_ids)) if sources.cf is not None else {}
    weights = sources.weights
    order = [(f, weights.get(f, 0.0)) for f in FEATURES]
    audio_seed = seed_id in audio
    out = []
    for cid in ids:
        cand = facts[cid]
        harmonic = compat.harmonic(seed["key"], cand["key"], key_mode)
        tempo = compat.tempo(seed["bpm"], cand["bpm"], bpm_tolerance)
        energy_match = compat.energy(seed["energy"], cand["energy"], energy)
        feats = {
            "content": _cosine(audio, seed_id, cid),
            "text": _cosine(text, seed_id, cid),
            "transition": trans_scores.get(cid, 0.0),
            "cooccur": co_scores.get(cid, 0.0),
            "mf": mf.get(cid, 0.0),
            "harmonic": harmonic.score,
            "tempo": tempo.score,
            "energy": energy_match.score,
            "novelty": sources.stats.novelty(cid),
        }
        out.append({
            "id": cid, "score": sum(w * feats[f] for f, w in order), "features": feats,
            # a track whose files have all vanished cannot be played next
            "ok": harmonic.ok and tempo.ok and energy_match.ok and bool(cand["present"]),
            "_vec": audio.get(cid),  # for the diversity penalty in _select
            # what _describe needs to explain the few rows that are finally shown
            "_why": (cand, harmonic, tempo, energy_match, transitions.get(cid, 0), together.get(cid, 0),
                     audio_seed and cid in audio),
        })
    return out


def _describe(s: dict[str, Any], seed: dict[str, Any], weights: dict[str, float], rank: int) -> dict[str, Any]:
    """The public row: display fields, rounded numbers and the reasons."""
    cand, harmonic, tempo, energy_match, followed, together, audio_known = s["_why"]
    reasons = _reasons(s["features"], followed, together, harmonic, tempo, energy_match, weights, audio_known)
    if (hint := mix_hint(seed.get("data"), cand.get("data"))) is not None:
        reasons.append(hint)
    key = cand["key"]
    return {
        "id": s["id"], "rank": rank, "artist": cand["artist"], "title": cand["title"], "bpm": cand["bpm"],
        "camelot": keys.camelot(key) if key is not None else None,
        "key": keys.standard(key) if key is not None else None, "energy": cand["energy"],
        "score": round(s["score"], 4), "features": {f: round(v, 4) for f, v in s["features"].items()},
        "reasons": reasons, "explanation": " · ".join(reasons),
    }


def mix_hint(seed_data: str | None, cand_data: str | None) -> str | None:
    """'mix out at bar 97 → their intro is 32 bars' from the two tracks' stored cues (the
    analyses' JSON): where to start the candidate, and how long its intro gives you to blend.
    None unless the seed has a mix-out cue and the candidate's cues say where its intro ends."""
    out = _first_cues(seed_data).get("mix_out")
    theirs = _first_cues(cand_data)
    intro_end, start = theirs.get("intro_end"), theirs.get("mix_in")
    if out is None or intro_end is None:
        return None
    bars = intro_end.bar - (start.bar if start is not None else 1)
    return f"mix out at bar {out.bar} → their intro is {bars} bar{'s' if bars != 1 else ''}"


def _first_cues(data: str | None) -> dict[str, Cue]:
    """{kind: its first cue} from an analysis' stored JSON."""
    try:
        stored = json.loads(data).get("cues") if data else None
    except (ValueError, AttributeError):
        return {}
    first: dict[str, Cue] = {}
    for cue in cues_from_json(stored):
        first.setdefault(cue.kind, cue)
    return first


def _unit_vectors(loaded: index.SpaceIndex | None, ids: list[int]) -> dict[int, np.ndarray]:
    return loaded.unit_vectors(ids) if loaded is not None else {}


def _cosine(vectors: dict[int, np.ndarray], a: int, b: int) -> float:
    if a not in vectors or b not in vectors:
        return 0.0
    return max(0.0, float(vectors[a] @ vectors[b]))


def _reasons(
    feats: dict[str, float], followed: int, together: int, harmonic: compat.Match, tempo: compat.Match,
    energy: compat.Match, weights: dict[str, float], audio_known: bool,
) -> list[str]:
    """Readable reasons, every one with its number: compatibility first (what a DJ checks
    before anything else), then the evidence ordered by how much it added to the score."""
    reasons = [harmonic.reason, tempo.reason]
    evidence: list[tuple[float, str]] = []
    if audio_known:
        evidence.append((weights.get("content", 0) * feats["content"], f"timbre similarity {feats['content']:.2f}"))
    if feats["text"] > 0:
        evidence.append((weights.get("text", 0) * feats["text"], f"tag/text similarity {feats['text']:.2f}"))
    if followed:
        evidence.append((weights.get("transition", 0) * feats["transition"] + 1,
                         f"followed it in {followed} of your sets"))
    if together and together > followed:
        evidence.append((weights.get("cooccur", 0) * feats["cooccur"] + 0.5,
                         f"in {together} of your sets together"))
    if feats["mf"] > 0.6:
        evidence.append((weights.get("mf", 0) * feats["mf"], f"set-history similarity {feats['mf']:.2f}"))
    evidence.sort(key=lambda e: -e[0])
    reasons += [text for _, text in evidence]
    if energy.reason != "energy unknown":
        reasons.append(energy.reason)
    return reasons


def _select(scored: list[dict[str, Any]], sources: Sources, n: int) -> list[dict[str, Any]]:
    """Greedy maximal-marginal-relevance pick: score minus ``diversity`` × the highest timbre
    similarity to anything already picked. Ties break by id for stable output."""
    scored.sort(key=lambda s: (-s["score"], s["id"]))
    if sources.diversity <= 0 or len(scored) <= 1:
        return scored[:n]
    shortlist = scored[: max(4 * n, 40)]
    scores = np.array([s["score"] for s in shortlist])
    has_vec = np.array([s.get("_vec") is not None for s in shortlist])
    dim = next((len(s["_vec"]) for s in shortlist if s.get("_vec") is not None), 1)
    vecs = np.stack([s["_vec"] if s.get("_vec") is not None else np.zeros(dim, np.float32) for s in shortlist])
    sims = np.clip(vecs @ vecs.T, 0.0, None)  # zero rows for tracks without a vector: no penalty
    closest = np.zeros(len(shortlist))
    free = np.ones(len(shortlist), dtype=bool)
    picked: list[int] = []
    while free.any() and len(picked) < n:
        gain = np.where(free, scores - sources.diversity * closest, -np.inf)
        best = int(np.argmax(gain))  # ties keep the (score, id) order of the list
        picked.append(best)
        free[best] = False
        if has_vec[best]:
            closest = np.maximum(closest, sims[best])
    return [shortlist[j] for j in picked]


# -- samples -------------------------------------------------------------------------------

def _similar_samples(
    conn: sqlite3.Connection, sources: Sources, seed: dict[str, Any], n: int, exclude: set[int]
) -> list[dict[str, Any]]:
    """Samples that sound like the seed sample; same type and nearby pitch rank higher."""
    loaded = sources.indexes.get("sample")
    if loaded is None:
        return []
    try:
        neighbours = index.search_loaded(conn, loaded, seed["id"], max(5 * n, 50) + len(exclude))
    except index.VectorIndexError:
        return []
    facts = _facts(conn, [i for i, _ in neighbours])
    classes = _sample_classes(conn, [seed["id"], *facts])
    seed_class = classes.get(seed["id"]) or seed["sample_type"]
    seed_note = _midi(seed)
    out = []
    for cid, sim in neighbours:
        cand = facts.get(cid)
        if cand is None or cand["kind"] != "sample" or cid == seed["id"] or cid in exclude or not cand["present"]:
            continue
        similarity = max(0.0, sim)
        reasons = [f"timbre similarity {similarity:.2f}"]
        cand_class = classes.get(cid) or cand["sample_type"]
        same_type = bool(seed_class) and cand_class == seed_class
        if same_type:
            reasons.append(f"same type: {cand_class}")
        pitch = 0.0
        cand_note = _midi(cand)
        if seed_note is not None and cand_note is not None:
            diff = cand_note - seed_note
            pitch = max(0.0, 1.0 - abs(diff) / 12.0)
            reasons.append(f"pitch {diff:+.0f} semitones")
        score = 0.75 * similarity + 0.15 * same_type + 0.10 * pitch
        out.append({
            "id": cid, "artist": cand["artist"], "title": cand["title"],
            "sample_type": cand["sample_type"], "class": cand_class, "score": round(score, 4),
            "features": {"content": round(similarity, 4), "same_type": float(same_type), "pitch": round(pitch, 4)},
            "reasons": reasons, "explanation": " · ".join(reasons),
        })
    out.sort(key=lambda s: (-s["score"], s["id"]))
    return _with_paths(conn, [{**s, "rank": i + 1} for i, s in enumerate(out[:n])])


def _sample_classes(conn: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
    """Sample class (kick, snare, …): the user's label, else the model's prediction."""
    marks = ",".join("?" * len(ids))
    found = {r[0]: r[1] for r in conn.execute(
        f"SELECT item_id, label FROM predictions WHERE task = 'sample_type' AND item_id IN ({marks})", ids)}
    found.update({r[0]: r[1] for r in conn.execute(  # ordered by id: the newest label wins
        f"SELECT item_id, label FROM labels WHERE task = 'sample_type' AND undone_at IS NULL"
        f" AND item_id IN ({marks}) ORDER BY id", ids)})
    return found


def _midi(facts: dict[str, Any]) -> float | None:
    """MIDI note number from the analysis pitch (Hz), if the sample is tonal."""
    try:
        hz = json.loads(facts.get("data") or "{}").get("pitch_hz")
    except ValueError:
        return None
    return 69 + 12 * math.log2(hz / 440.0) if hz and hz > 0 else None


# -- learning from feedback ----------------------------------------------------------------

def learned_weights(
    conn: sqlite3.Connection, prior: dict[str, float] | None = None
) -> tuple[dict[str, float], int]:
    """Weights adjusted by the user's accept/skip history, and the number of pairs used.

    Each accepted recommendation stores its features and those of the tracks ranked above it
    that were passed over. A pairwise logistic model (accepted should outscore skipped) is
    fitted with an L2 pull towards ``prior`` (the weights learned from the sets when there
    are, else :data:`DEFAULT_WEIGHTS`), so a handful of clicks nudges the weights instead of
    overturning them."""
    prior = dict(prior or DEFAULT_WEIGHTS)
    pairs = []
    for (data,) in conn.execute("SELECT data FROM feedback WHERE event = ?", (ACCEPTED,)):
        try:
            record = json.loads(data)
            accepted = record["features"]
            for skipped in record.get("skipped", []):
                pairs.append([accepted.get(f, 0.0) - skipped["features"].get(f, 0.0) for f in FEATURES])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a malformed event teaches nothing; never fail a recommendation over it
    if not pairs:
        return prior, 0
    return fit_pairwise(np.asarray(pairs, dtype=np.float64), prior, FEEDBACK_PRIOR), len(pairs)


def fit_pairwise(diffs: np.ndarray, prior: dict[str, float], strength: float) -> dict[str, float]:
    """Weights w minimising mean log(1 + exp(−w·d)) + strength·|w − prior|² over rows d =
    features(chosen) − features(passed over), by projected gradient descent. Weights stay ≥ 0
    and keep the prior's total, so the diversity penalty keeps its meaning."""
    p = np.array([prior.get(f, 0.0) for f in FEATURES])
    w = p.copy()
    for _ in range(300):
        margin = np.clip(diffs @ w, -30, 30)
        grad = -(diffs * (1.0 / (1.0 + np.exp(margin)))[:, None]).mean(axis=0) + strength * (w - p)
        w = np.maximum(w - 0.5 * grad, 0.0)
    w *= p.sum() / max(w.sum(), 1e-9)
    return {f: round(float(v), 4) for f, v in zip(FEATURES, w)}


def load_set_weights(config: "Config") -> dict[str, float] | None:
    """Weights fitted on the DJ's own sets by ``djml recommend --train``, if any."""
    try:
        weights = json.loads((config.models_dir / WEIGHTS_FILE).read_text(encoding="utf-8"))["weights"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(weights, dict) or set(weights) != set(FEATURES):
        return None
    return {f: float(weights[f]) for f in FEATURES}


def accept_feedback(
    conn: sqlite3.Connection, config: "Config", ref: str | int, accepted_id: int, **options: Any
) -> dict[str, Any]:
    """What to record when the user takes ``accepted_id`` after ``ref``: the accepted
    track's features and those of every track that was ranked above it (skipped). Returns
    {"seed", "accepted", "data", "skipped": [(id, data)]} for Library.record_recommendation."""
    seed_id = resolve_item(conn, ref)
    if seed_id is None:
        raise RecommendError(f"no item matches {ref!r}")
    if conn.execute("SELECT 1 FROM items WHERE id = ?", (accepted_id,)).fetchone() is None:
        raise RecommendError(f"no item with id {accepted_id}")
    if accepted_id == seed_id:
        raise RecommendError("a track cannot follow itself")
    sources = Sources.from_library(conn, config, seed_id, "track")
    shown = recommend(conn, config, seed_id, sources=sources, **options)
    ids = [r["id"] for r in shown]
    if accepted_id in ids:
        accepted = shown[ids.index(accepted_id)]
        skipped = shown[: ids.index(accepted_id)]
    else:  # picked from elsewhere: everything shown was passed over
        seed = _facts(conn, [seed_id])[seed_id]
        accepted = score_candidates(conn, sources, seed, [accepted_id], **_score_options(options))[0]
        skipped = shown
    data = {"features": accepted["features"], "rank": accepted.get("rank"), "options": options,
            "skipped": [{"id": s["id"], "features": s["features"]} for s in skipped]}
    return {"seed": seed_id, "accepted": accepted_id, "data": data,
            "skipped": [(s["id"], {"features": s["features"], "rank": s["rank"]}) for s in skipped]}


def _score_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options[k] for k in ("bpm_tolerance", "key_mode", "energy") if k in options}
