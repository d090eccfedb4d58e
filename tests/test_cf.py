"""Matrix factorisation (explicit and BPR), numpy-only serving, transitions/co-occurrence,
and training from the library's sets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from djml import config as config_mod
from djml import db
from djml.library import Library
from djml.models.cf import CFEmbeddings, MatrixFactorization, MFParams, cf_dir, train_from_library
from djml.models.transitions import SetStats, load_sets


def low_rank_ratings(n_users=120, n_items=80, rank=3, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    p, q = rng.normal(size=(n_users, rank)), rng.normal(size=(n_items, rank))
    bias_i = rng.normal(scale=0.5, size=n_items)
    true = 3.0 + 0.6 * (p @ q.T) / np.sqrt(rank) + bias_i
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    ratings = np.clip(true[users, items] + rng.normal(scale=0.2, size=len(users)), 1, 5)
    return users, items, ratings


def test_explicit_mode_beats_the_baselines_on_held_out_ratings():
    users, items, ratings = low_rank_ratings()
    rng = np.random.default_rng(1)
    test = rng.random(len(users)) < 0.2
    model = MatrixFactorization(MFParams(factors=8, epochs=60, lr=0.03, reg=0.02))
    model.fit(users[~test], items[~test], ratings[~test])
    pred = model.predict(users[test], items[test])
    rmse = np.sqrt(np.mean((pred - ratings[test]) ** 2))
    mean_rmse = np.sqrt(np.mean((ratings[~test].mean() - ratings[test]) ** 2))
    item_means = {i: ratings[~test][items[~test] == i].mean() for i in np.unique(items[~test])}
    item_rmse = np.sqrt(np.mean([(item_means.get(i, 3.0) - r) ** 2 for i, r in zip(items[test], ratings[test])]))
    assert rmse < 0.75 * item_rmse < mean_rmse
    assert model.history[-1] < model.history[0]


def test_on_epoch_sees_the_model_as_a_shorter_fit_would_end():
    """One 6-epoch fit reports after every epoch; the model it shows after epoch 3 predicts
    exactly what a 3-epoch fit predicts (same seed, same batches), so a benchmark can score
    every epoch count from one fit."""
    users, items, ratings = low_rank_ratings(n_users=40, n_items=30)
    params = dict(factors=4, lr=0.03, reg=0.02, seed=5)
    seen: dict[int, np.ndarray] = {}
    MatrixFactorization(MFParams(epochs=6, **params)).fit(
        users, items, ratings, on_epoch=lambda done, m: seen.__setitem__(done, m.predict(users[:50], items[:50])))
    assert sorted(seen) == [1, 2, 3, 4, 5, 6]
    short = MatrixFactorization(MFParams(epochs=3, **params)).fit(users, items, ratings)
    np.testing.assert_allclose(seen[3], short.predict(users[:50], items[:50]), rtol=1e-6)
    assert not np.allclose(seen[3], seen[6])


def test_unknown_users_and_items_fall_back_to_biases():
    users, items, ratings = low_rank_ratings(n_users=30, n_items=20)
    model = MatrixFactorization(factors=4, epochs=5).fit(users, items, ratings)
    out = model.predict([999, 0], [0, 999])
    assert out[0] == pytest.approx(model.global_mean + model.item_bias[0], rel=1e-5)
    assert out[1] == pytest.approx(model.global_mean + model.user_bias[0], rel=1e-5)
    with pytest.raises(KeyError):
        model.recommend(999)


def test_bpr_ranks_the_users_own_group_first():
    """Two groups of users each consume one half of the items; BPR must recommend unseen
    items from the user's own half."""
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(60):
        half = range(0, 30) if u < 30 else range(30, 60)
        for i in rng.choice(list(half), size=12, replace=False):
            users.append(u)
            items.append(int(i))
    model = MatrixFactorization(MFParams(mode="bpr", factors=8, epochs=40, lr=0.02, reg=0.001,
                                         optimizer="adam", batch_size=128)).fit(users, items)
    for u in (0, 45):
        recs = [i for i, _ in model.recommend(u, 10)]
        seen = {i for uu, i in zip(users, items) if uu == u}
        assert not set(recs) & seen and len(recs) == 10
        own = set(range(0, 30)) if u < 30 else set(range(30, 60))
        assert len(set(recs) & own) >= 9


def test_invalid_arguments():
    with pytest.raises(ValueError, match="mode"):
        MatrixFactorization(mode="magic")
    with pytest.raises(TypeError, match="unknown MF parameter"):
        MatrixFactorization(nope=1)
    with pytest.raises(ValueError, match="rating"):
        MatrixFactorization().fit([1, 2], [1, 2])
    with pytest.raises(ValueError, match="equal length"):
        MatrixFactorization(mode="bpr").fit([1], [1, 2])


def test_embeddings_roundtrip_without_torch(tmp_path):
    users, items, ratings = low_rank_ratings(n_users=40, n_items=30)
    model = MatrixFactorization(factors=6, epochs=5).fit(users * 10, items + 1000, ratings)
    folder = model.save(tmp_path / "cf", {"note": "test"})
    loaded = CFEmbeddings.load(folder)
    assert np.array_equal(loaded.item_ids, model.item_ids) and loaded.meta["note"] == "test"
    assert np.allclose(loaded.item_factors, model.item_factors)
    sims = loaded.similar(1005, 5)
    assert len(sims) == 5 and 1005 not in sims and all(0 <= s <= 1 for s in sims.values())
    assert loaded.similar(42, 5) == {}
    model.save(folder)  # replacing an existing model works
    probe = (f"import sys\nfrom djml.models.cf import CFEmbeddings\n"
             f"e = CFEmbeddings.load({str(folder)!r})\nassert len(e.similar(1005, 3)) == 3\n"
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
    (folder / "item_factors.npy").write_bytes(b"garbage")
    assert CFEmbeddings.load(folder) is None
    assert CFEmbeddings.load(tmp_path / "absent") is None


def test_set_stats_counts_and_scores():
    stats = SetStats([[1, 2, 3], [1, 2, 4], [5, 1, 3], []])
    assert stats.transitions(1) == {2: 2, 3: 1}
    assert stats.cooccurrences(1) == {2: 2, 3: 2, 4: 1, 5: 1}
    assert stats.transition_scores(1) == {2: 0.5, 3: 0.25}
    assert stats.cooccurrence_scores(1)[4] == pytest.approx(1 / np.sqrt(3))
    assert stats.popularity[1] == 3 and stats.novelty(1) == 0.0 and stats.novelty(99) == 1.0
    assert 0 < stats.novelty(4) < 1
    assert stats.transitions(99) == {} and stats.transition_scores(99) == {}
    assert not SetStats([])


def test_train_from_library_and_use_in_recommend(djml_home):
    from test_recommend import build_library  # the same generated library as the ranker tests

    from djml.models.recommend import recommend

    config = config_mod.load()
    conn = db.connect(config.db_path)
    library = Library(conn)
    ids = build_library(library)
    assert train_from_library(conn, config) == {"trained": False, "reason": "need at least two sets", "sets": 0}
    core = ids[:6]
    options = {"n": 40, "key_mode": "any", "bpm_tolerance": 30}
    cold = [r["id"] for r in recommend(conn, config, core[0], **options)]
    rng = np.random.default_rng(3)
    for j in range(8):  # six tracks the DJ keeps playing together, padded with random others
        library.add_set(f"set {j}", "djml", [*rng.permutation(core).tolist(), *rng.choice(ids[50:], 4).tolist()])
    assert len(load_sets(conn)) == 8
    result = train_from_library(conn, config)
    assert result["trained"] and result["sets"] == 8
    emb = CFEmbeddings.load(cf_dir(config))
    assert emb is not None and set(core) <= set(emb.item_ids.tolist())
    warm = recommend(conn, config, core[0], **options)
    by_id = {r["id"]: r for r in warm}
    assert set(core[1:]) <= set(by_id)  # every set partner is now a candidate ranked in the top 40

    def mean_rank(ranked):
        return np.mean([ranked.index(c) if c in ranked else len(ranked) for c in core[1:]])

    assert mean_rank([r["id"] for r in warm]) < mean_rank(cold) - 10
    for c in core[1:]:
        assert by_id[c]["features"]["mf"] > 0.7 and by_id[c]["features"]["cooccur"] == 1.0
        assert "in 8 of your sets together" in by_id[c]["reasons"]
    conn.close()


def test_cli_train_then_recommend_uses_the_saved_model(djml_home, run_djml):
    from test_recommend import build_library

    config = config_mod.load()
    conn = db.connect(config.db_path)
    library = Library(conn)
    ids = build_library(library)
    assert "Set model not trained: need at least two sets" in run_djml("recommend", "--train", check=True).stdout
    for j in range(4):
        library.add_set(f"gig {j}", "djml", ids[j * 5: j * 5 + 12])
    out = run_djml("recommend", "--train", check=True).stdout
    assert "learned from 4 sets" in out and (cf_dir(config) / "item_factors.npy").exists()
    assert "Ranking weights:" in out
    from djml.models.recommend import FEATURES, load_set_weights

    learned = load_set_weights(config)
    assert learned is not None and set(learned) == set(FEATURES)
    usage = run_djml("recommend")
    assert usage.returncode == 2 and "give a TRACK" in usage.stderr
    conn.close()


def test_set_weights_learn_what_the_dj_follows(djml_home):
    """A DJ who always plays the same successors, whatever they sound like: the learned
    weights must move from timbre towards the collaborative terms."""
    from test_recommend import build_library

    from djml.models.rank_weights import fit_set_weights
    from djml.models.recommend import DEFAULT_WEIGHTS

    config = config_mod.load()
    conn = db.connect(config.db_path)
    library = Library(conn)
    ids = build_library(library)
    rng = np.random.default_rng(5)
    chain = [int(i) for i in rng.permutation(ids)[:40]]  # a fixed running order, random timbres
    sets = {}
    for j in range(16):
        start = int(rng.integers(0, 28))
        sets[j] = chain[start:start + 12]
    fitted = fit_set_weights(conn, config, sets, holdout=0.25)
    w = fitted["weights"]
    assert fitted["pairs"] > 50
    collab = w["transition"] + w["cooccur"] + w["mf"]
    assert collab > DEFAULT_WEIGHTS["transition"] + DEFAULT_WEIGHTS["cooccur"] + DEFAULT_WEIGHTS["mf"]
    assert w["content"] < DEFAULT_WEIGHTS["content"]
    assert fit_set_weights(conn, config, {1: chain[:5]}) is None  # too few sets
    conn.close()
