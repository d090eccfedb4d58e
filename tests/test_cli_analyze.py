"""`djml analyze FILE... [--json]`: analysis without a library, as a user runs it."""

from __future__ import annotations

import json

from djml import keys, synth

TRACK_FIELDS = {"path", "kind", "duration", "bpm", "bpm_confidence", "bpm_candidates", "key", "key_id3",
                "camelot", "open_key", "key_confidence", "energy", "loudness", "lufs", "lra", "true_peak_db"}
SAMPLE_FIELDS = {"sample_type", "attack", "decay", "brightness", "noisiness", "pitch_hz", "note", "loop_bpm"}


def test_json_lines_with_a_failure_in_the_middle(run_djml, tmp_path):
    track = synth.write_wav(tmp_path / "Ünïcode – 124.wav", synth.drum_track(124.0, keys.parse("8A"), 35.0))
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3" + bytes(500))
    shot = synth.write_wav(tmp_path / "kick.wav", synth.one_shot("kick"))
    proc = run_djml("analyze", "--json", track, broken, shot)
    assert proc.returncode == 1, proc.stderr          # some files failed
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(track), str(broken), str(shot)]   # input order
    t, b, s = lines
    assert TRACK_FIELDS <= set(t)
    assert t["kind"] == "track" and abs(t["bpm"] - 124.0) < 0.5
    assert (t["camelot"], t["key"], t["key_id3"], t["open_key"]) == ("8A", "A minor", "Am", "1m")
    assert set(b) == {"path", "error"} and b["error"]
    assert s["kind"] == "sample" and SAMPLE_FIELDS <= set(s) and s["sample_type"] == "one-shot"


def test_table_names_every_failure_in_full(run_djml, tmp_path):
    good = synth.write_wav(tmp_path / "good.wav", synth.one_shot("snare"))
    text = tmp_path / "notes.flac"
    text.write_text("not audio at all\n" * 20)
    proc = run_djml("analyze", good, text)
    assert proc.returncode == 1
    assert "good.wav" in proc.stdout
    assert f"error {text}: not an audio file" in proc.stdout


def test_table_gives_lufs_true_peak_and_rms_by_name(run_djml, tmp_path):
    track = synth.write_wav(tmp_path / "t.wav", synth.drum_track(124.0, keys.parse("8A"), 35.0))
    facts = json.loads(run_djml("analyze", "--json", track, check=True).stdout)
    proc = run_djml("analyze", track, check=True)
    assert f"{facts['lufs']:.1f} LUFS" in proc.stdout and f"peak {facts['true_peak_db']:.1f} dBTP" in proc.stdout
    assert f"RMS {facts['loudness']:.1f} dBFS" in proc.stdout
    assert facts["lufs"] != facts["loudness"]


def test_all_good_exits_zero(run_djml, tmp_path):
    shot = synth.write_wav(tmp_path / "hat.wav", synth.one_shot("hihat"))
    proc = run_djml("analyze", "--json", shot)
    assert proc.returncode == 0 and json.loads(proc.stdout)["kind"] == "sample"


def test_decoder_chatter_stays_off_the_terminal(run_djml, tmp_path):
    """libmpg123 printed "Note: Trying to resync..." for every damaged MP3 of a scan."""
    bad = tmp_path / "damaged.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x00" + bytes(range(256)) * 3) * 40)
    proc = run_djml("analyze", bad)
    assert proc.returncode == 1 and f"error {bad}:" in proc.stdout
    assert "libmpg123" not in proc.stderr and "resync" not in proc.stderr, proc.stderr


PARENT_MODULES = ("numpy", "scipy", "soundfile", "soxr", "djml.analysis")


def _parent_modules(djml_home, argv: list[str], small_batch_bytes: int | None = None) -> tuple[list[str], str]:
    """Run `djml analyze` in a fresh process; which analysis modules did the process that
    prints (not its workers) import?"""
    import os
    import subprocess
    import sys

    code = ("import sys\nimport djml.describe\n"
            + (f"djml.describe.SMALL_BATCH_BYTES = {small_batch_bytes}\n" if small_batch_bytes is not None else "")
            + "from djml.cli import cli\n"
            f"try:\n    cli.main({['analyze', *argv]!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {PARENT_MODULES!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "DJML_HOME": str(djml_home), "NO_COLOR": "1"})
    return eval(proc.stdout.strip().splitlines()[-1]), proc.stdout + proc.stderr  # noqa: S307 - our own print


def test_the_printing_process_never_imports_the_analysis_stack(djml_home, tmp_path):
    """One file runs in a forked child, a batch in pool workers: either way rows come back
    as plain data and the parent stays free of numpy and the decoders."""
    shot = synth.write_wav(tmp_path / "kick.wav", synth.one_shot("kick"))
    other = synth.write_wav(tmp_path / "snare.wav", synth.one_shot("snare"))
    alone, out = _parent_modules(djml_home, ["--json", str(shot)])
    assert alone == [] and '"sample_type": "one-shot"' in out, out
    pooled, out = _parent_modules(djml_home, ["--json", "--workers", "2", str(shot), str(other)],
                                  small_batch_bytes=0)
    assert pooled == [] and out.count('"kind": "sample"') == 2, out


def test_a_crash_in_the_forked_child_fails_that_file_alone(tmp_path, monkeypatch):
    """The child analyses in order, so the first file it did not answer killed it; a new
    child carries on with the rest."""
    import os
    import signal

    from djml import describe
    from djml.pipeline import Settings

    files = [synth.write_wav(tmp_path / f"{name}.wav", synth.one_shot(kind))
             for name, kind in (("a", "kick"), ("poison", "snare"), ("c", "hihat"))]
    real = describe.describe_file

    def dies_on_poison(path, kind, settings):
        if "poison" in path:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, kind, settings)

    monkeypatch.setattr(describe, "describe_file", dies_on_poison)
    rows = list(describe.forked_rows([str(f) for f in files], Settings(), kind_for=lambda p: None))
    assert [r["path"] for r in rows] == [str(f) for f in files]
    assert rows[1] == {"path": str(files[1]), "error": describe.CRASHED}
    assert rows[0]["kind"] == rows[2]["kind"] == "sample"


def test_small_batches_stay_in_one_child_and_big_ones_use_the_pool(tmp_path, monkeypatch):
    from djml import describe

    shots = [str(synth.write_wav(tmp_path / f"s{i}.wav", synth.one_shot("kick"))) for i in range(3)]
    assert describe.in_one_child(shots[:1], workers=4)
    assert describe.in_one_child(shots, workers=1)
    assert describe.in_one_child(shots, workers=4)           # a few one-shots: not worth a pool
    monkeypatch.setattr(describe, "SMALL_BATCH_BYTES", 1000)
    assert not describe.in_one_child(shots, workers=4)
