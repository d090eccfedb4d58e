"""The model monitor in a real daemon (subprocess, socket, SQLite) on generated tracks, with a
fake clock (DJML_MONITOR_CLOCK): labels → predictions → review actions → acceptance; a
drifted batch → a drift event naming the moved features → a retrain for drift; a week
later on the fake clock → a scheduled retrain → shadow evaluation → activate or reject;
`djml models history --json` / `models stats --json` over the three versions."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np

from daemon_support import named, running_daemon, wait_for
from djml.config import Config
from djml.models import service
from models_support import open_library
from monitor_support import generated_library

DAY = 86400.0


def predictions(db, ids):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        marks = ",".join("?" * len(ids))
        return dict(conn.execute(f"SELECT item_id, label FROM predictions WHERE task = 'bucket'"
                                 f" AND item_id IN ({marks})", ids).fetchall())
    finally:
        conn.close()


def review(client, db, ids, accept: int):
    """Label ``ids`` as the review queue does: the first ``accept`` with the predicted
    bucket (Enter), the rest with another one (a correction)."""
    guess = predictions(db, ids)
    for n, i in enumerate(ids):
        chosen = guess[i] if n < accept else ("closing" if guess[i] != "closing" else "warm-up")
        client.call("label.set", item_id=i, task="bucket", label=chosen, create=True)


def drain(client, seconds: float) -> list[tuple[str, dict]]:
    """The events that arrive within ``seconds`` (none is fine)."""
    out, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            out.append(client.next_event(timeout=left))
        except TimeoutError:
            break
    return out


def trained(events, reason_start):
    return [d for d in named(events, "model.trained") if d.get("result", {}).get("reason", "").startswith(reason_start)]


def test_monitor_in_a_running_daemon(tmp_path, monkeypatch):
    home, music, gen = tmp_path / "home", tmp_path / "music", tmp_path / "generated"
    (home / "data").mkdir(parents=True)
    gen.mkdir()
    library = open_library(home / "data")
    config = Config(config_path=home / "config.toml", data_dir=home / "data")
    rng = np.random.default_rng(11)
    truth = generated_library(library, gen, 60, rng)
    for i in sorted(truth)[:36]:
        library.set_label(i, "bucket", truth[i])
    now = time.time()
    first = service.train(library, config, "bucket", clock=now)
    assert first["status"] == "activated"
    drifted = generated_library(library, gen, 70, rng, start=1000, shift={"bpm": 1.0, "band_low": 1.0})
    service.predict_items(library, config, sorted(drifted))
    library.conn.close()
    # The fake clock starts two hours ahead, inside quiet hours: checks run, trainings wait
    # (so the review below is not cut short by a retrain after its first label).
    clock = tmp_path / "clock"
    quiet_time = now + 2 * 3600
    quiet = time.localtime(quiet_time).tm_hour
    clock.write_text(str(quiet_time))
    monkeypatch.setenv("DJML_MONITOR_CLOCK", str(clock))
    extra = f'monitor_seconds = 0.3\nretrain_after = 1000\nquiet_hours = "{quiet}-{quiet + 1}"\n'

    with running_daemon(home, music, extra_config=extra) as d:
        with d.client() as events, d.client() as c:
            events.subscribe(["model.drift", "model.training", "model.trained"])
            # the first check sees the drifted batch: one event, naming the two moved features
            seen = wait_for(events, lambda ev: named(ev, "model.drift"), timeout=60)
            (found,) = named(seen, "model.drift")
            assert {"bpm", "band_low"} <= set(found["features"]) <= {"bpm", "band_low", "classes"}
            assert found["message"].startswith("BPM and low-band energy: new items are faster and heavier"
                                               " than what bucket v1 learned from")

            # review actions on predicted items → acceptance figures
            new = sorted(drifted)
            review(c, d.db, new[:12], accept=9)
            stats = c.call("models.stats", task="bucket")["tasks"][0]
            assert (stats["since_activation"]["accepted"], stats["since_activation"]["corrected"]) == (9, 3)
            assert stats["since_activation"]["low"] < 0.75 < stats["since_activation"]["high"]

            # drift found and new labels to learn from: a retrain for drift, once the quiet hour is over
            seen += drain(events, 1.0)
            assert not named(seen, "model.training")
            clock.write_text(str(quiet_time + 3600))
            seen += wait_for(events, lambda ev: trained(ev, "drift"), timeout=120)
            (drift_run,) = trained(seen, "drift")
            assert drift_run["result"]["reason"] == "drift: BPM, low-band energy"
            assert drift_run["result"]["status"] == "activated"

            # more labels; nothing more happens until the week is over on the fake clock
            review(c, d.db, new[12:40], accept=22)
            seen += drain(events, 1.5)
            assert len(named(seen, "model.training")) == 1
            clock.write_text(str(now + 8 * DAY))
            seen += wait_for(events, lambda ev: trained(ev, "schedule"), timeout=120)
            (scheduled,) = trained(seen, "schedule")
            result = scheduled["result"]
            assert result["reason"].startswith("schedule weekly: 28 new label(s)")
            assert result["compared_on"] >= 5 and result["before_version"] == drift_run["result"]["version"]
            assert result["status"] == ("rejected" if result["p_worse"] < 0.05 else "activated")

        history = json.loads(d.djml("models", "history", "--task", "buckets", "--json").stdout)
        (task,) = history["tasks"]
        assert [v["name"] for v in task["versions"]] == ["bucket v1", "bucket v2", "bucket v3"]
        assert [v["reason"] for v in task["versions"]] == ["manual", "drift: BPM, low-band energy",
                                                         result["reason"]]
        assert task["versions"][0]["drift"]["drifted"] is True
        assert task["versions"][2]["shadow"]["compared_on"] == result["compared_on"]
        assert all(v["figure"]["n"] > 0 for v in task["versions"])
        stats = json.loads(d.djml("models", "stats", "--json").stdout)
        (bucket,) = [t for t in stats["tasks"] if t["task"] == "bucket"]
        assert bucket["last_30_days"]["n"] == 40 and bucket["last_30_days"]["accepted"] == 31
        text = d.djml("models", "history").stdout
        assert "bucket v3" in text and "drift: BPM, low-band energy" in text
