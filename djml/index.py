"""Approximate nearest-neighbour index (hnswlib), one per vector space, as a rebuildable cache.

The ``vectors`` table is the truth; the files under ``config.index_dir`` only make "what
sounds like this?" fast. Each space has ``<space>.hnsw`` plus a JSON sidecar holding the
index parameters, a CRC of the ``.hnsw`` file, the standardisation statistics and a
*fingerprint* of the vectors it contains (count, sum of item ids, newest ``created_at``).
The same fingerprint is computed from the database on load: when the files are missing,
corrupt (CRC), built with other parameters, or disagree with the database, the index is
rebuilt from the table — so a crash, a deleted folder or a writer that forgot to call
:func:`update_items` can never serve wrong neighbours for long.

Spaces: ``audio`` (track feature vectors), ``sample`` (one-shot feature vectors) and
``text`` (track text embeddings). Audio/sample features mix units (BPM, dB, MFCC…), so
they are z-scored with per-dimension statistics before cosine distance; text embeddings are
already comparable and are used as they are.

Only numpy and hnswlib are imported (a few ms plus numpy), so CLI one-shots can search.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import hnswlib

    from djml.config import Config

SPACES: dict[str, bool] = {"audio": True, "sample": True, "text": False}  # space -> z-score?
# Chosen with benchmarks/recommend.py (recall@10 vs exact search on analysed audio, see
# docs/recommend.md). ef_search is raised to k when more neighbours are asked for.
M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = 100
FORMAT = 1
_MIN_CAPACITY = 1024


class VectorIndexError(Exception):
    """An unknown space or an item without a vector in it."""


@dataclass
class SpaceIndex:
    """A loaded index for one space plus what is needed to query it consistently."""

    space: str
    dim: int
    index: "hnswlib.Index"
    mean: np.ndarray
    scale: np.ndarray
    fingerprint: dict[str, Any]

    _labels: set[int] | None = None

    @property
    def count(self) -> int:
        return int(self.fingerprint["count"])

    def unit_vectors(self, item_ids: list[int]) -> dict[int, np.ndarray]:
        """{item id: prepared, L2-normalised vector} for the ids present in the index, read
        from the index itself (no SQL): a dot product of two equals their cosine."""
        if self._labels is None:
            self._labels = set(self.index.get_ids_list()) if self.index.element_count else set()
        present = [i for i in item_ids if i in self._labels]
        if not present:
            return {}
        matrix = np.asarray(self.index.get_items(present), dtype=np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        return dict(zip(present, matrix))

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Raw stored vectors → the representation the index holds (z-scored if enabled)."""
        return ((np.asarray(vectors, dtype=np.float32) - self.mean) / self.scale).astype(np.float32)

    def query(self, vector: np.ndarray, k: int, exclude: set[int] = frozenset()) -> list[tuple[int, float]]:
        """Up to ``k`` (item_id, cosine similarity) pairs, best first, skipping ``exclude``."""
        want = min(k + len(exclude), self.count)
        if want <= 0:
            return []
        self.index.set_ef(max(EF_SEARCH, want))
        labels, distances = self.index.knn_query(self.prepare(vector.reshape(1, -1)), k=want)
        out = [(int(l), float(1.0 - d)) for l, d in zip(labels[0], distances[0]) if int(l) not in exclude]
        return out[:k]


def _paths(config: "Config", space: str) -> tuple[Path, Path]:
    return config.index_dir / f"{space}.hnsw", config.index_dir / f"{space}.json"


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise VectorIndexError(f"unknown vector space {space!r} (known: {', '.join(SPACES)})")


def fingerprints(conn: sqlite3.Connection, spaces: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """{space: fingerprint of what its index must contain} (over the ``spaces`` asked
    for only: a track's recommendation need not count the sample vectors). Per space the
    dimension of the newest vector wins: after an analyser upgrade changes the feature
    length, vectors of the old length are left out until re-analysed.

    Two reads of the ``vectors_space`` index per space, both in index order: the newest
    row (its dimension and time), then count and id sum of that dimension's rows; a
    ``GROUP BY space, dim`` would sort every row in a temporary b-tree first."""
    wanted = sorted(set(spaces)) if spaces is not None else sorted(SPACES)
    best: dict[str, dict[str, Any]] = {}
    for space in wanted:
        if space not in SPACES:
            continue
        newest = conn.execute("SELECT dim, created_at FROM vectors WHERE space = ?"
                              " ORDER BY created_at DESC, dim LIMIT 1", (space,)).fetchone()
        if newest is None:
            continue
        dim, created_at = newest[0], newest[1]
        count, id_sum = conn.execute("SELECT COUNT(*), COALESCE(SUM(item_id), 0) FROM vectors"
                                     " WHERE space = ? AND dim = ?", (space, dim)).fetchone()
        best[space] = {"count": int(count), "id_sum": int(id_sum), "max_created_at": created_at, "dim": int(dim)}
    return best


def db_fingerprint(conn: sqlite3.Connection, space: str) -> dict[str, Any] | None:
    """The fingerprint of one space (None when it has no vectors)."""
    return fingerprints(conn, [space]).get(space)


def _params(space: str, dim: int) -> dict[str, Any]:
    return {"format": FORMAT, "space": space, "dim": dim, "M": M, "ef_construction": EF_CONSTRUCTION,
            "standardize": SPACES[space]}


def read_vectors(
    conn: sqlite3.Connection, space: str, item_ids: list[int] | None = None, dim: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(ids, float32 matrix, created_at list) for a space, optionally only some items."""
    sql = "SELECT item_id, vector, created_at FROM vectors WHERE space = ?"
    params: list[Any] = [space]
    if dim is not None:
        sql += " AND dim = ?"
        params.append(dim)
    rows: list[sqlite3.Row] = []
    if item_ids is None:
        rows = conn.execute(sql, params).fetchall()
    else:
        for start in range(0, len(item_ids), 500):
            chunk = item_ids[start:start + 500]
            rows += conn.execute(
                f"{sql} AND item_id IN ({','.join('?' * len(chunk))})", [*params, *chunk]
            ).fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dim or 0), dtype=np.float32), []
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    return ids, matrix.astype(np.float32), [r[2] for r in rows]


def build(conn: sqlite3.Connection, config: "Config", space: str, *, save: bool = True) -> SpaceIndex | None:
    """Build the index of ``space`` from the vectors table (None when the space is empty)."""
    import hnswlib

    _check_space(space)
    fingerprint = db_fingerprint(conn, space)
    if fingerprint is None:
        return None
    dim = fingerprint["dim"]
    ids, matrix, _ = read_vectors(conn, space, dim=dim)
    if SPACES[space] and len(ids) > 1:
        mean = matrix.mean(axis=0)
        scale = matrix.std(axis=0)
        scale[scale < 1e-6] = 1.0  # constant features carry no information; avoid /0
    else:
        mean, scale = np.zeros(dim, np.float32), np.ones(dim, np.float32)
    index = hnswlib.Index(space="cosine", dim=dim)
    index.init_index(max_elements=max(_MIN_CAPACITY, 2 * len(ids)), ef_construction=EF_CONSTRUCTION, M=M)
    index.set_num_threads(1)  # the machine is shared with analysis workers
    built = SpaceIndex(space, dim, index, mean.astype(np.float32), scale.astype(np.float32), fingerprint)
    if len(ids):
        index.add_items(built.prepare(matrix), ids)
    if save:
        _save(config, built)
    return built


def _save(config: "Config", built: SpaceIndex) -> None:
    """Write the index then its sidecar, each atomically. Failure (read-only data folder)
    is not an error: the index is a cache and works from memory."""
    bin_path, meta_path = _paths(config, built.space)
    try:
        config.index_dir.mkdir(parents=True, exist_ok=True)
        tmp_bin = bin_path.with_suffix(f".tmp{os.getpid()}")
        built.index.save_index(str(tmp_bin))
        crc = zlib.crc32(tmp_bin.read_bytes())
        os.replace(tmp_bin, bin_path)
        st = bin_path.stat()
        meta = {
            "params": _params(built.space, built.dim), "crc32": crc,
            "file": {"size": st.st_size, "mtime_ns": st.st_mtime_ns}, "fingerprint": built.fingerprint,
            "mean": built.mean.tolist(), "scale": built.scale.tolist(),
        }
        tmp_meta = meta_path.with_suffix(f".tmp{os.getpid()}")
        tmp_meta.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp_meta, meta_path)
    except OSError:
        pass


def _saved_meta(config: "Config", space: str) -> dict[str, Any] | None:
    """The saved index's sidecar, or None when there is none or it does not describe the
    index file beside it (same size and mtime as when saved: a rewrite or truncation
    changes them)."""
    bin_path, meta_path = _paths(config, space)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        st = bin_path.stat()
        return meta if meta["file"] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns} else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _load_files(config: "Config", space: str, dim: int, verify: bool = False) -> SpaceIndex | None:
    """The saved index if it is intact and built with the current parameters, else None.

    Intact = same size and mtime as when it was saved (any rewrite or truncation changes
    them); ``verify`` also checks the CRC32 of the content (reads the whole file once more,
    so only the daemon's startup check pays for it)."""
    import hnswlib

    meta = _saved_meta(config, space)
    if meta is None:
        return None
    bin_path = _paths(config, space)[0]
    try:
        if meta["params"] != _params(space, dim):
            return None
        if verify and zlib.crc32(bin_path.read_bytes()) != meta["crc32"]:
            return None
        index = hnswlib.Index(space="cosine", dim=dim)
        index.load_index(str(bin_path), max_elements=0, allow_replace_deleted=False)
        mean = np.asarray(meta["mean"], dtype=np.float32)
        scale = np.asarray(meta["scale"], dtype=np.float32)
        if mean.shape != (dim,) or scale.shape != (dim,):
            return None
        return SpaceIndex(space, dim, index, mean, scale, meta["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


# Long-lived processes (the daemon) answer many queries: keep recently loaded indexes and
# reuse one while its files are unchanged and its fingerprint still matches the table.
_CACHE: dict[str, tuple[tuple[int, ...], SpaceIndex]] = {}
_CACHE_SIZE = 8


def _signature(config: "Config", space: str) -> tuple[int, ...] | None:
    """Size, mtime and inode of both files (None when either is missing)."""
    try:
        stats = [path.stat() for path in _paths(config, space)]
    except OSError:
        return None
    return tuple(v for st in stats for v in (st.st_size, st.st_mtime_ns, st.st_ino))


def _remember(config: "Config", loaded: SpaceIndex) -> SpaceIndex:
    signature = _signature(config, loaded.space)
    if signature is not None:
        key = str(_paths(config, loaded.space)[0])
        _CACHE.pop(key, None)  # re-insert: the dict order is the eviction order
        _CACHE[key] = (signature, loaded)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
    return loaded


def load(
    conn: sqlite3.Connection, config: "Config", space: str, *, save: bool = True, verify: bool = False,
    known: dict[str, dict[str, Any]] | None = None,
) -> SpaceIndex | None:
    """The up-to-date index of ``space``: from the files when they match the database,
    otherwise rebuilt (and saved when ``save``). None when the space has no vectors.
    ``verify`` adds a CRC check of the file content (see :func:`_load_files`); ``known``
    passes :func:`fingerprints` already computed for several spaces (one table scan).
    The returned index is shared with later calls while nothing changes: query it, do not
    modify it (:func:`update_items` and :func:`remove_items` work on their own copies)."""
    _check_space(space)
    fingerprint = (known if known is not None else fingerprints(conn, [space])).get(space)
    if fingerprint is None:
        return None
    cached = _CACHE.get(str(_paths(config, space)[0]))
    if (not verify and cached is not None and cached[1].fingerprint == fingerprint
            and cached[0] == _signature(config, space)):
        return cached[1]
    loaded = _load_files(config, space, fingerprint["dim"], verify)
    if loaded is not None and loaded.fingerprint == fingerprint:
        return _remember(config, loaded)
    built = build(conn, config, space, save=save)
    return _remember(config, built) if built is not None and save else built


def _spaces_of(conn: sqlite3.Connection, item_ids: list[int]) -> set[str]:
    if not item_ids:
        return set()
    marks = ",".join("?" * len(item_ids))
    rows = conn.execute(f"SELECT DISTINCT space FROM vectors WHERE item_id IN ({marks})", item_ids)
    return {r[0] for r in rows} & set(SPACES)


def update_items(conn: sqlite3.Connection, config: "Config", item_ids: list[int]) -> dict[str, int]:
    """Add or refresh these items in every index they have vectors for (the daemon calls
    this after storing analyses or embeddings). Returns {space: items written}.

    Incremental: existing labels are replaced in place, the index grows by doubling. The
    fingerprint is advanced by exactly what was applied, so if anything else changed in the
    table meanwhile the next load notices and rebuilds."""
    ids = sorted({int(i) for i in item_ids})
    written: dict[str, int] = {}
    for space in _spaces_of(conn, ids):
        current = db_fingerprint(conn, space)
        if current is not None and (_saved_meta(config, space) or {}).get("fingerprint") == current:
            continue   # the saved index already holds exactly the table (a re-prediction back-fill)
        dim = (current or {}).get("dim")
        loaded = _load_files(config, space, dim) if dim is not None else None
        if loaded is None or loaded.fingerprint.get("dim") != dim:
            written[space] = build(conn, config, space).count
            continue
        vec_ids, matrix, stamps = read_vectors(conn, space, ids, dim=dim)
        if len(vec_ids) == 0:
            continue
        present = set(loaded.index.get_ids_list()) if loaded.count else set()
        index = loaded.index
        needed = index.element_count + len(vec_ids)
        if needed > index.get_max_elements():
            index.resize_index(max(needed, 2 * index.get_max_elements()))
        index.add_items(loaded.prepare(matrix), vec_ids)
        fp = dict(loaded.fingerprint)
        new = [int(i) for i in vec_ids if int(i) not in present]
        fp["count"] += len(new)
        fp["id_sum"] += sum(new)
        fp["max_created_at"] = max([fp["max_created_at"] or "", *stamps]) or None
        loaded.fingerprint = fp
        if fp != db_fingerprint(conn, space):
            loaded = build(conn, config, space, save=False) or loaded
        _save(config, loaded)
        written[space] = len(vec_ids)
    return written


def remove_items(conn: sqlite3.Connection, config: "Config", item_ids: list[int]) -> dict[str, int]:
    """Drop from every saved index the given items whose vectors are gone from the table
    (deleted items). Items that still have vectors stay indexed: the table is the truth,
    and a track whose file went missing is filtered out by the ranker instead, so it is
    found again without re-indexing when the file comes back. Returns {space: removed}."""
    ids = sorted({int(i) for i in item_ids})
    removed: dict[str, int] = {}
    if not ids:
        return removed
    known = fingerprints(conn)
    for space in SPACES:
        _, meta_path = _paths(config, space)
        if not meta_path.exists():
            continue
        if space not in known:  # the space is now empty: drop the files
            for path in _paths(config, space):
                path.unlink(missing_ok=True)
            continue
        loaded = _load_files(config, space, known[space]["dim"])
        if loaded is None:
            build(conn, config, space)
            continue
        kept = {r[0] for r in conn.execute(
            f"SELECT item_id FROM vectors WHERE space = ? AND item_id IN ({','.join('?' * len(ids))})",
            [space, *ids])}
        live = set(loaded.index.get_ids_list())
        deleted = 0
        for item_id in (set(ids) - kept) & live:
            try:
                loaded.index.mark_deleted(item_id)
            except RuntimeError:  # already marked deleted earlier
                continue
            loaded.fingerprint["count"] -= 1
            loaded.fingerprint["id_sum"] -= item_id
            deleted += 1
        if loaded.fingerprint != known[space]:
            loaded = build(conn, config, space, save=False) or loaded
        _save(config, loaded)
        removed[space] = deleted
    return removed


def search(
    conn: sqlite3.Connection, config: "Config", space: str, vector_or_item_id: "np.ndarray | int", k: int = 10
) -> list[tuple[int, float]]:
    """The ``k`` nearest items (item_id, cosine similarity), best first. Given an item id,
    its own vector is the query and the item itself is left out."""
    loaded = load(conn, config, space)
    if loaded is None:
        return []
    return search_loaded(conn, loaded, vector_or_item_id, k)


def search_loaded(
    conn: sqlite3.Connection, loaded: SpaceIndex, vector_or_item_id: "np.ndarray | int", k: int
) -> list[tuple[int, float]]:
    if isinstance(vector_or_item_id, (int, np.integer)):
        item_id = int(vector_or_item_id)
        _, matrix, _ = read_vectors(conn, loaded.space, [item_id], dim=loaded.dim)
        if len(matrix) == 0:
            raise VectorIndexError(f"item {item_id} has no {loaded.space!r} vector")
        return loaded.query(matrix[0], k, exclude={item_id})
    vector = np.asarray(vector_or_item_id, dtype=np.float32).ravel()
    if vector.shape[0] != loaded.dim:
        raise VectorIndexError(
            f"query vector has {vector.shape[0]} dimensions, the {loaded.space!r} index {loaded.dim}")
    return loaded.query(vector, k)
