"""The hybrid ranker: filters, no seed/duplicates, explanations with numbers, learning from
sets and feedback, samples, and the real `djml recommend` command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from djml import compat, db
from djml import config as config_mod
from djml.analysis import Analysis
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.models.recommend import DEFAULT_WEIGHTS, RecommendError, learned_weights, recommend, accept_feedback
from djml.tags import Tags

N_TRACKS = 150


def _record(library: Library, k: int, kind: str, vec: np.ndarray, **fields) -> int:
    analysis = Analysis(path=f"/music/{kind}{k}.wav", kind=kind, analyzer_version=1, audio_hash=f"{kind}{k}",
                        duration=240.0 if kind == "track" else 0.5, sample_rate=44100, channels=2,
                        loudness=-9.0, peak_db=-1.0, feature_vector=vec.astype(np.float32), **fields)
    tags = Tags(artist=f"Artist {k % 7}", title=f"{kind.title()} number {k}", genre="house")
    result = FileResult(path=analysis.path, stat=FileStat(1, 1, k, 1), tags=tags, analysis=analysis)
    return library.record_result(result)[1]


def build_library(library: Library, seed: int = 0) -> list[int]:
    """Tracks in four timbre clusters with random keys, BPM 110-140 and energy 2-9."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 20)) * 3
    ids = []
    for k in range(N_TRACKS):
        vec = centres[k % 4] + rng.normal(size=20)
        ids.append(_record(library, k, "track", vec, bpm=float(rng.uniform(110, 140)), key=int(rng.integers(24)),
                           energy=float(rng.uniform(2, 9))))
    return ids


@pytest.fixture
def env(djml_home):
    config = config_mod.load()
    conn = db.connect(config.db_path)
    library = Library(conn)
    ids = build_library(library)
    yield config, conn, library, ids
    conn.close()


def facts(conn, item_id):
    row = conn.execute("SELECT bpm, key, energy FROM analyses WHERE item_id = ?", (item_id,)).fetchone()
    return dict(row)


@pytest.mark.parametrize("tol, key_mode, energy", [
    (6.0, "relaxed", None), (3.0, "strict", None), (8.0, "relaxed", "up"), (6.0, "any", "down"),
    (10.0, "strict", "steady"),
])
def test_results_respect_filters_and_exclude_seed(env, tol, key_mode, energy):
    config, conn, _, ids = env
    for seed in ids[:12]:
        recs = recommend(conn, config, seed, n=10, bpm_tolerance=tol, key_mode=key_mode, energy=energy)
        got = [r["id"] for r in recs]
        assert seed not in got and len(got) == len(set(got))
        s = facts(conn, seed)
        for r in recs:
            c = facts(conn, r["id"])
            assert compat.tempo(s["bpm"], c["bpm"], tol).ok, r["explanation"]
            assert compat.harmonic(s["key"], c["key"], key_mode).ok, r["explanation"]
            assert compat.energy(s["energy"], c["energy"], energy).ok, r["explanation"]
        assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))


def test_every_recommendation_has_a_reason_with_a_number(env):
    config, conn, _, ids = env
    total = 0
    for seed in ids[:20]:
        for r in recommend(conn, config, seed, n=8, key_mode="any", bpm_tolerance=10):
            total += 1
            assert r["reasons"] and any(re.search(r"\d", reason) for reason in r["reasons"])
            assert r["explanation"] == " · ".join(r["reasons"])
            assert set(r["features"]) == set(DEFAULT_WEIGHTS)
            assert any(reason.startswith("timbre similarity 0.") or "similarity 1.00" in reason
                       for reason in r["reasons"])
    assert total > 100


def test_cold_start_ranks_by_content_and_compatibility(env):
    config, conn, _, ids = env
    recs = recommend(conn, config, ids[0], n=10, key_mode="any", bpm_tolerance=20)
    assert len(recs) == 10
    assert all(r["features"]["transition"] == r["features"]["cooccur"] == r["features"]["mf"] == 0 for r in recs)
    # timbre clusters: most suggestions come from the seed's own cluster (ids with the same k % 4)
    same_cluster = sum((ids.index(r["id"]) % 4) == 0 for r in recs)
    assert same_cluster >= 7
    assert [r["score"] for r in recs][:3] == sorted([r["score"] for r in recs][:3], reverse=True)


def test_sets_teach_transitions_with_explained_counts(env):
    config, conn, library, ids = env
    seed = ids[0]
    # the one the DJ always plays next, from another timbre cluster and the same key/tempo
    follower = ids[1]
    conn.execute("UPDATE analyses SET bpm = (SELECT bpm FROM analyses WHERE item_id = ?),"
                 " key = (SELECT key FROM analyses WHERE item_id = ?) WHERE item_id = ?", (seed, seed, follower))
    for j in range(3):
        library.add_set(f"set {j}", "djml", [ids[10 + j], seed, follower, ids[20 + j]])
    before = recommend(conn, config, seed, n=10, bpm_tolerance=6)
    recs = recommend(conn, config, seed, n=10, bpm_tolerance=6)
    assert recs[0]["id"] == follower, [r["explanation"] for r in recs[:3]]
    assert "followed it in 3 of your sets" in recs[0]["reasons"]
    assert recs[0]["features"]["transition"] > 0.5
    assert before == recs  # deterministic


def test_ref_by_text_and_path_and_errors(env):
    config, conn, _, ids = env
    by_id = recommend(conn, config, ids[5], n=5)
    assert recommend(conn, config, "Track number 5", n=5) == by_id
    assert recommend(conn, config, "/music/track5.wav", n=5) == by_id
    with pytest.raises(RecommendError, match="no item matches"):
        recommend(conn, config, "no such words anywhere", n=5)
    with pytest.raises(RecommendError, match="key mode"):
        recommend(conn, config, ids[5], key_mode="loose")
    with pytest.raises(RecommendError, match="tolerance"):
        recommend(conn, config, ids[5], bpm_tolerance=0)


def test_sample_seed_returns_similar_samples(env):
    config, conn, library, _ = env
    rng = np.random.default_rng(1)
    kick_centre, hat_centre = rng.normal(size=20) * 3, rng.normal(size=20) * 3
    kicks = [_record(library, k, "sample", kick_centre + 0.3 * rng.normal(size=20), sample_type="one-shot")
             for k in range(8)]
    hats = [_record(library, 100 + k, "sample", hat_centre + 0.3 * rng.normal(size=20), sample_type="one-shot")
            for k in range(8)]
    for item, label in [*((k, "kick") for k in kicks), *((h, "hihat") for h in hats)]:
        library.set_label(item, "sample_type", label)
    library.set_label(kicks[1], "sample_type", "perc")  # the newest label wins
    recs = recommend(conn, config, kicks[0], n=5)
    assert len(recs) == 5 and all(r["id"] in kicks[1:] for r in recs)
    assert all(("same type: kick" in r["reasons"]) == (r["id"] != kicks[1]) for r in recs)
    assert {r["class"] for r in recs} <= {"kick", "perc"}
    assert all(re.search(r"\d", r["reasons"][0]) for r in recs)
    assert {r["id"] for r in recommend(conn, config, hats[0], n=7)} == set(hats[1:])
    assert not {r["id"] for r in recommend(conn, config, hats[0], n=50)} & set(range(1, N_TRACKS + 1))


def test_accept_feedback_records_and_reweights(env):
    config, conn, library, ids = env
    seed = ids[3]
    shown = recommend(conn, config, seed, n=10, key_mode="any", bpm_tolerance=15)
    pick = shown[4]["id"]
    record = accept_feedback(conn, config, seed, pick, n=10, key_mode="any", bpm_tolerance=15)
    assert [s for s, _ in record["skipped"]] == [r["id"] for r in shown[:4]]
    library.record_recommendation(record["seed"], record["accepted"], record["data"], record["skipped"])
    events = dict(conn.execute("SELECT event, COUNT(*) FROM feedback GROUP BY event").fetchall())
    assert events == {"recommend_accepted": 1, "recommend_skipped": 4}
    weights, pairs = learned_weights(conn)
    assert pairs == 4
    assert weights != DEFAULT_WEIGHTS and abs(sum(weights.values()) - sum(DEFAULT_WEIGHTS.values())) < 1e-3
    # the features on which the accepted track beat the skipped ones gained weight
    acc = record["data"]["features"]
    diff = {f: np.mean([acc[f] - s["features"][f] for s in record["data"]["skipped"]]) for f in DEFAULT_WEIGHTS}
    best = max(diff, key=diff.get)
    worst = min(diff, key=diff.get)
    assert weights[best] / DEFAULT_WEIGHTS[best] > weights[worst] / max(DEFAULT_WEIGHTS[worst], 1e-9)
    # the ranker uses the learned weights: same features, new scores
    after = recommend(conn, config, seed, n=10, key_mode="any", bpm_tolerance=15)
    for r in after:
        assert r["score"] == pytest.approx(sum(weights[f] * v for f, v in r["features"].items()), abs=2e-3)
    assert [r["score"] for r in after] != [r["score"] for r in shown]
    with pytest.raises(RecommendError, match="cannot follow itself"):
        accept_feedback(conn, config, seed, seed)


def test_malformed_feedback_is_ignored(env):
    _, conn, library, ids = env
    library.add_feedback("recommend_accepted", ids[0], ids[1], {"features": "garbage"})
    library.add_feedback("recommend_accepted", ids[0], ids[1], {"skipped": [{"no": 1}], "features": {}})
    assert learned_weights(conn) == (DEFAULT_WEIGHTS, 0)


def test_cli_recommend_json_accept_and_no_heavy_imports(env, run_djml, djml_home):
    config, conn, _, ids = env
    proc = run_djml("recommend", str(ids[2]), "-n", "5", "--json", "--key", "any", check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert 0 < len(rows) <= 5 and all(r["reasons"] for r in rows)
    text = run_djml("recommend", str(ids[2]), "-n", "3", "--key", "any", check=True).stdout
    assert " · " in text and "BPM" in text
    bad = run_djml("recommend", "nothing matches this")
    assert bad.returncode == 2 and "no item matches" in bad.stderr
    ok = run_djml("recommend", str(ids[2]), "--accept", str(rows[1]["id"]), "--key", "any", check=True)
    assert "Recorded" in ok.stdout
    assert conn.execute("SELECT COUNT(*) FROM feedback WHERE event = 'recommend_accepted'").fetchone()[0] == 1
    probe = (
        "import sys\nfrom djml.cli import main\n"
        f"sys.argv = ['djml', 'recommend', '{ids[2]}', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sklearn', 'librosa', 'sentence_transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "import os\nprint('THREADS', len(os.listdir('/proc/self/task')), file=sys.stderr)\n"
    )
    env_vars = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env_vars["DJML_HOME"] = str(djml_home)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env_vars, timeout=60)
    assert "HEAVY []" in out.stderr, out.stderr
    # numpy's BLAS loaded with one thread (its default is one per core): nothing left running
    assert "THREADS 1" in out.stderr, out.stderr


def test_one_blas_thread_keeps_a_number_the_user_chose(monkeypatch):
    from djml.procs import NUMPY_BLAS_ENV, one_blas_thread

    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    one_blas_thread()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4" and os.environ["MKL_NUM_THREADS"] == "1"
    assert set(NUMPY_BLAS_ENV) == {"OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"}


def test_tracks_with_missing_files_are_not_suggested(env):
    config, conn, library, ids = env
    first = recommend(conn, config, ids[0], n=5, key_mode="any", bpm_tolerance=20)
    gone = first[0]["id"]
    library.mark_missing([f"/music/track{ids.index(gone)}.wav"])
    again = recommend(conn, config, ids[0], n=5, key_mode="any", bpm_tolerance=20)
    assert gone not in {r["id"] for r in again} and len(again) == 5
    assert all(r["missing"] is False for r in again)


def test_unknown_bpm_key_energy_do_not_break_ranking(env):
    config, conn, _, ids = env
    conn.execute(f"UPDATE analyses SET bpm = NULL, key = NULL, camelot = NULL, energy = NULL"
                 f" WHERE item_id IN ({','.join(map(str, ids[:40]))})")
    for seed in (ids[0], ids[100]):  # unknown seed; known seed among unknown candidates
        recs = recommend(conn, config, seed, n=10, key_mode="relaxed")
        assert recs and seed not in {r["id"] for r in recs}
        assert all(any(re.search(r"\d", reason) for reason in r["reasons"]) for r in recs)
    strict = recommend(conn, config, ids[100], n=50, key_mode="strict")
    assert not {r["id"] for r in strict} & set(ids[:40])  # strict needs a known key


def test_reasons_carry_a_mix_hint_when_both_tracks_have_cues(env):
    config, conn, library, ids = env
    seed_cues = [{"kind": "mix_in", "bar": 1, "seconds": 0.0}, {"kind": "outro_start", "bar": 97, "seconds": 180.0},
                 {"kind": "mix_out", "bar": 97, "seconds": 180.0}]
    their_cues = [{"kind": "mix_in", "bar": 1, "seconds": 0.0}, {"kind": "intro_end", "bar": 33, "seconds": 60.0}]
    vec = np.zeros(20)
    seed = _record(library, 900, "track", vec, bpm=124.0, key=8, energy=6.0, cues=seed_cues)
    theirs = _record(library, 901, "track", vec, bpm=124.0, key=8, energy=6.0, cues=their_cues)
    plain = _record(library, 902, "track", vec, bpm=124.0, key=8, energy=6.0)
    rows = {r["id"]: r for r in recommend(conn, config, seed, n=200, key_mode="any", bpm_tolerance=None)}
    assert "mix out at bar 97 → their intro is 32 bars" in rows[theirs]["reasons"]
    assert not any(r.startswith("mix out") for r in rows[plain]["reasons"])        # no cues: no hint
    back = {r["id"]: r for r in recommend(conn, config, theirs, n=200, key_mode="any", bpm_tolerance=None)}
    assert not any(r.startswith("mix out") for r in back[seed]["reasons"])         # the seed has no mix-out cue
