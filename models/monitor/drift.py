"""Do new items still look like what a model learnt from?

With each model version a *snapshot* is stored: for a few features a DJ can name (BPM,
energy, loudness, low- and high-band energy, brightness, onset rate, pulse clarity;
length and attack for samples) the training items' mean and standard deviation, bin
edges at the training quantiles of the standardised values and the training counts per
bin, plus the training label distribution.

A *check* bins the items added since the last check the same way and, per feature,
measures KL(new ‖ training) on the smoothed bin shares. A feature has *moved* when both

- the bias-corrected KL exceeds ``drift_threshold`` (default 0.1): a shift large enough
  to matter — one standard deviation moves a normal feature by KL ≈ 0.5, a tenth of one
  by ≈ 0.005; and
- a test rejects "same distribution" at 1 %, Bonferroni-corrected over the features and
  the two tests used (chi-square on the two bin-count rows, for any change of shape; a
  z test of the mean, for the plain shift that has far more power): with 20–60 new items
  an empirical KL is biased up by ≈ (bins − 1) / 2n and scatters, and the threshold
  alone would cry wolf.

The predicted classes of the new items are compared with the training labels the same
way. The message names what moved and how ("BPM and low-band energy: new items are
faster and heavier than what bucket v7 learned from").

Pure Python (sqlite3, struct, math): the daemon runs checks without loading a model.
"""

from __future__ import annotations

import bisect
import json
import math
import sqlite3
import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from djml.db import now
from djml.models.monitor.versions import short_name

if TYPE_CHECKING:
    from djml.library import Library

BINS = 8
SMOOTHING = 0.5        # pseudo-count per bin (KL of an empty bin is otherwise infinite)
ALPHA = 0.01           # family-wise significance over the features of one check
MIN_ITEMS = 20         # fewer new items than this: no check yet (they wait for the next)
CHECK_EVERY = 7 * 86400.0
KIND = {"bucket": "track", "genre": "track", "mood": "track", "sample_type": "sample"}


@dataclass(frozen=True)
class Feature:
    name: str
    label: str        # as a sentence names it
    more: str         # new items have higher values: they are …
    less: str
    column: str | None = None      # analyses / items column
    audio: str | None = None       # name in the feature vector (djml.analysis.FEATURE_NAMES)


TRACK_FEATURES = (
    Feature("bpm", "BPM", "faster", "slower", column="bpm"),
    Feature("energy", "energy", "more energetic", "calmer", column="energy"),
    Feature("loudness", "loudness", "louder", "quieter", column="loudness"),
    Feature("band_low", "low-band energy", "heavier", "lighter", audio="band_low_mean"),
    Feature("band_high", "high-band energy", "hissier", "duller", audio="band_high_mean"),
    Feature("brightness", "brightness", "brighter", "darker", audio="centroid_khz_mean"),
    Feature("onset_rate", "onset rate", "busier", "sparser", audio="onset_rate"),
    Feature("pulse", "pulse clarity", "more steadily pulsed", "less steadily pulsed", audio="rhythm_strength"),
)
SAMPLE_FEATURES = (
    Feature("length", "length", "longer", "shorter", column="duration"),
    Feature("loudness", "loudness", "louder", "quieter", column="loudness"),
    Feature("band_low", "low-band energy", "heavier", "lighter", audio="band_low_mean"),
    Feature("brightness", "brightness", "brighter", "darker", audio="centroid_khz_mean"),
    Feature("attack", "attack time", "softer in attack", "sharper in attack", audio="attack_log"),
    Feature("decay", "decay time", "longer ringing", "shorter ringing", audio="decay_log"),
)
FEATURES = {"track": TRACK_FEATURES, "sample": SAMPLE_FEATURES}
VECTOR_SPACE = {"track": "audio", "sample": "sample"}   # both in the FEATURE_NAMES layout


# -- statistics (pure) ---------------------------------------------------------------------


def quantile_edges(values: Sequence[float], bins: int = BINS) -> list[float]:
    """Inner bin edges at the quantiles of ``values`` (ties collapse: fewer bins)."""
    s = sorted(values)
    edges = []
    for j in range(1, bins):
        pos = j * (len(s) - 1) / bins
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(s) - 1)
        edge = s[lo] + (s[hi] - s[lo]) * (pos - lo)
        if not edges or edge > edges[-1] + 1e-12:
            edges.append(edge)
    return edges


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[bisect.bisect_right(edges, v)] += 1
    return counts


def kl(new: Sequence[int], ref: Sequence[int]) -> float:
    """KL(new ‖ ref) in nats of smoothed bin shares, minus its small-sample bias
    (≈ (k − 1)/2 · (1/n_new + 1/n_ref) when both come from one distribution), floored at 0."""
    k = len(new)
    n, m = sum(new), sum(ref)
    if k < 2 or not n or not m:
        return 0.0
    p = [(c + SMOOTHING) / (n + SMOOTHING * k) for c in new]
    q = [(c + SMOOTHING) / (m + SMOOTHING * k) for c in ref]
    raw = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    return max(0.0, raw - (k - 1) / 2 * (1 / n + 1 / m))


def chi2_p(new: Sequence[int], ref: Sequence[int]) -> float:
    """p-value of the chi-square test of homogeneity of two count rows (Wilson–Hilferty
    approximation of the chi-square tail; exact enough to gate at 1 %)."""
    cols = [(a, b) for a, b in zip(new, ref) if a + b > 0]
    n, m = sum(new), sum(ref)
    if len(cols) < 2 or not n or not m:
        return 1.0
    total = n + m
    stat = 0.0
    for a, b in cols:
        col = a + b
        for observed, row in ((a, n), (b, m)):
            expected = row * col / total
            stat += (observed - expected) ** 2 / expected
    dof = len(cols) - 1
    z = ((stat / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


def mean_shift_p(z: Sequence[float], n_ref: int) -> float:
    """Two-sided p-value that standardised values ``z`` have the reference mean 0 (z test
    with the reference's own sampling error): far more power than the binned test
    against the plain shift a new kind of music brings."""
    if not z or not n_ref:
        return 1.0
    mean = sum(z) / len(z)
    var = sum((v - mean) ** 2 for v in z) / max(1, len(z) - 1)
    se = math.sqrt(max(var, 1e-12) / len(z) + 1.0 / n_ref)
    return math.erfc(abs(mean) / se / math.sqrt(2))


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def describe(values: Sequence[float]) -> dict[str, Any] | None:
    """One feature's snapshot entry: mean, std, edges and counts on the standardised scale."""
    if len(values) < 2 * BINS:
        return None
    mean, std = _mean_std(values)
    if std <= 1e-12:
        return None
    z = [(v - mean) / std for v in values]
    edges = quantile_edges(z)
    if not edges:
        return None
    return {"mean": mean, "std": std, "edges": edges, "counts": bin_counts(z, edges), "n": len(values)}


def compare_feature(entry: dict[str, Any], values: Sequence[float]) -> dict[str, Any]:
    """KL, p-value and direction (new mean − training mean, in training SDs) of one feature."""
    z = [(v - entry["mean"]) / entry["std"] for v in values]
    counts = bin_counts(z, entry["edges"])
    p = min(1.0, 2 * min(chi2_p(counts, entry["counts"]), mean_shift_p(z, entry["n"])))   # either test
    return {"kl": kl(counts, entry["counts"]), "p": p, "shift_sd": sum(z) / len(z) if z else 0.0, "n": len(z),
            "counts": counts}


def compare_classes(predicted: Sequence[str], trained: dict[str, int]) -> dict[str, Any]:
    classes = sorted(set(trained) | set(predicted))
    got = Counter(predicted)
    new, ref = [got.get(c, 0) for c in classes], [trained.get(c, 0) for c in classes]
    n, m = max(1, sum(new)), max(1, sum(ref))
    shares = {c: (a / n, b / m) for c, a, b in zip(classes, new, ref)}
    most = max(classes, key=lambda c: shares[c][0] - shares[c][1]) if classes else None
    return {"kl": kl(new, ref), "p": chi2_p(new, ref), "n": sum(new), "shares": shares, "most_over": most}


def moved(result: dict[str, Any], threshold: float, tests: int) -> bool:
    return result["n"] > 0 and result["kl"] > threshold and result["p"] < ALPHA / max(1, tests)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def message(features: list[tuple[Feature, dict[str, Any]]], classes: dict[str, Any] | None, model: str) -> str:
    """'BPM and low-band energy: new items are faster and heavier than what bucket v7 learned from'."""
    parts = []
    if features:
        names = _join([f.label for f, _ in features])
        words = _join([f.more if r["shift_sd"] > 0 else f.less for f, r in features])
        parts.append(f"{names}: new items are {words} than what {model} learned from")
    if classes is not None and classes.get("most_over"):
        c = classes["most_over"]
        new_share, old_share = classes["shares"][c]
        parts.append(f"{model} now predicts {c} for {100 * new_share:.0f}% of new items"
                     f" ({100 * old_share:.0f}% of its training labels)")
    return "; ".join(parts)


# -- reading items (sqlite3 + struct) --------------------------------------------------------


def feature_values(conn: sqlite3.Connection, kind: str, item_ids: Sequence[int] | None = None,
                   after_id: int = 0, audio_index: dict[str, int] | None = None
                   ) -> tuple[dict[str, list[float]], list[int]]:
    """Per feature the values of the analysed items (given ids, or kind items with id >
    ``after_id``), and the item ids read. ``audio_index``: position of each audio-vector
    feature (stored in the snapshot, so a check need not import the analyser)."""
    features = FEATURES[kind]
    audio_index = audio_index if audio_index is not None else _audio_index()
    sql = ("SELECT i.id, i.duration, a.bpm, a.energy, a.loudness, v.vector FROM items i"
           " JOIN analyses a ON a.item_id = i.id"
           " LEFT JOIN vectors v ON v.item_id = i.id AND v.space = ? WHERE i.kind = ?")
    rows: list[sqlite3.Row] = []
    if item_ids is None:
        rows = conn.execute(sql + " AND i.id > ? ORDER BY i.id", (VECTOR_SPACE[kind], kind, after_id)).fetchall()
    else:
        ids = list(item_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += conn.execute(sql + f" AND i.id IN ({','.join('?' * len(chunk))})",
                                 (VECTOR_SPACE[kind], kind, *chunk)).fetchall()
    out: dict[str, list[float]] = {f.name: [] for f in features}
    for r in rows:
        vector = None
        if r["vector"] is not None:
            blob = r["vector"]
            vector = struct.unpack(f"<{len(blob) // 4}f", blob)
        for f in features:
            value = None
            if f.column is not None:
                value = r[f.column]
            elif vector is not None and f.audio in audio_index and audio_index[f.audio] < len(vector):
                value = vector[audio_index[f.audio]]
            if value is not None and math.isfinite(value):
                out[f.name].append(float(value))
    return out, [r["id"] for r in rows]


def _audio_index() -> dict[str, int]:
    from djml.analysis import FEATURE_NAMES   # only when taking a snapshot (training imports it anyway)

    wanted = {f.audio for fs in FEATURES.values() for f in fs if f.audio}
    return {name: i for i, name in enumerate(FEATURE_NAMES) if name in wanted}


# -- snapshots and checks (library writes) ---------------------------------------------------


def take_snapshot(conn: sqlite3.Connection, task: str, item_ids: Sequence[int], labels: Sequence[str]
                  ) -> dict[str, Any]:
    kind = KIND[task]
    index = _audio_index()
    values, _ = feature_values(conn, kind, item_ids, audio_index=index)
    entries = {name: d for name, v in values.items() if (d := describe(v)) is not None}
    newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]
    return {"kind": kind, "n": len(item_ids), "features": entries, "classes": dict(Counter(labels)),
            "audio_index": index, "last_item": newest}


def store_snapshot(library: "Library", version: str, task: str, item_ids: Sequence[int],
                   labels: Sequence[str]) -> dict[str, Any]:
    snap = take_snapshot(library.conn, task, item_ids, labels)
    with library.transaction() as c:
        c.execute("INSERT OR REPLACE INTO model_snapshots (version, task, snapshot, created_at) VALUES (?, ?, ?, ?)",
                  (version, task, json.dumps(snap), now()))
    return snap


def snapshot_of(conn: sqlite3.Connection, version: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT snapshot FROM model_snapshots WHERE version = ?", (version,)).fetchone()
    return json.loads(row[0]) if row else None


def last_check(conn: sqlite3.Connection, task: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM drift_checks WHERE task = ? ORDER BY id DESC LIMIT 1", (task,)).fetchone()
    if row is None:
        return None
    d = dict(row)
    d["features"], d["data"] = json.loads(d["features"]), json.loads(d["data"])
    return d


def start_after(conn: sqlite3.Connection, task: str, version: str, snap: dict[str, Any]) -> int:
    """Newest item id already compared for this version (the snapshot's, or the last check's)."""
    row = conn.execute("SELECT MAX(last_item) FROM drift_checks WHERE task = ? AND version = ?",
                       (task, version)).fetchone()
    return max(int(snap.get("last_item") or 0), int(row[0] or 0))


def compare(snap: dict[str, Any], values: dict[str, list[float]], predicted: Sequence[str], threshold: float,
            model: str) -> dict[str, Any]:
    """Which features (and whether the predicted classes) of the new items moved away from
    the snapshot, and the sentence that says so. Pure: the statistics of a check."""
    by_name = {f.name: f for f in FEATURES[snap["kind"]]}
    results = {name: compare_feature(entry, values[name]) for name, entry in snap["features"].items()
               if values.get(name)}
    classes = compare_classes(predicted, snap["classes"]) if predicted and snap.get("classes") else None
    tests = len(results) + (classes is not None)
    order = list(by_name)   # the message names features in a fixed order (BPM first)
    moved_features = sorted(((by_name[n], r) for n, r in results.items() if moved(r, threshold, tests)),
                            key=lambda fr: order.index(fr[0].name))
    classes_moved = classes is not None and moved(classes, threshold, tests)
    names = [f.name for f, _ in moved_features] + (["classes"] if classes_moved else [])
    return {"drifted": bool(names), "features": names, "labels": [f.label for f, _ in moved_features],
            "message": message(moved_features, classes if classes_moved else None, model) if names else "",
            "threshold": threshold,
            "per_feature": {n: {k: r[k] for k in ("kl", "p", "shift_sd", "n")} for n, r in results.items()},
            "classes": None if classes is None else {k: classes[k] for k in ("kl", "p", "n", "shares")}}


def evaluate(conn: sqlite3.Connection, task: str, version: str, snap: dict[str, Any], threshold: float,
             after_id: int) -> dict[str, Any]:
    """Compare the items after ``after_id`` with the snapshot (nothing written)."""
    values, ids = feature_values(conn, snap["kind"], after_id=after_id, audio_index=snap.get("audio_index") or {})
    predicted: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        predicted += [r[0] for r in conn.execute(
            f"SELECT label FROM predictions WHERE task = ? AND item_id IN ({','.join('?' * len(chunk))})",
            (task, *chunk))]
    model = short_name(conn, task, version)
    return {"task": task, "version": version, "model": model, "n_items": len(ids),
            "last_item": max(ids) if ids else after_id, **compare(snap, values, predicted, threshold, model)}


def check(library: "Library", task: str, threshold: float, clock: float,
          min_items: int = MIN_ITEMS) -> dict[str, Any] | None:
    """Check the active version of ``task`` against the items added since the last check
    and record it; None when there is no snapshot or too few new items (nothing recorded)."""
    conn = library.conn
    row = conn.execute("SELECT version FROM models WHERE task = ? AND active = 1", (task,)).fetchone()
    snap = snapshot_of(conn, row[0]) if row else None
    if snap is None:
        return None
    result = evaluate(conn, task, row[0], snap, threshold, start_after(conn, task, row[0], snap))
    if result["n_items"] < min_items:
        return None
    data = {k: result[k] for k in ("per_feature", "classes", "labels", "threshold", "model")}
    with library.transaction() as c:
        cursor = c.execute(
            "INSERT INTO drift_checks (task, version, n_items, last_item, drifted, features, message, data,"
            " clock, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task, row[0], result["n_items"], result["last_item"], int(result["drifted"]),
             json.dumps(result["features"]), result["message"] or None, json.dumps(data), clock, now()))
        result["check_id"] = int(cursor.lastrowid)
    return result
