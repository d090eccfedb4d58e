"""Issue 13.3: derived data (predictions, text vectors) is back-filled after a kill, at the
daemon's start and at the next `djml scan`, and after a model change that was cut short;
a failed prediction or index update shows in the scan summary and exit code (issue 17)."""

from __future__ import annotations

import os

import pytest

from click.testing import CliRunner

from rel_support import eventually, init_library, query, run_djml, sample, write_db
from daemon_support import named, wait_for
from djml import keys, synth

SAMPLES_WITHOUT_PREDICTION = ("SELECT COUNT(*) FROM items i WHERE i.kind = 'sample' AND NOT EXISTS"
                              " (SELECT 1 FROM predictions p WHERE p.item_id = i.id AND p.task = 'sample_type'"
                              "  AND p.model_version = (SELECT version FROM models WHERE task = 'sample_type'"
                              "  AND active = 1))")


def _import(d, n: int) -> list[str]:
    with d.client() as c:
        c.subscribe(["item.added"])
        paths = [str(d.drop(d.samples / f"s{i:02d}.wav", "tom", seed=700 + i)) for i in range(n)]
        wait_for(c, lambda ev: set(paths) <= {e["path"] for e in named(ev, "item.added")}, timeout=120)
    return paths


def test_daemon_backfills_predictions_lost_by_a_kill(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    _import(d, 4)
    eventually(lambda: query(d.db, SAMPLES_WITHOUT_PREDICTION)[0][0] == 0, what="first predictions")
    d.kill9()
    # What a kill between storing the analyses and predicting them leaves behind:
    write_db(d.db, "DELETE FROM predictions")
    d.start()
    eventually(lambda: query(d.db, SAMPLES_WITHOUT_PREDICTION)[0][0] == 0, timeout=60, what="back-fill")
    assert query(d.db, "SELECT COUNT(*) FROM predictions WHERE task = 'sample_type'")[0][0] == 4
    assert d.stop() == 0


def test_daemon_repredicts_after_a_kill_between_model_activation_and_reprediction(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    _import(d, 3)
    eventually(lambda: query(d.db, SAMPLES_WITHOUT_PREDICTION)[0][0] == 0, what="first predictions")
    d.kill9()
    # A new version was activated, and the kill came before it re-predicted anything.
    write_db(d.db, "UPDATE predictions SET model_version = 'an-older-version'")
    d.start()
    eventually(lambda: query(d.db, SAMPLES_WITHOUT_PREDICTION)[0][0] == 0, timeout=60, what="re-prediction")
    assert d.stop() == 0


@pytest.mark.timeout(900)  # two loads of the sentence model: ~10 s each on a quiet machine, minutes on a busy one
def test_daemon_backfills_text_vectors_after_a_kill(make_daemon):
    d = make_daemon(settle=0.3, embed_text=True)
    staging = d.music / "staging"
    staging.mkdir(parents=True)
    for i, bpm in enumerate((122, 126)):
        synth.write_wav(staging / f"t{i}.flac", synth.drum_track(bpm, keys.parse("Am"), 12.0, seed=i))
        os.replace(staging / f"t{i}.flac", d.tracks / f"t{i}.flac")
    d.start()
    eventually(lambda: query(d.db, "SELECT COUNT(*) FROM vectors WHERE space = 'text'")[0][0] == 2,
               timeout=180, what="text vectors")
    d.kill9()
    write_db(d.db, "DELETE FROM vectors WHERE space = 'text'")
    d.start()
    eventually(lambda: query(d.db, "SELECT COUNT(*) FROM vectors WHERE space = 'text'")[0][0] == 2,
               timeout=180, what="text vectors back-filled")
    assert d.stop() == 0


def test_scan_backfills_predictions_an_interrupted_scan_left_out(tmp_path):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    for i in range(3):
        sample(samples / f"k{i}.wav", "kick", seed=i)
    assert run_djml(home, "scan", "-q").returncode == 0
    db = home / "data" / "library.db"
    write_db(db, "DELETE FROM predictions")       # the state after `kill -9` of that scan
    again = run_djml(home, "scan", "-q")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 unchanged" in again.stderr
    assert query(db, SAMPLES_WITHOUT_PREDICTION)[0][0] == 0
    assert query(db, "SELECT COUNT(*) FROM predictions")[0][0] == 3


def test_a_failed_prediction_shows_in_the_scan_summary_and_exit_code(tmp_path, monkeypatch):
    from djml.cli import cli
    from djml.models import service

    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    sample(samples / "k.wav", "kick", seed=3)
    monkeypatch.setenv("DJML_HOME", str(home))

    def broken(*args, **kwargs):
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(service, "predict_items", broken)
    result = CliRunner().invoke(cli, ["scan", "-q"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "predicting 1 item(s) failed: RuntimeError: model file unreadable" in result.output
