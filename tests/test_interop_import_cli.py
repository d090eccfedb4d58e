"""`djml import` of playlists/history as sets re-learns the recommender right away."""

from __future__ import annotations

from djml import config as cfg
from djml import configfile
from djml import synth


def _library_with_sets(run_djml, tmp_path) -> list:
    tracks = tmp_path / "Tracks"
    tracks.mkdir()
    paths = []
    for i, bpm in enumerate((122, 124, 126, 128)):
        paths.append(synth.write_wav(tracks / f"t{i}.wav", synth.drum_track(bpm, 9, 12.0, seed=i)))
    config = cfg.load()
    config.library, config.samples = [tracks], []
    configfile.write(config)
    run_djml("scan", check=True)
    friday, saturday = tmp_path / "friday.m3u8", tmp_path / "saturday.m3u8"
    friday.write_text("#EXTM3U\n" + "".join(f"{p}\n" for p in paths[:3]), encoding="utf-8")
    saturday.write_text("#EXTM3U\n" + "".join(f"{p}\n" for p in paths[1:]), encoding="utf-8")
    return [friday, saturday]


def test_new_sets_retrain_the_set_model(djml_home, run_djml, tmp_path):
    lists = _library_with_sets(run_djml, tmp_path)
    proc = run_djml("import", "m3u", *lists, check=True)
    assert "set 'friday': 3 entries" in proc.stdout
    assert "Set model: learned from 2 sets (4 tracks)" in proc.stdout
    assert (cfg.load().models_dir / "cf" / "meta.json").exists()


def test_no_train_and_dry_run_learn_nothing(djml_home, run_djml, tmp_path):
    lists = _library_with_sets(run_djml, tmp_path)
    for extra in ("--no-train", "--dry-run"):
        proc = run_djml("import", "m3u", *lists, extra, check=True)
        assert "Learning from your sets" not in proc.stdout
    assert not (cfg.load().models_dir / "cf" / "meta.json").exists()


def test_entries_not_in_the_library_are_named(djml_home, run_djml, tmp_path):
    lists = _library_with_sets(run_djml, tmp_path)
    gone = tmp_path / "Tracks" / "never scanned.mp3"
    lists[0].write_text(lists[0].read_text(encoding="utf-8") + f"{gone}\n", encoding="utf-8")
    proc = run_djml("import", "m3u", lists[0], "--no-train")
    assert proc.returncode == 1   # some entries matched nothing
    assert "1 not in library" in proc.stdout
    assert f"not in library (playlist 'friday'): {gone}" in proc.stderr
