"""`djml scan` end to end: real audio files, a real SQLite file, the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import struct

import pytest

from djml import config as cfg
from djml import configfile
from djml import db, synth
from djml.library import Library

TRACKS = [(124, "Am"), (128, "Fm"), (174, "C")]


def _riff_wav_with_ogg_payload(path, ogg_bytes: bytes) -> None:
    """A RIFF/WAVE container whose fmt chunk declares Ogg Vorbis (0x674F) — exists in the
    wild, and libsndfile cannot decode it."""
    fmt = struct.pack("<HHIIHH", 0x674F, 2, 44100, 176400, 4, 16)
    data = ogg_bytes
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


@pytest.fixture
def music(tmp_path, djml_home):
    """A library folder with tracks, a sample folder with one-shots, a folder of broken
    files, and a config pointing at the first two."""
    from djml import keys

    root = tmp_path / "music"
    tracks, samples, broken = root / "Tracks", root / "Samples", root / "Broken"
    for folder in (tracks, samples / "Kicks", samples / "Hats", broken):
        folder.mkdir(parents=True)
    for i, (bpm, key) in enumerate(TRACKS):
        synth.write_wav(tracks / f"track {i} – {bpm} ünïcødé #%.flac",
                        synth.drum_track(bpm, keys.parse(key), 12.0, seed=i))
    synth.write_wav(samples / "Kicks" / "kick.wav", synth.one_shot("kick"))
    synth.write_wav(samples / "Hats" / "hat 🎧.wav", synth.one_shot("hihat"))
    synth.write_wav(samples / "Hats" / "hat.ogg", synth.one_shot("hihat", seed=2))
    (broken / "empty.wav").write_bytes(b"")
    (broken / "random.mp3").write_bytes(os.urandom(4096))
    (broken / "text.wav").write_text("this is not audio\n" * 100)
    good_flac = (tracks / os.listdir(tracks)[0]).read_bytes()
    (broken / "truncated.flac").write_bytes(good_flac[: len(good_flac) // 50])
    _riff_wav_with_ogg_payload(broken / "ogg-in-wav.wav", (samples / "Hats" / "hat.ogg").read_bytes())
    os.symlink(tracks, tracks / "loop")  # a symlink loop must not hang the walk
    config = cfg.load()
    config.library, config.samples = [tracks], [samples]
    config.workers = 2
    configfile.write(config)
    return root


def ls_json(run_djml, *args) -> list[dict]:
    proc = run_djml("ls", "--json", *args, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_scan_reports_every_good_and_every_broken_file(run_djml, music):
    proc = run_djml("scan", music / "Tracks", music / "Samples", music / "Broken")
    assert proc.returncode == 1, proc.stderr  # some files failed
    items = ls_json(run_djml)
    paths = {os.path.basename(i["path"]) for i in items}
    assert {"kick.wav", "hat 🎧.wav", "hat.ogg"} <= paths
    assert sum(1 for i in items if i["kind"] == "track") == len(TRACKS)
    assert {i["kind"] for i in items if i["path"].startswith(str(music / "Samples"))} == {"sample"}
    failed = {os.path.basename(r["path"]): r["error"] for r in ls_json(run_djml, "--failed")}
    # the link loop is not followed, and shown with the failures (issue 13), not only logged
    assert set(failed) == {"empty.wav", "random.mp3", "text.wav", "truncated.flac", "ogg-in-wav.wav", "loop"}
    assert "link loop" in failed["loop"]
    assert all(reason and len(reason) > 5 for reason in failed.values())
    assert "0 bytes" in failed["empty.wav"]
    for name in failed:
        assert name in proc.stderr  # the summary names each failure


def test_ls_and_show_give_integrated_loudness(run_djml, music):
    run_djml("scan", music / "Tracks", music / "Samples", check=True)
    items = ls_json(run_djml)
    tracks = [i for i in items if i["kind"] == "track"]
    assert tracks and all(-40 < i["lufs"] < 0 and i["true_peak_db"] <= 0.5 and i["lra"] >= 0 for i in tracks)
    shown = run_djml("show", str(tracks[0]["id"]), check=True).stdout
    assert f"{tracks[0]['lufs']:.1f} LUFS" in shown and "dBTP" in shown and "RMS" in shown
    data = json.loads(run_djml("show", str(tracks[0]["id"]), "--json", check=True).stdout)["analysis"]["data"]
    assert data["lufs"] == tracks[0]["lufs"]


def test_rescan_of_unchanged_files_does_no_audio_work(run_djml, music):
    run_djml("scan")
    conn = db.connect(cfg.load().db_path)
    before = conn.execute("SELECT item_id, analyzed_at FROM analyses ORDER BY item_id").fetchall()
    proc = run_djml("scan", check=True)
    assert "0 new" in proc.stderr and "6 unchanged" in proc.stderr
    after = conn.execute("SELECT item_id, analyzed_at FROM analyses ORDER BY item_id").fetchall()
    assert [tuple(r) for r in before] == [tuple(r) for r in after]


def test_items_from_an_older_analyzer_are_reanalysed_once(run_djml, music):
    """After an upgrade that changes a kind's results, a rescan re-analyses exactly the
    stale items of that kind; identity and labels stay, and the next scan is a no-op."""
    from djml.analysis import ANALYZER_VERSIONS

    run_djml("scan")
    config = cfg.load()
    conn = db.connect(config.db_path)
    track = next(i for i in ls_json(run_djml, "--kind", "track"))
    Library(conn).set_label(track["id"], "bucket", "closing")
    with conn:
        conn.execute("UPDATE analyses SET analyzer_version = analyzer_version - 1, bpm = 1.0"
                     " WHERE item_id IN (SELECT id FROM items WHERE kind = 'track')")
    proc = run_djml("scan", check=True)
    assert "3 re-analysed" in proc.stderr and "3 unchanged" in proc.stderr and "0 new" in proc.stderr
    rows = conn.execute("SELECT i.kind, a.analyzer_version, a.bpm FROM analyses a"
                        " JOIN items i ON i.id = a.item_id").fetchall()
    assert {(r["kind"], r["analyzer_version"]) for r in rows} == {
        ("track", ANALYZER_VERSIONS["track"]), ("sample", ANALYZER_VERSIONS["sample"])}
    assert all(r["bpm"] > 60 for r in rows if r["kind"] == "track")
    again = ls_json(run_djml, "--kind", "track")
    assert len(again) == 3 and next(i for i in again if i["id"] == track["id"])["label"] == "closing"
    assert "6 unchanged" in run_djml("scan", check=True).stderr


def test_moves_renames_and_copies_keep_identity_and_labels(run_djml, music):
    run_djml("scan", check=True)
    config = cfg.load()
    library = Library(db.connect(config.db_path))
    ids_by_name = {os.path.basename(i["path"]): i["id"] for i in ls_json(run_djml)}
    kick_id = ids_by_name["kick.wav"]
    track_name = next(n for n in ids_by_name if n.startswith("track 0"))
    track_id = ids_by_name[track_name]
    library.set_label(kick_id, "sample_type", "kick")
    library.set_label(track_id, "bucket", "peak-time")

    samples, tracks = music / "Samples", music / "Tracks"
    (samples / "Drums").mkdir()
    os.rename(samples / "Kicks" / "kick.wav", samples / "Drums" / "Renamed Kick.wav")  # same inode
    # Across file systems a move is copy + delete: new inode, found by audio content.
    shutil.copy2(tracks / track_name, tracks / "moved elsewhere.flac")
    os.remove(tracks / track_name)
    shutil.copy(samples / "Hats" / "hat.ogg", samples / "hat copy.ogg")  # a second copy

    proc = run_djml("scan", check=True)
    assert "2 moved" in proc.stderr and "1 copies" in proc.stderr and "0 new" in proc.stderr
    items = ls_json(run_djml)
    assert len(items) == 6  # no duplicates
    by_id = {i["id"]: i for i in items}
    assert by_id[kick_id]["path"].endswith("Renamed Kick.wav")
    assert by_id[kick_id]["label"] == "kick"
    assert by_id[track_id]["path"].endswith("moved elsewhere.flac")
    assert by_id[track_id]["label"] == "peak-time"
    hat_id = ids_by_name["hat.ogg"]
    locations = json.loads(run_djml("show", str(hat_id), "--json", check=True).stdout)["locations"]
    assert sorted(os.path.basename(loc["path"]) for loc in locations) == ["hat copy.ogg", "hat.ogg"]


def test_vanished_file_is_missing_not_deleted(run_djml, music):
    run_djml("scan", check=True)
    config = cfg.load()
    library = Library(db.connect(config.db_path))
    kick = next(i for i in ls_json(run_djml) if i["path"].endswith("kick.wav"))
    library.set_label(kick["id"], "sample_type", "kick")
    os.remove(kick["path"])
    proc = run_djml("scan", check=True)
    assert "1 missing" in proc.stderr
    missing = ls_json(run_djml, "--missing")
    assert [i["id"] for i in missing] == [kick["id"]]
    assert missing[0]["label"] == "kick"
    shown = json.loads(run_djml("show", str(kick["id"]), "--json", check=True).stdout)
    assert shown["locations"][0]["status"] == "missing"
    assert shown["labels"][0]["label"] == "kick"


def test_retagged_file_keeps_its_item(run_djml, music):
    from mutagen.flac import FLAC

    run_djml("scan", check=True)
    track = next(i for i in ls_json(run_djml, "--kind", "track") if "174" in i["path"])
    audio = FLAC(track["path"])
    audio["artist"], audio["title"], audio["genre"] = "Subfield", "Roller", "Drum & Bass"
    audio.save()
    proc = run_djml("scan", check=True)
    assert "1 updated" in proc.stderr
    found = ls_json(run_djml, "--search", "subfield roll")
    assert [(i["id"], i["title"], i["genre"]) for i in found] == [(track["id"], "Roller", "Drum & Bass")]


def test_ls_filters(run_djml, music):
    run_djml("scan", check=True)
    assert {i["kind"] for i in ls_json(run_djml, "--kind", "sample")} == {"sample"}
    in_range = ls_json(run_djml, "--bpm", "120-130")
    assert in_range and all(120 <= i["bpm"] <= 130 for i in in_range)
    for item in ls_json(run_djml, "--kind", "track"):
        same_key = ls_json(run_djml, "--key", item["key"])
        assert item["id"] in {i["id"] for i in same_key}
        assert {i["camelot"] for i in same_key} == {item["camelot"]}
    proc = run_djml("ls", "--bpm", "fast")
    assert proc.returncode == 2 and "120-128" in proc.stderr
    proc = run_djml("ls", "--key", "H#")
    assert proc.returncode == 2 and "unknown key" in proc.stderr


def test_scan_without_library_config_is_a_usage_error(run_djml):
    proc = run_djml("scan")
    assert proc.returncode == 2 and "djml init" in proc.stderr
    proc = run_djml("scan", "/definitely/not/here")
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_ls_before_any_scan_explains(run_djml):
    proc = run_djml("ls")
    assert proc.returncode == 2 and "djml scan" in proc.stderr


def _scan_one_kick(tmp_path, djml_home, report: str, runs: int = 1) -> list:
    """``djml scan`` of a folder with one kick, in fresh processes (``runs`` in a row) that
    print ``report`` (an expression over ``sys.modules``) after the scan."""
    import subprocess
    import sys

    folder = tmp_path / "lib"
    folder.mkdir(exist_ok=True)
    synth.write_wav(folder / "kick.wav", synth.one_shot("kick"))
    (djml_home / "config.toml").write_text(f'library = ["{folder}"]\n')
    code = ("import sys\nfrom djml.cli import cli\n"
            "try:\n    cli.main(['scan', '--workers', '1'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            f"print({report})")
    env = {**os.environ, "DJML_HOME": str(djml_home), "NO_COLOR": "1"}
    return [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)
            for _ in range(runs)]


def test_a_rescan_with_nothing_to_analyse_leaves_the_analysis_stack_alone(tmp_path, djml_home):
    """Which items are stale is decided from djml.analysis_versions alone: the process that
    plans a scan imports numpy and the decoders only when a worker result comes back."""
    first, again = _scan_one_kick(tmp_path, djml_home, "[m for m in ('numpy', 'soundfile', 'soxr', "
                                  "'djml.analysis') if m in sys.modules]", runs=2)
    assert "1 new" in first.stdout + first.stderr and "1 unchanged" in again.stdout + again.stderr, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "[]", again.stdout


def test_receiving_analysis_results_loads_only_the_result_record(tmp_path, djml_home):
    """A worker's result unpickles as djml.analysis.result.Analysis, which imports the
    djml.analysis package first; the scan's parent stores it (and loads the shipped models,
    which read the vector layout) with numpy, the record and the layout alone, never the
    decoders or the DSP modules its workers ran."""
    (proc,) = _scan_one_kick(tmp_path, djml_home, "sorted(m for m in sys.modules if m.split('.')[0] in "
                             "('soundfile', 'soxr', 'scipy') or m.startswith('djml.analysis.'))")
    assert "1 new" in proc.stdout + proc.stderr, proc.stderr
    loaded = proc.stdout.strip().splitlines()[-1]
    assert loaded == "['djml.analysis.errors', 'djml.analysis.layout', 'djml.analysis.result']", proc.stdout
