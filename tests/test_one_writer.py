"""One writer: while the daemon runs, every mutating command asks it (djml.client →
djml.protocol) and the daemon's log names each write it did. Every command here runs in
its own process under ``write_guard.py``: any statement that would change the library
from that process is refused and recorded, so a command that still writes the database
itself fails this test. The last step proves the guard catches such a writer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon_support import running_daemon
from djml import synth

pytestmark = pytest.mark.timeout(600)

GUARD = Path(__file__).with_name("write_guard.py")
KINDS = ("kick", "snare", "hihat")


def guarded(d, trace: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GUARD), str(trace), *args], capture_output=True, text=True,
                          env=d.env, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def wait_idle(client, items: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = client.call("status")
        q = st["queue"]
        if st["library"]["samples"] + st["library"]["tracks"] >= items and not (q["queued"] or q["running"]
                                                                                   or q["settling"]):
            return
        time.sleep(0.2)
    raise AssertionError(f"library not analysed in time: {client.call('status')}")


def test_every_mutating_command_goes_through_the_running_daemon(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    home.mkdir()
    trace = tmp_path / "direct-writes.txt"
    with running_daemon(home, music, settle=0.2, extra_config="retrain_after = 1000\n") as d:
        samples = [synth.write_wav(d.samples / f"hit {i:02d}.wav", synth.one_shot(kind, seed=i))
                   for i, kind in enumerate(KINDS * 4)]
        tracks = [synth.write_wav(d.tracks / f"t{i}.wav", synth.drum_track(bpm, key, 8, seed=i))
                  for i, (bpm, key) in enumerate([(124, 9), (126, 21)])]
        with d.client() as c:
            wait_idle(c, len(samples) + len(tracks))
            ids = {Path(row["path"]).name: row["id"] for row in c.call("query", limit=100)["items"]}

        labels = tmp_path / "labels.csv"
        labels.write_text("path,sample_type\n" + "".join(f"{p},{KINDS[i % 3]}\n" for i, p in enumerate(samples)))
        assert "imported 12 label(s)" in ok(guarded(d, trace, "import-labels", str(labels)))
        fixes = tmp_path / "fixes.csv"
        fixes.write_text(f"item_id,sample_type\n{ids['hit 00.wav']},perc\n")
        assert "imported 1 label(s)" in ok(guarded(d, trace, "feedback", "import", str(fixes)))
        ok(guarded(d, trace, "label", str(ids["hit 01.wav"]), "snare"))
        ok(guarded(d, trace, "unlabel", str(ids["hit 01.wav"])))

        trained = json.loads(ok(guarded(d, trace, "train", "--task", "samples", "--json")))
        assert trained["status"] in ("activated", "rejected"), trained
        with d.client() as c:   # the same action, asked over the socket: its stages arrive first
            stages: list[dict] = []
            again = c.call("train", task="sample_type", on_progress=stages.append)
        assert again["status"] == "unchanged" and stages and stages[0]["method"] == "train"
        assert stages[0]["stage"] == "sample_type: loading labels"
        predicted = json.loads(ok(guarded(d, trace, "predict", str(ids["hit 02.wav"]), "--json")))
        assert predicted[0]["task"] == "sample_type" and isinstance(predicted[0]["confidence"], float)
        versions = json.loads(ok(guarded(d, trace, "models", "list", "--task", "samples", "--json")))
        mine = trained["version"]
        shipped = next(v["version"] for v in versions if v["version"] != mine)
        ok(guarded(d, trace, "models", "activate", shipped))
        ok(guarded(d, trace, "models", "activate", mine))
        assert "rolled back" in ok(guarded(d, trace, "models", "rollback", "samples"))
        assert f"deleted {mine}" in ok(guarded(d, trace, "models", "delete", mine))

        playlist = tmp_path / "friday.m3u8"
        playlist.write_text("#EXTM3U\n" + "".join(f"{t}\n" for t in tracks))
        assert "set 'friday': 2 entries" in ok(guarded(d, trace, "import", "m3u", str(playlist), "--no-train"))
        assert "Recorded:" in ok(guarded(d, trace, "recommend", str(ids["t0.wav"]), "--accept", str(ids["t1.wav"])))
        written = ok(guarded(d, trace, "tags", "write"))
        assert "2 file(s) changed" in written, written
        assert "2 file(s) restored" in ok(guarded(d, trace, "tags", "undo"))
        made = guarded(d, trace, "demo", "--into-my-library", "--tracks", "1", "--dir", str(tmp_path / "demo"),
                       timeout=240)
        demo = ok(made) + made.stderr
        assert "Analysed by the daemon" in demo and "Demo tracks" in demo

        log = d.log.read_text()
        for method in ("labels.import", "label.set", "label.undo", "train", "models.activate", "models.rollback",
                       "models.delete", "predict", "import", "recommend.accept", "tags.write", "tags.undo", "folders.add"):
            assert f"write {method} " in log, f"the daemon did not log a {method} write"
        assert not trace.exists(), trace.read_text()

    # no daemon now: the same command writes the library itself — and the guard sees it
    refused = guarded(d, trace, "label", str(ids["hit 01.wav"]), "snare")
    assert refused.returncode != 0 and trace.read_text().startswith(f"djml label {ids['hit 01.wav']} snare: ")
