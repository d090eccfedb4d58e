"""Everyday actions (djml.actions): label / unlabel, buckets, watched folders — the code
the CLI runs without a daemon and the daemon runs for the CLI and the TUI."""

from __future__ import annotations

import json

import pytest

from djml import actions, buckets, config as cfg, configfile, db, query
from djml.errors import ActionError
from djml.library import Library
from library_support import add_item


@pytest.fixture
def env(djml_home, tmp_path):
    tracks, samples = tmp_path / "tracks", tmp_path / "samples"
    tracks.mkdir()
    samples.mkdir()
    config = cfg.load()
    config.library, config.samples = [tracks], [samples]
    configfile.write(config)
    config = cfg.load()
    library = Library(db.connect(config.db_path))
    ids = {
        "bus": add_item(library, tracks, 1, bpm=127.99, key=8, artist="Kilo Tape", title="Night Bus"),
        "bus2": add_item(library, tracks, 2, bpm=124.0, artist="Kilo Tape", title="Night Bus (Dub)"),
        "love": add_item(library, tracks, 3, bpm=90.0, name="DirtyLove.mp3"),
        "kick": add_item(library, samples / "Kicks", 4, kind="sample", name="BD_Hard_01.wav"),
    }
    return config, library, ids


def test_a_reference_must_name_one_item(env):
    config, library, ids = env
    with pytest.raises(ActionError, match=r"2 items match 'kilo tape'.*#\d+ Kilo Tape – Night Bus"):
        actions.run_local(config, "label.set", ref="kilo tape", label="peak-time")
    done = actions.run_local(config, "label.set", ref="Kilo Tape - Night Bus", label="peak-time")
    assert done["item_id"] == ids["bus"] and done["changed"]   # the whole name settles it
    assert actions.run_local(config, "label.set", ref=ids["bus"], label="peak-time")["changed"] is False
    by_file = actions.run_local(config, "label.set", ref="dirtylove", label="warm-up")
    assert by_file["item_id"] == ids["love"]


def test_unknown_buckets_and_classes_are_refused(env):
    config, library, ids = env
    with pytest.raises(ActionError, match="unknown bucket 'peak-tme': did you mean 'peak-time'"):
        actions.run_local(config, "label.set", ref=ids["bus"], label="peak-tme")
    with pytest.raises(ActionError, match="unknown sample class 'kik'"):
        actions.run_local(config, "label.set", ref=ids["kick"], label="kik")
    with pytest.raises(ActionError, match="is a sample; bucket labels are for tracks"):
        actions.run_local(config, "label.set", ref=ids["kick"], label="warm-up", task="buckets")
    with pytest.raises(ActionError, match="control characters"):
        actions.run_local(config, "label.set", ref=ids["bus"], label="a\nb", create=True)
    made = actions.run_local(config, "label.set", ref=ids["bus"], label="after-hours", create=True)
    assert made["created_bucket"] is True
    assert "after-hours" in buckets.names(library.conn, config)


def test_unlabel_restores_the_previous_label(env):
    config, library, ids = env
    actions.run_local(config, "label.set", ref=ids["kick"], label="kick")
    actions.run_local(config, "label.set", ref=ids["kick"], label="perc")
    undone = actions.run_local(config, "label.undo", ref=ids["kick"])
    assert (undone["undone"], undone["label"]) == ("perc", "kick")
    actions.run_local(config, "label.undo", ref=ids["kick"])
    with pytest.raises(ActionError, match="no sample_type label to undo"):
        actions.run_local(config, "label.undo", ref=ids["kick"])
    history = [tuple(r) for r in library.conn.execute("SELECT label, undone_at IS NOT NULL FROM labels ORDER BY id")]
    assert history == [("kick", 1), ("perc", 1)]   # undo keeps the history


def test_bucket_rename_merges_and_follows_everywhere(env):
    config, library, ids = env
    actions.run_local(config, "label.set", ref=ids["bus"], label="peak-tme", create=True)
    actions.run_local(config, "label.set", ref=ids["bus2"], label="peak-time")
    library.store_predictions([{"item_id": ids["love"], "task": "bucket", "label": "peak-tme", "confidence": 0.6,
                                "top": [["peak-tme", 0.6], ["peak-time", 0.3]], "unsure": False,
                                "model_version": "m"}])
    result = actions.run_local(config, "buckets.rename", old="peak-tme", new="peak-time")
    assert result == {"old": "peak-tme", "new": "peak-time", "merged": True, "labels": 1}
    summary = {b["name"]: b for b in actions.run_local(config, "buckets.list")}
    assert "peak-tme" not in summary and summary["peak-time"]["labelled"] == 2
    top = json.loads(library.conn.execute("SELECT top FROM predictions").fetchone()[0])
    assert top == [["peak-time", 0.9]]


def test_bucket_rename_and_delete_edit_the_config(env):
    config, library, ids = env
    path = config.config_path
    path.write_text(path.read_text() + '\n[playlist_buckets]\n"Friday Peak" = "peak-time"\n', encoding="utf-8")
    config = cfg.load()
    actions.run_local(config, "buckets.rename", old="peak-time", new="peak")
    again = cfg.load()
    assert again.buckets == ["warm-up", "peak", "closing"] and again.playlist_buckets == {"Friday Peak": "peak"}
    actions.run_local(config, "label.set", ref=ids["bus"], label="closing")
    with pytest.raises(ActionError, match="holds 1 of your labels"):
        actions.run_local(config, "buckets.delete", name="closing")
    with pytest.raises(ActionError, match="map to 'peak'"):
        actions.run_local(config, "buckets.delete", name="peak")
    gone = actions.run_local(config, "buckets.delete", name="closing", force=True)
    assert gone["labels_undone"] == 1
    assert cfg.load().buckets == ["warm-up", "peak"]
    assert query.show(library.conn, ids["bus"])["label"] is None


def test_folders_add_and_remove_keep_the_rest_of_the_config(env, tmp_path):
    config, _, _ = env
    path = config.config_path
    path.write_text("# mine\n" + path.read_text(), encoding="utf-8")
    config = cfg.load()
    more = tmp_path / "more samples"
    more.mkdir()
    added = actions.run_local(config, "folders.add", path=str(more), kind="samples")
    assert added["path"] == str(more)
    assert cfg.load().samples == [tmp_path / "samples", more] and path.read_text().startswith("# mine")
    with pytest.raises(ActionError, match="already watched"):
        actions.run_local(config, "folders.add", path=str(more), kind="samples")
    with pytest.raises(ActionError, match="already a samples folder"):
        actions.run_local(config, "folders.add", path=str(more), kind="library")
    with pytest.raises(ActionError, match="inside"):
        (tmp_path / "tracks" / "sub").mkdir()
        actions.run_local(config, "folders.add", path=str(tmp_path / "tracks" / "sub"))
    with pytest.raises(ActionError, match="not a folder"):
        actions.run_local(config, "folders.add", path=str(tmp_path / "nope"))
    with pytest.raises(ActionError, match="own data folder"):
        actions.run_local(config, "folders.add", path=str(config.data_dir))
    actions.run_local(config, "folders.remove", path=str(tmp_path / "tracks"))
    assert cfg.load().library == []
    with pytest.raises(ActionError, match="not a watched folder"):
        actions.run_local(config, "folders.remove", path=str(tmp_path / "tracks"))


def test_cli_label_unlabel_buckets_folders(env, run_djml, tmp_path):
    config, library, ids = env
    out = run_djml("label", "kilo tape night bus", "warm-up")
    assert out.returncode == 0 and "Kilo Tape – Night Bus: bucket 'warm-up'" in out.stdout, out.stderr
    ambiguous = run_djml("label", "kilo", "warm-up")
    assert ambiguous.returncode == 2 and "2 items match 'kilo'" in ambiguous.stderr
    typo = run_djml("label", str(ids["bus2"]), "peak-tme")
    assert typo.returncode == 2 and "did you mean 'peak-time'" in typo.stderr
    assert "undid bucket 'warm-up'" in run_djml("unlabel", str(ids["bus"]), check=True).stdout
    listing = run_djml("buckets", check=True).stdout
    assert listing.splitlines()[0].startswith("warm-up")
    run_djml("buckets", "create", "after-hours", check=True)
    assert "after-hours" in run_djml("buckets", "list", check=True).stdout
    (tmp_path / "extra").mkdir()
    assert "added" in run_djml("folders", "add", str(tmp_path / "extra"), check=True).stdout
    assert str(tmp_path / "extra") in run_djml("folders", check=True).stdout


def test_show_and_recommend_name_the_item_they_use_when_words_match_several(env, run_djml):
    config, library, ids = env
    shown = run_djml("show", "kilo")
    assert shown.returncode == 0
    assert "2 items match 'kilo'; using #" in shown.stderr and "Others: #" in shown.stderr
    exact = run_djml("show", "kilo tape night bus")
    assert exact.returncode == 0 and "items match" not in exact.stderr   # the whole name settles it
    rec = run_djml("recommend", "kilo", "--json", "--key", "any")
    assert rec.returncode == 0 and "2 items match 'kilo'" in rec.stderr
    resolved = json.loads(run_djml("show", "kilo", "--json").stdout)["resolved"]
    assert resolved["matches"] == 2 and resolved["how"] == "text" and len(resolved["others"]) == 1


def test_label_choices_and_the_count_since_a_time(env):
    """What the TUI asks the daemon instead of reading the library: the genres in use,
    most used first, and how many labels the user made since their local midnight."""
    from datetime import datetime, timedelta, timezone

    config, library, ids = env
    for item in ("bus", "bus2"):
        actions.run_local(config, "label.set", ref=ids[item], label="deep house", task="genre")
    actions.run_local(config, "label.set", ref=ids["love"], label="hip-hop", task="genre")
    actions.run_local(config, "label.set", ref=ids["love"], label="peak-time")
    actions.run_local(config, "label.undo", ref=ids["love"])
    assert actions.run_local(config, "labels.choices", task="genre") == ["deep house", "hip-hop"]
    hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    assert actions.run_local(config, "labels.count", since=hour_ago.isoformat()) == 3   # the undone one not
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert actions.run_local(config, "labels.count", since=later.isoformat()) == 0
    with pytest.raises(ActionError, match="time zone"):
        actions.run_local(config, "labels.count", since="2026-12-01T00:00:00")
    with pytest.raises(ActionError, match="ISO 8601"):
        actions.run_local(config, "labels.count", since="today")
    with pytest.raises(ActionError, match="unknown task"):
        actions.run_local(config, "labels.choices", task="colour")
