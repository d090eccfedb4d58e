"""Service: predictions with confidence/top-3/unsure, cold start to review, training with
before/after held-out accuracy, automatic rollback, label counting, folder labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from djml.config import Config
from djml.models import registry, service
from models_support import add_sample, add_track, track_library


@pytest.fixture
def lib(tmp_path):
    library, truth = track_library(tmp_path, per_bucket=10)
    config = Config(config_path=tmp_path / "config.toml", data_dir=tmp_path / "data", retrain_after=5)
    return library, config, truth


def label_some(library, truth, n):
    ids = sorted(truth)[:n]
    for i in ids:
        library.set_label(i, "bucket", truth[i])
    return ids


def test_cold_start_sends_everything_to_review(lib):
    library, config, truth = lib
    results = service.predict_items(library, config, sorted(truth))
    buckets = [r for r in results if r["task"] == "bucket"]
    assert len(buckets) == len(truth) and all(r["label"] is None and r["unsure"] for r in buckets)
    assert library.conn.execute("SELECT COUNT(*) FROM predictions WHERE task = 'bucket'").fetchone()[0] == 0
    queue = service.review_queue(library.conn, config, "bucket", limit=10)
    assert len(queue) == 10 and all("no prediction yet" in q["reasons"] for q in queue)
    assert service.train(library, config, "bucket")["status"] == "not_enough_labels"


def test_train_predict_store_and_review(lib):
    library, config, truth = lib
    labelled = label_some(library, truth, 15)
    signal = service.on_label(library, config, labelled[-1], "bucket")
    assert signal["train_needed"] and signal["new_labels"] == 15
    result = service.train(library, config, "bucket")
    assert result["status"] == "activated" and result["n_holdout"] >= 3
    assert result["holdout_accuracy"] >= 0.6 and result["predicted"] == len(truth)
    row = registry.active(library.conn, "bucket")
    assert row["version"] == result["version"] and row["metrics"]["holdout_accuracy"] == result["holdout_accuracy"]
    preds = library.conn.execute("SELECT * FROM predictions WHERE task = 'bucket'").fetchall()
    assert len(preds) == len(truth)
    correct = sum(p["label"] == truth[p["item_id"]] for p in preds)
    assert correct / len(preds) >= 0.8
    top = json.loads(preds[0]["top"])
    assert len(top) == 3 and top[0][0] == preds[0]["label"] and top[0][1] >= top[1][1] >= top[2][1]
    # labelled items never come back in the queue
    queue = service.review_queue(library.conn, config, "bucket", limit=100)
    assert not {q["item_id"] for q in queue} & set(labelled)
    assert service.on_label(library, config, labelled[0], "bucket")["new_labels"] == 0


def test_missing_key_or_bpm_is_unsure_even_when_confident(lib, tmp_path):
    library, config, truth = lib
    label_some(library, truth, 15)
    service.train(library, config, "bucket")
    odd = add_track(library, tmp_path, 999, "peak-time", np.random.default_rng(9), key=None)
    (r,) = [p for p in service.predict_items(library, config, [odd]) if p["task"] == "bucket"]
    assert r["unsure"] and "missing key" in r["reasons"]
    assert odd in {q["item_id"] for q in service.review_queue(library.conn, config, "bucket", 200)}


def test_worse_model_is_rejected_and_old_one_stays_active(tmp_path, monkeypatch):
    library, truth = track_library(tmp_path, per_bucket=20)
    config = Config(config_path=tmp_path / "config.toml", data_dir=tmp_path / "data")
    first_ids = label_some(library, truth, 18)
    first = service.train(library, config, "bucket")
    assert first["status"] == "activated"
    for i in sorted(set(truth) - set(first_ids)):   # 42 labels the first model never saw
        library.set_label(i, "bucket", truth[i])

    real = service.make_estimator

    def broken(task, backend, shape=None):  # a learner that trains on shuffled labels
        est = real(task, backend, shape)

        def shuffled_fit(X, y, w=None, **kw):
            del est.fit_arrays  # back to the real method (and keeps the estimator picklable)
            return est.fit_arrays(X, list(np.random.default_rng(0).permutation(y)), w, **kw)

        est.fit_arrays = shuffled_fit
        return est

    monkeypatch.setattr(service, "make_estimator", broken)
    second = service.train(library, config, "bucket")
    assert second["status"] == "rejected" and second["compared_on"] >= service.MIN_COMPARE
    assert second["after_accuracy"] < second["before_accuracy"] and second["p_worse"] < service.REJECT_P
    assert registry.active(library.conn, "bucket")["version"] == first["version"]
    assert registry.get(library.conn, second["version"])["metrics"]["rejected"] is True


def test_only_a_significantly_worse_model_is_rejected():
    """One-sided exact McNemar: 5 of 5 disagreements won by the old model is evidence
    (p = 1/32); 4 of 4, or 6 of 8, is what chance does on a small held-out slice."""
    y = ["a"] * 10

    def right(*idx):  # predictions right exactly on these items
        return ["a" if i in idx else "b" for i in range(10)]

    assert service.p_worse(y, right(), right(0, 1, 2)) == 1.0                  # the new one is better
    assert service.p_worse(y, right(0, 1, 2, 3, 4), right()) == pytest.approx(1 / 32)   # rejected
    assert service.p_worse(y, right(0, 1, 2, 3), right()) == pytest.approx(1 / 16)      # not enough
    assert 1 / 32 < service.REJECT_P < 1 / 16
    assert service.p_worse(y, right(*range(6)), right(6, 7)) == pytest.approx(37 / 256)
    assert service.p_worse(y, y, y) == 1.0                                      # no disagreement


def test_models_are_compared_only_on_labels_the_active_one_never_saw(lib):
    """Scored on its own training labels the active model looks perfect; a retrain with no
    new labels must not be judged (nor rejected) on them."""
    library, config, truth = lib
    ids = label_some(library, truth, 24)
    assert service.train(library, config, "bucket")["status"] == "activated"
    library.undo_label(ids[0], "bucket")   # the labels changed, but none is new to the active model
    again = service.train(library, config, "bucket")
    assert again["status"] == "activated" and "before_accuracy" not in again


def test_no_new_version_when_nothing_changed(lib):
    """Retrain pressed twice: the second run would train on exactly the same labels (its
    held-out figure could only move by chance), so it creates nothing."""
    library, config, truth = lib
    label_some(library, truth, 24)
    first = service.train(library, config, "bucket")
    again = service.train(library, config, "bucket")
    assert again["status"] == "unchanged" and again["version"] == first["version"]
    assert again["holdout_accuracy"] == first["holdout_accuracy"]
    assert len(registry.list_models(library.conn, "bucket")) == 1
    library.set_label(sorted(truth)[25], "bucket", truth[sorted(truth)[25]])
    assert service.train(library, config, "bucket")["status"] == "activated"
    assert len(registry.list_models(library.conn, "bucket")) == 2


def test_held_out_figures_carry_their_n_and_interval(lib):
    library, config, truth = lib
    label_some(library, truth, 24)
    result = service.train(library, config, "bucket")
    n, k = result["n_holdout"], result["holdout_correct"]
    assert k == round(result["holdout_accuracy"] * n)
    lo, hi = result["holdout_interval"]
    assert 0 <= lo <= k / n <= hi <= 1 and hi - lo > 0.1   # a handful of items: a wide interval
    stored = registry.active(library.conn, "bucket")["metrics"]
    assert stored["holdout_interval"] == [lo, hi]


def test_too_few_labels_per_class_is_refused_and_small_classes_are_named(tmp_path):
    """22 tagged tracks in 18 genres: nothing to learn or to measure; refuse, and name the
    genres that are too small (no warnings flood the terminal)."""
    import warnings

    library, truth = track_library(tmp_path, per_bucket=8)
    config = Config(config_path=tmp_path / "config.toml", data_dir=tmp_path / "data")
    ids = sorted(truth)
    for n, item in enumerate(ids[:22]):
        library.conn.execute("UPDATE items SET genre = ? WHERE id = ?", (f"Genre {n % 18}", item))
    library.conn.execute(f"UPDATE items SET genre = NULL WHERE id IN ({','.join(map(str, ids[22:]))})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = service.train(library, config, "genre")
    assert result["status"] == "not_enough_labels" and result["labels"] == 0
    assert len(result["classes_left_out"]) == 18 and result["per_class"]["Genre 0"] == 2
    assert not registry.list_models(library.conn, "genre") and not caught


def test_samples_without_labels_are_not_trained(tmp_path):
    """Issue 13: `djml train --task samples` with no labels used to activate a model that
    then failed every prediction. With the shipped base set alone there is nothing of yours
    to learn from or to measure on: refuse."""
    from models_support import open_library

    library = open_library(tmp_path)
    config = Config(config_path=tmp_path / "c.toml", data_dir=tmp_path / "data", samples=[tmp_path / "packs"])
    rng = np.random.default_rng(3)
    ids = [add_sample(library, tmp_path / "packs", i, "kick", rng, folder="Misc") for i in range(4)]
    service.predict_items(library, config, ids)
    shipped = registry.active(library.conn, "sample_type")
    result = service.train(library, config, "sample_type")
    assert result["status"] == "not_enough_labels"
    assert registry.active(library.conn, "sample_type")["version"] == (shipped or {}).get("version")


def test_genre_predictions_keep_the_spelling_of_the_tags(lib, tmp_path):
    library, config, truth = lib
    library.conn.execute("UPDATE items SET genre = 'Techno' WHERE genre = 'techno' AND id % 3 != 0")
    result = service.train(library, config, "genre")
    assert result["status"] == "activated" and "Techno" in result["per_class"] and "techno" not in result["per_class"]
    untagged = add_track(library, tmp_path, 501, "peak-time", np.random.default_rng(5))
    library.conn.execute("UPDATE items SET genre = NULL WHERE id = ?", (untagged,))
    (r,) = [p for p in service.predict_items(library, config, [untagged]) if p["task"] == "genre"]
    assert r["label"] == "Techno"


def test_holdout_prefers_unseen_labels():
    labels = ["a"] * 8 + ["b"] * 8
    prefer = np.array([False] * 6 + [True] * 2 + [False] * 6 + [True] * 2)
    _, held = service.split_holdout(labels, np.ones(16, np.float32), prefer=prefer)
    assert sorted(held) == [6, 7, 14, 15]


def test_genre_head_learns_from_tags_and_fills_gaps(lib, tmp_path):
    library, config, truth = lib
    result = service.train(library, config, "genre")
    assert result["status"] == "activated"
    untagged = add_track(library, tmp_path, 500, "peak-time", np.random.default_rng(5))
    library.conn.execute("UPDATE items SET genre = NULL WHERE id = ?", (untagged,))
    (r,) = [p for p in service.predict_items(library, config, [untagged]) if p["task"] == "genre"]
    assert r["label"] == "techno"


def test_folder_names_become_weak_labels(tmp_path):
    from models_support import open_library

    library = open_library(tmp_path)
    config = Config(config_path=tmp_path / "c.toml", data_dir=tmp_path / "data", samples=[tmp_path / "packs"])
    rng = np.random.default_rng(1)
    kick = add_sample(library, tmp_path / "packs", 1, "kick", rng, folder="Pack A/Kicks")
    hat = add_sample(library, tmp_path / "packs", 2, "hihat", rng, folder="Pack A/Hats/Closed")
    plain = add_sample(library, tmp_path / "packs", 3, "snare", rng, folder="Pack A/Misc")
    service.predict_items(library, config, [kick, hat, plain])
    labels = {r["item_id"]: (r["label"], r["source"]) for r in library.conn.execute("SELECT * FROM labels")}
    assert labels == {kick: ("kick", "folder"), hat: ("hihat", "folder")}
    library.set_label(kick, "sample_type", "perc")  # the user's word wins and is not overwritten
    service.predict_items(library, config, [kick])
    assert library.conn.execute(
        "SELECT label FROM labels WHERE item_id = ? ORDER BY id DESC LIMIT 1", (kick,)).fetchone()[0] == "perc"


def test_training_says_which_labels_it_had_to_leave_out(lib):
    """Items analysed before the rhythm pattern existed (no 'rhythm' vector until the
    daemon re-analyses them) cannot train the new model; the count is reported."""
    library, config, truth = lib
    ids = label_some(library, truth, 24)
    library.conn.execute(f"DELETE FROM vectors WHERE space = 'rhythm' AND item_id IN ({ids[0]}, {ids[1]}, {ids[2]})")
    library.conn.commit()
    result = service.train(library, config, "bucket")
    assert result["status"] == "activated"
    assert result["left_out"] == 3 and result["n_labels"] == 21
