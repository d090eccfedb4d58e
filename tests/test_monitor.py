"""Models that watch themselves (djml.models.monitor): acceptance, drift, schedules, shadow
evaluation, history — on the real writer and real training, without a daemon (the daemon
side is tests/test_monitor_daemon.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from djml import cron
from djml.config import Config
from djml.models import labels as label_sources
from djml.models import registry, service
from djml.models.monitor import acceptance, drift, history, runs, schedule
from models_support import open_library
from monitor_support import GENERATOR, draw, generated_library

DAY = 86400.0


@pytest.fixture
def lib(tmp_path):
    library = open_library(tmp_path)
    config = Config(config_path=tmp_path / "config.toml", data_dir=tmp_path / "data")
    truth = generated_library(library, tmp_path, 60, np.random.default_rng(1))
    return library, config, truth


def label(library, ids, truth, source="user"):
    for i in ids:
        library.set_label(i, "bucket", truth[i], source)


# -- schedules --------------------------------------------------------------------------------


def test_schedules_parse_and_fall_due():
    weekly = cron.parse_schedule("weekly")
    assert weekly.due(None, 0) and not weekly.due(0, 6 * DAY) and weekly.due(0, 7 * DAY)
    assert cron.parse_schedule("off").off and not cron.parse_schedule("off").due(None, 1e9)
    monday = cron.parse_schedule("30 4 * * 1")
    t = datetime(2026, 11, 30, 4, 30).timestamp()     # a Monday, 04:30 local time
    assert monday.matches(t) and not monday.matches(t + 60)
    assert monday.due(t - 3600, t) and not monday.due(t, t + 3600) and monday.due(t - 8 * 3600, t + 7 * DAY)
    assert cron.parse_schedule("*/15 0-6 * * 0,7").matches(datetime(2026, 11, 29, 6, 45).timestamp())  # Sunday
    for bad in ("hourly", "61 * * * *", "* * *", "a b c d e"):
        with pytest.raises(cron.ScheduleError):
            cron.parse_schedule(bad)
    night = cron.parse_quiet_hours("22-06")
    assert cron.in_quiet_hours(night, datetime(2026, 12, 1, 23, 0).timestamp())
    assert cron.in_quiet_hours(night, datetime(2026, 12, 1, 5, 59).timestamp())
    assert not cron.in_quiet_hours(night, datetime(2026, 12, 1, 6, 0).timestamp())
    assert cron.parse_quiet_hours("") is None
    with pytest.raises(cron.ScheduleError):
        cron.parse_quiet_hours("6")


def test_config_checks_schedule_and_quiet_hours(tmp_path):
    from djml.config import ConfigError, from_dict

    path = tmp_path / "config.toml"
    config = from_dict({"retrain_schedule": "0 3 * * 6", "quiet_hours": "18-02", "drift_threshold": 0.2}, path)
    assert (config.retrain_schedule, config.quiet_hours, config.drift_threshold) == ("0 3 * * 6", "18-02", 0.2)
    for bad in ({"retrain_schedule": "fortnightly"}, {"quiet_hours": "25-3"}, {"drift_threshold": 0}):
        with pytest.raises(ConfigError) as exc:
            from_dict(bad, path)
        assert next(iter(bad)) in str(exc.value)


# -- drift statistics -------------------------------------------------------------------------


def snapshot_of(rng, n):
    items = [draw(rng) for _ in range(n)]
    return {"kind": "track", "n": n, "classes": {"warm-up": n // 2, "peak-time": n - n // 2},
            "features": {name: drift.describe([f[name] for f in items]) for name in GENERATOR}}


def check(rng, snap, n, shift=None):
    items = [draw(rng, shift) for _ in range(n)]
    predicted = list(rng.choice(["warm-up", "peak-time"], n))
    values = {name: [f[name] for f in items] for name in GENERATOR}
    return drift.compare(snap, values, predicted, 0.1, "bucket v7")


def test_a_one_sd_shift_in_two_features_is_found_and_named():
    found = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        result = check(rng, snapshot_of(rng, 200), 60, shift={"bpm": 1.0, "band_low": 1.0})
        found.append(set(result["features"]))
    assert all(f == {"bpm", "band_low"} for f in found), found
    rng = np.random.default_rng(0)
    result = check(rng, snapshot_of(rng, 200), 60, shift={"bpm": 1.0, "band_low": 1.0})
    assert result["message"] == ("BPM and low-band energy: new items are faster and heavier"
                                 " than what bucket v7 learned from")
    down = check(rng, snapshot_of(rng, 200), 60, shift={"bpm": -1.0})
    assert down["features"] == ["bpm"] and "slower" in down["message"]


def test_unshifted_items_from_the_same_generator_raise_no_alarm():
    alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        alarms += check(rng, snapshot_of(rng, 200), 60)["drifted"]
    assert alarms <= 1   # <= 5 % of 20 runs


def test_small_shifts_stay_below_the_threshold():
    """A tenth of an SD is KL ≈ 0.005: real, detectable with thousands of items, not worth a word."""
    rng = np.random.default_rng(5)
    assert not check(rng, snapshot_of(rng, 2000), 2000, shift={"bpm": 0.1})["drifted"]


def test_predicted_classes_moving_away_from_the_training_labels_is_drift():
    rng = np.random.default_rng(3)
    snap = snapshot_of(rng, 200)
    values = {name: [draw(rng)[name] for _ in range(60)] for name in GENERATOR}
    result = drift.compare(snap, values, ["peak-time"] * 55 + ["warm-up"] * 5, 0.1, "bucket v2")
    assert result["features"] == ["classes"]
    assert "bucket v2 now predicts peak-time for 92% of new items (50% of its training labels)" in result["message"]


# -- acceptance -------------------------------------------------------------------------------


def test_labels_on_predicted_items_count_as_accepted_or_corrected(lib):
    library, config, truth = lib
    ids = sorted(truth)
    label(library, ids[:30], truth)
    assert service.train(library, config, "bucket")["status"] == "activated"
    predicted = {r["item_id"]: r["label"] for r in library.conn.execute(
        "SELECT item_id, label FROM predictions WHERE task = 'bucket'")}
    other = {i: "closing" if predicted[i] != "closing" else "warm-up" for i in predicted}
    agree, corrected, imported = ids[30:38], ids[38:41], ids[41:43]
    for i in agree:
        library.set_label(i, "bucket", predicted[i])                  # accepted
    for i in corrected:
        library.set_label(i, "bucket", other[i])                      # corrected
    library.import_labels([(i, "bucket", other[i]) for i in imported], "import")   # corrected by an import
    library.set_label(agree[0], "bucket", other[agree[0]])           # a second label: a change of mind
    stats = acceptance.task_stats(library.conn, "bucket")
    assert (stats["since_activation"]["accepted"], stats["since_activation"]["corrected"]) == (8, 5)
    assert stats["last_30_days"]["n"] == 13 and stats["by_source_30_days"]["import"]["corrected"] == 2
    assert stats["since_activation"]["rate"] == pytest.approx(8 / 13)
    assert stats["since_activation"]["low"] < 8 / 13 < stats["since_activation"]["high"]
    assert stats["left"] == len(ids) - 43
    library.undo_label(imported[0], "bucket")                         # an undone label stops counting
    assert acceptance.task_stats(library.conn, "bucket")["since_activation"]["corrected"] == 4


def test_folder_and_tag_labels_are_not_verdicts(lib):
    library, config, truth = lib
    label(library, sorted(truth)[:30], truth)
    service.train(library, config, "bucket")
    library.set_label(sorted(truth)[40], "bucket", "closing", "folder")
    assert acceptance.task_stats(library.conn, "bucket")["last_30_days"]["n"] == 0


def test_recommendations_taken_and_skipped_are_counted(lib):
    library, _, truth = lib
    a, b, c, d = sorted(truth)[:4]
    library.record_recommendation(a, b, {"rank": 3}, [(c, {"rank": 1}), (d, {"rank": 2})])
    rec = acceptance.stats(library.conn)["recommend"]["all_time"]
    assert (rec["taken"], rec["skipped"]) == (1, 2) and rec["rate"] == pytest.approx(1 / 3)


def test_strong_sources_match_the_label_module():
    assert runs.STRONG_SOURCES == label_sources.STRONG_SOURCES


# -- training runs, snapshots, schedule -----------------------------------------------------------


def test_training_is_logged_with_reason_and_snapshot(lib):
    library, config, truth = lib
    label(library, sorted(truth)[:30], truth)
    result = service.train(library, config, "bucket", reason="schedule weekly: 30 new label(s)", clock=123.0)
    run = runs.last_run(library.conn, "bucket")
    assert (run["status"], run["version"], run["reason"], run["clock"]) == (
        "activated", result["version"], "schedule weekly: 30 new label(s)", 123.0)
    assert run["labels_state"] == runs.labels_state(library.conn, "bucket") and run["n_labels"] == 30
    snap = drift.snapshot_of(library.conn, result["version"])
    assert set(snap["features"]) == set(GENERATOR) and snap["n"] == 30 and sum(snap["classes"].values()) == 30
    again = service.train(library, config, "bucket")     # the same labels: no new version, logged
    assert again["status"] == "unchanged" and runs.last_run(library.conn, "bucket")["reason"] == "manual"


def test_schedule_fires_once_per_labels_and_respects_quiet_hours(lib):
    library, config, truth = lib
    ids = sorted(truth)
    label(library, ids[:30], truth)
    service.train(library, config, "bucket", clock=time.time())
    now = time.time()
    assert schedule.due(library.conn, config, now + 8 * DAY) == []          # no new labels: nothing to learn
    label(library, ids[30:33], truth)
    assert schedule.due(library.conn, config, now + DAY) == []              # the week is not over
    (work,) = schedule.due(library.conn, config, now + 8 * DAY)
    assert (work.task, work.kind) == ("bucket", "train") and work.reason.startswith("schedule weekly: 3 new")
    hour = time.localtime(now + 8 * DAY).tm_hour
    config.quiet_hours = f"{hour}-{(hour + 1) % 24}"
    assert schedule.due(library.conn, config, now + 8 * DAY) == []
    config.quiet_hours = ""
    service.train(library, config, "bucket", reason=work.reason, clock=now + 8 * DAY)
    assert schedule.due(library.conn, config, now + 20 * DAY) == []         # never twice for the same labels
    config.retrain_schedule = "off"
    label(library, ids[33:36], truth)
    assert schedule.due(library.conn, config, now + 30 * DAY) == []
    config.retrain_after = 3
    (work,) = schedule.due(library.conn, config, now + 30 * DAY)
    assert work.reason == "labels: 3 new since the last training"


def test_drift_check_records_and_makes_drift_a_reason_to_retrain(lib, tmp_path):
    library, config, truth = lib
    label(library, sorted(truth), truth)
    first = service.train(library, config, "bucket", clock=0.0)
    now = time.time()
    assert not schedule.drift_due(library.conn, "bucket", first["version"], now)     # no new items yet
    new = generated_library(library, tmp_path, 60, np.random.default_rng(7), start=1000,
                            shift={"bpm": 1.0, "band_low": 1.0})
    service.predict_items(library, config, sorted(new))
    assert schedule.drift_due(library.conn, "bucket", first["version"], now)
    result = drift.check(library, "bucket", config.drift_threshold, now)
    assert result["drifted"] and {"bpm", "band_low"} <= set(result["features"])
    assert set(result["features"]) <= {"bpm", "band_low", "classes"}
    assert result["message"].startswith("BPM and low-band energy: new items are faster and heavier"
                                        " than what bucket v1 learned from")
    assert not schedule.drift_due(library.conn, "bucket", first["version"], now + DAY)   # checked this week
    label(library, sorted(new)[:2], new)
    (work,) = [w for w in schedule.due(library.conn, config, now + DAY) if w.kind == "train"]
    assert work.reason == "drift: BPM, low-band energy"
    assert drift.check(library, "bucket", config.drift_threshold, now) is None      # nothing new since


# -- shadow evaluation, compare, history, stats ------------------------------------------------


def shuffled_learner(monkeypatch):
    real = service.make_estimator

    def broken(task, backend, shape=None):   # learns from shuffled labels: a worse model
        est = real(task, backend, shape)

        def shuffled_fit(X, y, w=None, **kw):
            del est.fit_arrays
            return est.fit_arrays(X, list(np.random.default_rng(0).permutation(y)), w, **kw)

        est.fit_arrays = shuffled_fit
        return est

    monkeypatch.setattr(service, "make_estimator", broken)


def three_versions(tmp_path, monkeypatch):
    """v1 on 24 labels; v2 on 24 more (activated); v3 learnt from shuffled labels (rejected)."""
    library = open_library(tmp_path)
    config = Config(config_path=tmp_path / "config.toml", data_dir=tmp_path / "data")
    truth = generated_library(library, tmp_path, 96, np.random.default_rng(2))
    ids = sorted(truth)
    label(library, ids[:24], truth)
    v1 = service.train(library, config, "bucket")
    label(library, ids[24:48], truth)
    v2 = service.train(library, config, "bucket", reason="schedule weekly: 24 new label(s)")
    label(library, ids[48:], truth)
    with monkeypatch.context() as m:
        shuffled_learner(m)
        v3 = service.train(library, config, "bucket", reason="drift: BPM")
    return library, config, truth, (v1, v2, v3)


def test_shadow_evaluation_rejects_a_worse_retrain_with_its_figures(tmp_path, monkeypatch):
    from djml.models.crossval import compare_versions

    library, config, truth, (v1, v2, v3) = three_versions(tmp_path, monkeypatch)
    assert (v1["status"], v2["status"], v3["status"]) == ("activated", "activated", "rejected")
    assert registry.active(library.conn, "bucket")["version"] == v2["version"]
    m = registry.get(library.conn, v3["version"])["metrics"]
    assert m["rejected"] and m["shadow_decision"] == "reject" and m["before_version"] == v2["version"]
    assert len(m["shadow_items"]) == m["compared_on"] >= 5 and m["after_correct"] < m["before_correct"]
    held = set(m["shadow_items"])
    assert held <= set(sorted(truth)[48:])        # only labels the active version never saw
    result = compare_versions(library, v2["version"], v3["version"])
    assert result["shadow"].startswith(f"on the same {m['compared_on']} held-out labels bucket v2 got"
                                       f" {m['before_correct']}, bucket v3 {m['after_correct']}")
    assert result["shadow"].endswith("→ rejected")


def test_history_and_stats_of_three_versions(tmp_path, monkeypatch):
    library, config, truth, (v1, v2, v3) = three_versions(tmp_path, monkeypatch)
    h = history.history(library.conn, "bucket")
    (task,) = h["tasks"]
    assert [v["name"] for v in task["versions"]] == ["bucket v1", "bucket v2", "bucket v3"]
    assert [v["status"] for v in task["versions"]] == ["trained", "trained", "rejected"]
    assert [v["active"] for v in task["versions"]] == [False, True, False]
    assert [v["reason"] for v in task["versions"]] == ["manual", "schedule weekly: 24 new label(s)", "drift: BPM"]
    for v in task["versions"]:
        fig = v["figure"]
        assert fig["n"] > 0 and fig["low"] <= fig["accuracy"] <= fig["high"]
    assert task["versions"][0]["acceptance"]["n"] == 24       # v1's predictions on the 24 labelled next
    assert task["versions"][2]["shadow"]["rejected"] is True
    assert [r["version"] for r in task["runs"]] == [v3["version"], v2["version"], v1["version"]]
    stats = acceptance.stats(library.conn, "bucket")["tasks"][0]
    assert stats["active_version"] == v2["version"] and stats["active_name"] == "bucket v2"
    assert stats["since_activation"]["n"] == 48               # v2's predictions the user then labelled
    assert stats["last_30_days"]["n"] == 72
    json.dumps(h), json.dumps(stats)                          # JSON-ready as the protocol sends them


def test_models_stats_and_history_cli_import_no_numpy(tmp_path, monkeypatch):
    library, config, truth, versions = three_versions(tmp_path, monkeypatch)
    library.conn.close()
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'data_dir = "{tmp_path}"\n')
    code = ("import sys, json\nfrom djml.cli import main\nsys.argv = ['djml'] + sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', [m for m in ('numpy', 'sklearn', 'torch') if m in sys.modules], file=sys.stderr)")
    env = {"DJML_HOME": str(home), "PATH": "/usr/bin:/bin"}
    for args, check in ((["models", "stats", "--json"], lambda d: d["tasks"][0]["since_activation"]["n"] == 48),
                        (["models", "history", "--json"], lambda d: len(d["tasks"][0]["versions"]) == 3),
                        (["models", "history"], None), (["models", "stats"], None)):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                             timeout=60)
        assert "HEAVY []" in out.stderr, out.stderr
        if check is not None:
            assert check(json.loads(out.stdout)), out.stdout
        else:
            assert "bucket v3" in out.stdout and "x bucket v3" in out.stdout or "accepted" in out.stdout, out.stdout


def test_evaluate_out_writes_the_dashboard_figures(tmp_path, monkeypatch):
    library, config, truth, (v1, v2, v3) = three_versions(tmp_path, monkeypatch)
    library.conn.close()
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'data_dir = "{tmp_path}"\n')
    out = tmp_path / "metrics.json"
    djml = str(Path(sys.executable).with_name("djml"))
    done = subprocess.run([djml, "evaluate", "--task", "buckets", "--cv", "3", "--out", str(out)],
                          capture_output=True, text=True, env={"DJML_HOME": str(home), "PATH": "/usr/bin:/bin"},
                          timeout=300)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(out.read_text())
    assert metrics["folds"] == 3 and 0 <= metrics["accuracy_mean"] <= 1
    (task,) = metrics["history"]
    assert [v["version"] for v in task["versions"]] == [v1["version"], v2["version"], v3["version"]]
    assert metrics["acceptance"][0]["since_activation"]["n"] == 48
