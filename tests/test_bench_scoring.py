"""Unit tests of the benchmark scoring functions (pure, no audio)."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scoring import (  # noqa: E402
    key_relation,
    mirex_key_score,
    summarise_key,
    summarise_tempo,
    tempo_acc1,
    tempo_acc2,
    tempo_error_kind,
)

C, A_MIN, G, F, E_MIN, D_MIN, C_MIN = 0, 21, 7, 5, 16, 14, 12


@pytest.mark.parametrize("est,truth,ok", [
    (120.0, 120.0, True),
    (124.79, 120.0, True),      # +3.99 %
    (125.0, 120.0, False),      # +4.17 %
    (115.3, 120.0, True),
    (60.0, 120.0, False),
    (None, 120.0, False),
    (float("nan"), 120.0, False),
    (0.0, 120.0, False),
])
def test_acc1(est, truth, ok):
    assert tempo_acc1(est, truth) is ok


@pytest.mark.parametrize("est,truth,ok", [
    (120.0, 120.0, True),
    (60.0, 120.0, True),
    (240.0, 120.0, True),
    (40.0, 120.0, True),
    (360.0, 120.0, True),
    (87.0, 174.0, True),
    (116.0, 174.0, False),      # 2/3 is not accepted by Accuracy2
    (180.0, 120.0, False),      # 3/2 neither
    (None, 120.0, False),
])
def test_acc2(est, truth, ok):
    assert tempo_acc2(est, truth) is ok


def test_acc1_implies_acc2():
    for est in (100.0, 101.0, 103.9, 96.5):
        if tempo_acc1(est, 100.0):
            assert tempo_acc2(est, 100.0)


def test_error_kind():
    assert tempo_error_kind(126.0, 126.0) == "ok"
    assert tempo_error_kind(87.0, 174.0) == "x1/2"
    assert tempo_error_kind(116.0, 174.0) == "x2/3"
    assert tempo_error_kind(None, 174.0) == "none"
    assert tempo_error_kind(150.0, 100.0) == "x3/2"
    assert tempo_error_kind(111.0, 100.0) == "wrong"


@pytest.mark.parametrize("est,truth,rel,score", [
    (C, C, "exact", 1.0),
    (A_MIN, A_MIN, "exact", 1.0),
    (G, C, "fifth", 0.5),          # fifth above
    (F, C, "fifth", 0.5),          # fifth below (subdominant)
    (E_MIN, A_MIN, "fifth", 0.5),
    (D_MIN, A_MIN, "fifth", 0.5),
    (A_MIN, C, "relative", 0.3),
    (C, A_MIN, "relative", 0.3),
    (C_MIN, C, "parallel", 0.2),
    (C, C_MIN, "parallel", 0.2),
    (E_MIN, C, "other", 0.0),      # mode differs, not relative/parallel
    (2, C, "other", 0.0),          # D major vs C major
    (None, C, "none", 0.0),
])
def test_mirex(est, truth, rel, score):
    assert key_relation(est, truth) == rel
    assert mirex_key_score(est, truth) == score


def test_strict_fifth():
    assert mirex_key_score(G, C, descending_fifth=False) == 0.5
    assert mirex_key_score(F, C, descending_fifth=False) == 0.0


def test_relative_wraps_around():
    # Eb major (3) <-> C minor (12); F# minor (18) <-> A major (9)
    assert key_relation(3, C_MIN) == "relative"
    assert key_relation(18, 9) == "relative"
    assert key_relation(9, 18) == "relative"


def test_key_range_checked():
    with pytest.raises(ValueError):
        key_relation(24, 0)


def test_summaries():
    t = summarise_tempo([(120, 120), (60, 120), (90, 120), (None, 100)])
    assert t["n"] == 4 and t["acc1"] == 0.25 and t["acc2"] == 0.5
    k = summarise_key([(C, C), (G, C), (A_MIN, C), (None, C)])
    assert math.isclose(k["mirex"], (1 + 0.5 + 0.3) / 4)
    assert k["exact"] == 0.25 and k["none"] == 0.25
    assert summarise_tempo([])["acc1"] is None


def test_beat_phase_counts_any_true_beat_and_wraps_round_the_period():
    from benchmarks.scoring import beat_phase_error, beat_phase_ok

    # 120 BPM: true beats at 0.1 + k * 0.5 s
    assert beat_phase_error(10.1, 0.1, 120.0) == pytest.approx(0.0, abs=1e-9)
    assert beat_phase_error(0.58, 0.1, 120.0) == pytest.approx(0.02)   # just before a beat
    assert beat_phase_error(0.35, 0.1, 120.0) == pytest.approx(0.25)   # the off-beat: worst
    assert beat_phase_ok(0.16, 0.1, 120.0) and not beat_phase_ok(0.18, 0.1, 120.0)
    assert beat_phase_error(None, 0.1, 120.0) is None and not beat_phase_ok(None, 0.1, 120.0)


# --------------------------------------------------------------------------- cross-source scores

def test_mirex_standard_counts_only_the_fifth_above():
    from benchmarks.scoring import mirex_lenient, mirex_standard

    assert mirex_standard(G, C) == 0.5            # dominant
    assert mirex_standard(F, C) == 0.0            # subdominant: standard gives nothing
    assert mirex_lenient(F, C) == 0.5             # lenient: a fifth either way
    assert mirex_standard(A_MIN, C) == pytest.approx(0.3)
    assert mirex_standard(C, A_MIN) == pytest.approx(0.3)
    assert mirex_standard(C_MIN, C) == pytest.approx(0.2)
    assert mirex_standard(C, C) == 1.0 and mirex_standard(None, C) == 0.0
    assert mirex_standard(E_MIN + 7 - 12 + 12, E_MIN) == 0.5   # B minor over E minor


def test_mirex_standard_agrees_with_the_fallback_weights():
    from benchmarks.scoring import mirex_key_score, mirex_standard

    for est in range(24):
        for truth in range(24):
            assert mirex_standard(est, truth) == pytest.approx(
                mirex_key_score(est, truth, descending_fifth=False)), (est, truth)


@pytest.mark.parametrize("text,mode,expect", [
    ("A minor", None, 21), ("A", "minor", 21), ("Bb", "major", 10), ("F#m", None, 18),
    ("Eb major", None, 3), ("C", None, 0), ("H", None, None), (None, None, None), ("C dorian", None, None),
])
def test_key_index(text, mode, expect):
    from benchmarks.scoring import key_index

    assert key_index(text, mode) == expect


def test_mode_correct():
    from benchmarks.scoring import mode_correct

    assert mode_correct(A_MIN, E_MIN) and not mode_correct(C, A_MIN) and not mode_correct(None, C)


def test_bootstrap_interval_contains_the_mean_and_groups_widen_it():
    from benchmarks.scoring import bootstrap_ci

    vals = [1.0] * 30 + [0.0] * 10
    lo, hi = bootstrap_ci(vals, n_boot=500)
    assert lo <= 0.75 <= hi and hi - lo < 0.35
    # the same values as 4 pieces of 10 identical renders: far less information
    groups = [i // 10 for i in range(40)]
    glo, ghi = bootstrap_ci(vals, groups, n_boot=500)
    assert ghi - glo > hi - lo
    assert bootstrap_ci([]) == (None, None)
    assert bootstrap_ci([1.0, 1.0]) == (1.0, 1.0)


def test_cross_source_tables_score_each_source_pooled_and_short_clips():
    from benchmarks.accuracy_analysis import key_table, tempo_table

    rows = [
        {"path": "a", "source": "freedoom", "piece_id": "p1", "bpm": 120.0, "key": "A", "mode": "minor", "duration": 40},
        {"path": "b", "source": "freedoom", "piece_id": "p1", "bpm": 120.0, "key": "A", "mode": "minor", "duration": 40},
        {"path": "c", "source": "hydrogen", "piece_id": "p2", "bpm": 90.0, "key": None, "mode": None, "duration": 10},
        {"path": "d", "source": "music21_key", "piece_id": "p3", "bpm": None, "key": "C", "mode": "major", "duration": None},
    ]
    preds = {t: {} for t in ("djml", "djml-loso", "essentia", "aubio", "madmom", "tempocnn",
                             "essentia-edma", "essentia-bgate", "essentia-temperley")}
    preds["djml"] = {"a": {"bpm": 120.0, "key": 21}, "b": {"bpm": 60.0, "key": 9},
                     "c": {"bpm": 91.0}, "d": {"key": 7}}
    status = {"madmom": "not installed (x)", "djml-loso": "not available (y)"}
    t = tempo_table(rows, preds, status, n_boot=50)
    acc1, acc2 = t["Accuracy1"], t["Accuracy2"]
    assert acc1["freedoom"]["djml"]["mean"] == 0.5 and acc2["freedoom"]["djml"]["mean"] == 1.0
    assert acc1["pooled"]["n"] == 3 and acc1["pooled"]["djml"]["mean"] == pytest.approx(2 / 3)
    assert acc1["short clips (≤ 30 s)"]["n"] == 1
    assert acc1["pooled"]["madmom"].startswith("not installed")
    assert acc1["pooled"]["essentia"]["mean"] == 0.0          # no estimate = a miss
    k = key_table(rows, preds, status, n_boot=50)
    std, lenient, mode = k["MIREX (standard)"], k["MIREX (lenient)"], k["mode accuracy"]
    assert std["pooled"]["n"] == 3 and "hydrogen" not in std
    assert std["freedoom"]["djml"]["mean"] == pytest.approx((1 + 0.2) / 2)   # exact, parallel
    assert std["music21_key"]["djml"]["mean"] == 0.5                        # G over C: the fifth above
    assert lenient["music21_key"]["djml"]["mean"] == 0.5
    assert mode["freedoom"]["djml"]["mean"] == 0.5
    assert std["pooled"]["djml-loso"].startswith("not available")
