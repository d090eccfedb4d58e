"""The similarity index: exact agreement on small data, persistence, incremental updates,
and automatic rebuild when the files are deleted, corrupt or stale."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from djml import config as config_mod
from djml import db, index
from djml.analysis import Analysis
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.tags import Tags

DIM = 24


def structured(n: int, seed: int = 0) -> np.ndarray:
    """Vectors on a 6-dimensional manifold with noise, with per-feature scales as different
    as real features (BPM ~100, MFCC ~10, ratios ~0.1): a realistic test, unlike white noise."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 6))
    mix = rng.normal(size=(6, DIM))
    scales = np.geomspace(0.05, 120, DIM)
    return ((latent @ mix + 0.1 * rng.normal(size=(n, DIM))) * scales + scales).astype(np.float32)


def add_items(library: Library, vectors: np.ndarray, start: int = 0, kind: str = "track") -> list[int]:
    ids = []
    for j, vec in enumerate(vectors):
        k = start + j
        analysis = Analysis(path=f"/m/{k}.wav", kind=kind, analyzer_version=1, audio_hash=f"h{k}",
                            duration=200.0, sample_rate=44100, channels=2, loudness=-9.0, peak_db=-1.0,
                            bpm=120.0 + k % 10, key=k % 24, energy=5.0, feature_vector=vec)
        result = FileResult(path=f"/m/{k}.wav", stat=FileStat(1, 1, k, 1), tags=Tags(title=f"t{k}"),
                            analysis=analysis)
        ids.append(library.record_result(result)[1])
    return ids


@pytest.fixture
def env(djml_home):
    config = config_mod.load()
    conn = db.connect(config.db_path)
    yield config, conn, Library(conn)
    conn.close()


def exact_neighbours(loaded: index.SpaceIndex, ids: list[int], matrix: np.ndarray, q: int, k: int) -> list[int]:
    x = loaded.prepare(matrix)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sims = x @ x[q]
    sims[q] = -np.inf
    return [ids[j] for j in np.argsort(-sims)[:k]]


def test_search_matches_exact_and_excludes_seed(env):
    config, conn, library = env
    vectors = structured(300)
    ids = add_items(library, vectors)
    loaded = index.load(conn, config, "audio")
    assert loaded is not None and loaded.count == 300 and loaded.dim == DIM
    overlap = []
    for q in range(0, 300, 15):
        got = [i for i, _ in index.search(conn, config, "audio", ids[q], 10)]
        assert ids[q] not in got and len(got) == len(set(got)) == 10
        overlap.append(len(set(got) & set(exact_neighbours(loaded, ids, vectors, q, 10))) / 10)
    assert np.mean(overlap) >= 0.98
    sims = [s for _, s in index.search(conn, config, "audio", ids[0], 10)]
    assert sims == sorted(sims, reverse=True) and all(-1.0 <= s <= 1.0 for s in sims)


def test_files_persist_and_are_reused(env, monkeypatch):
    config, conn, library = env
    ids = add_items(library, structured(50))
    index.load(conn, config, "audio")
    bin_path, meta_path = config.index_dir / "audio.hnsw", config.index_dir / "audio.json"
    assert bin_path.exists() and meta_path.exists()
    meta = json.loads(meta_path.read_text())
    assert meta["fingerprint"]["count"] == 50 and meta["params"]["M"] == index.M
    monkeypatch.setattr(index, "build", lambda *a, **k: pytest.fail("rebuilt although the files were fine"))
    assert index.load(conn, config, "audio").count == 50
    assert index.search(conn, config, "audio", ids[3], 5)


@pytest.mark.parametrize("damage", ["delete", "corrupt", "corrupt-same-mtime", "truncate", "sidecar"])
def test_damaged_files_are_rebuilt(env, damage):
    config, conn, library = env
    ids = add_items(library, structured(80))
    before = index.search(conn, config, "audio", ids[7], 10)
    bin_path, meta_path = config.index_dir / "audio.hnsw", config.index_dir / "audio.json"
    st = bin_path.stat()
    if damage == "delete":
        bin_path.unlink()
    elif damage.startswith("corrupt"):
        data = bytearray(bin_path.read_bytes())
        data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
        bin_path.write_bytes(bytes(data))
        # a real rewrite moves the mtime; bit rot may not (then only the CRC check sees it)
        shift = 0 if damage.endswith("same-mtime") else 1_000_000_000
        os.utime(bin_path, ns=(st.st_atime_ns, st.st_mtime_ns + shift))
    elif damage == "truncate":
        bin_path.write_bytes(bin_path.read_bytes()[:100])
    else:
        meta_path.write_text("{not json")
    verify = damage == "corrupt-same-mtime"
    assert index.load(conn, config, "audio", verify=verify).count == 80
    after = index.search(conn, config, "audio", ids[7], 10)
    assert [i for i, _ in after] == [i for i, _ in before]
    meta = json.loads(meta_path.read_text())  # the repaired files were written back
    assert meta["fingerprint"] == index.db_fingerprint(conn, "audio")
    assert meta["file"]["size"] == bin_path.stat().st_size


def test_stale_index_is_rebuilt_when_items_were_added_behind_its_back(env):
    config, conn, library = env
    add_items(library, structured(40))
    assert index.load(conn, config, "audio").count == 40
    new_ids = add_items(library, structured(5, seed=9), start=40)  # no update_items call
    loaded = index.load(conn, config, "audio")
    assert loaded.count == 45
    assert set(new_ids) <= set(loaded.index.get_ids_list())


def test_update_items_incremental_and_resize(env, monkeypatch):
    config, conn, library = env
    monkeypatch.setattr(index, "_MIN_CAPACITY", 16)
    add_items(library, structured(20))
    index.load(conn, config, "audio")
    capacity = index.load(conn, config, "audio").index.get_max_elements()
    new_ids = add_items(library, structured(30, seed=3), start=20)
    real_build = index.build
    monkeypatch.setattr(index, "build", lambda *a, **k: pytest.fail("incremental update rebuilt"))
    assert index.update_items(conn, config, new_ids) == {"audio": 30}
    loaded = index.load(conn, config, "audio")
    assert loaded.count == 50 and loaded.index.get_max_elements() > capacity
    # the new vectors are found as their own nearest neighbours
    vec_ids, matrix, _ = index.read_vectors(conn, "audio", new_ids[:3])
    for item_id, vec in zip(vec_ids, matrix):
        assert loaded.query(vec, 1)[0][0] == item_id
    monkeypatch.setattr(index, "build", real_build)


def test_update_of_items_whose_vectors_the_index_holds_touches_no_file(env, monkeypatch):
    """A back-fill of predictions after a model change calls update_items for items whose
    vectors did not change: the saved index already matches the table, so it is neither
    read nor rewritten; a vector stored since makes it update again."""
    config, conn, library = env
    ids = add_items(library, structured(40))
    index.load(conn, config, "audio")
    bin_path = config.index_dir / "audio.hnsw"
    before = bin_path.stat().st_mtime_ns
    real_load = index._load_files
    monkeypatch.setattr(index, "_load_files", lambda *a, **k: pytest.fail("the index was read"))
    assert index.update_items(conn, config, ids[:10]) == {}
    assert bin_path.stat().st_mtime_ns == before
    monkeypatch.setattr(index, "_load_files", real_load)
    new = add_items(library, structured(5, seed=9), start=40)
    assert index.update_items(conn, config, new) == {"audio": 5}
    assert index.load(conn, config, "audio").count == 45


def test_remove_items_marks_deleted(env):
    config, conn, library = env
    ids = add_items(library, structured(30))
    index.load(conn, config, "audio")
    gone = ids[:5]
    conn.execute(f"DELETE FROM items WHERE id IN ({','.join('?' * len(gone))})", gone)
    assert index.remove_items(conn, config, gone) == {"audio": 5}
    loaded = index.load(conn, config, "audio")
    assert loaded.count == 25
    found = {i for i, _ in index.search(conn, config, "audio", ids[10], 24)}
    assert not found & set(gone) and len(found) == 24


def test_spaces_are_separate_and_errors_are_clear(env):
    config, conn, library = env
    track_ids = add_items(library, structured(10))
    sample_ids = add_items(library, structured(10, seed=5), start=100, kind="sample")
    assert {i for i, _ in index.search(conn, config, "sample", sample_ids[0], 20)} == set(sample_ids[1:])
    assert index.search(conn, config, "text", track_ids[0], 5) == []  # no text embeddings yet
    with pytest.raises(index.VectorIndexError, match="unknown vector space"):
        index.search(conn, config, "nope", 1, 5)
    with pytest.raises(index.VectorIndexError, match="has no 'audio' vector"):
        index.search(conn, config, "audio", sample_ids[0], 5)
    with pytest.raises(index.VectorIndexError, match="dimensions"):
        index.search(conn, config, "audio", np.zeros(3), 5)


def test_remove_items_keeps_items_that_still_have_vectors(env, monkeypatch):
    """The daemon also calls remove_items for tracks whose files went missing: their vectors
    stay in the table, so they stay indexed (no rebuild loop, found again when back)."""
    config, conn, library = env
    ids = add_items(library, structured(30))
    index.load(conn, config, "audio")
    monkeypatch.setattr(index, "build", lambda *a, **k: pytest.fail("rebuilt"))
    assert index.remove_items(conn, config, ids[:3]) == {"audio": 0}
    assert index.load(conn, config, "audio").count == 30


def test_unchanged_index_is_reused_and_changes_are_seen(env):
    """The daemon keeps loaded indexes; a change in the files or the table is never missed."""
    config, conn, library = env
    ids = add_items(library, structured(40))
    first = index.load(conn, config, "audio")
    assert index.load(conn, config, "audio") is first
    new_ids = add_items(library, structured(3, seed=4), start=40)
    index.update_items(conn, config, new_ids)
    second = index.load(conn, config, "audio")
    assert second is not first and second.count == 43
    assert {i for i, _ in index.search(conn, config, "audio", new_ids[0], 42)} == set(ids + new_ids[1:])
    conn.execute("DELETE FROM items WHERE id = ?", (ids[0],))  # behind the index's back
    third = index.load(conn, config, "audio")
    assert third is not second and third.count == 42


def test_fingerprint_counts_the_newest_dimension_only(tmp_path):
    """After an analyser upgrade changes the feature length, the fingerprint describes the
    vectors of the newest length; a tie in time goes to the smaller dimension."""
    conn = db.connect(tmp_path / "f.db")
    for item_id in range(1, 8):
        conn.execute("INSERT INTO items (id, audio_hash, kind, created_at, updated_at)"
                     " VALUES (?, ?, 'track', '2026-01-01', '2026-01-01')", (item_id, f"h{item_id}"))
    rows = [(1, "audio", 4, "2026-01-01"), (2, "audio", 4, "2026-01-02"), (3, "audio", 6, "2026-01-03"),
            (4, "audio", 6, "2026-01-02"), (5, "text", 3, "2026-01-05"), (6, "text", 2, "2026-01-05"),
            (7, "sample", 4, "2026-01-01")]
    for item_id, space, dim, created in rows:
        conn.execute("INSERT INTO vectors (item_id, space, dim, vector, source, created_at) VALUES (?, ?, ?, ?, 't', ?)",
                     (item_id, space, dim, np.zeros(dim, "<f4").tobytes(), created))
    found = index.fingerprints(conn, ["audio", "text", "nonsense"])
    assert found == {"audio": {"count": 2, "id_sum": 7, "max_created_at": "2026-01-03", "dim": 6},
                     "text": {"count": 1, "id_sum": 6, "max_created_at": "2026-01-05", "dim": 2}}
    assert index.db_fingerprint(conn, "sample") == {"count": 1, "id_sum": 7, "max_created_at": "2026-01-01", "dim": 4}
    assert set(index.fingerprints(conn)) == {"audio", "text", "sample"}
