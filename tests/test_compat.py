"""Compatibility rules, table-driven: one row per musical case with the expected verdict."""

from __future__ import annotations

import pytest

from djml import compat, keys

K = keys.parse

# seed, candidate, strict ok, relaxed ok, expected words in the reason
HARMONIC_CASES = [
    ("8A", "8A", True, True, "same key"),
    ("8A", "9A", True, True, "+1, compatible"),
    ("8A", "7A", True, True, "-1, compatible"),
    ("12A", "1A", True, True, "+1"),           # the wheel wraps 12 → 1
    ("1B", "12B", True, True, "-1"),
    ("8A", "8B", True, True, "relative major/minor"),
    ("C major", "A minor", True, True, "relative"),
    ("8A", "10A", False, True, "+2 energy boost"),
    ("8A", "9B", False, True, "diagonal"),     # minor → major one step up
    ("8B", "7A", False, True, "diagonal"),     # major → minor one step down
    ("8B", "9A", False, False, "clash"),       # the diagonal is directional
    ("Am", "Bbm", False, True, "+1 semitone lift"),
    ("8A", "6A", False, False, "clash"),
    ("8A", "2B", False, False, "clash"),
]


@pytest.mark.parametrize("seed, cand, strict_ok, relaxed_ok, words", HARMONIC_CASES)
def test_harmonic_rules(seed, cand, strict_ok, relaxed_ok, words):
    strict = compat.harmonic(K(seed), K(cand), "strict")
    relaxed = compat.harmonic(K(seed), K(cand), "relaxed")
    anything = compat.harmonic(K(seed), K(cand), "any")
    assert strict.ok is strict_ok
    assert relaxed.ok is relaxed_ok
    assert anything.ok is True
    assert words in relaxed.reason
    assert relaxed.reason.startswith(f"{keys.camelot(K(seed))} → {keys.camelot(K(cand))}")
    assert strict.score == relaxed.score


def test_harmonic_scores_are_ordered_by_closeness():
    s = lambda c: compat.harmonic(K("8A"), K(c)).score  # noqa: E731
    assert s("8A") > s("9A") == s("7A") > s("8B") > s("10A") > s("9B") > s("3A") > s("5A") == 0.0


def test_unknown_key_passes_relaxed_not_strict():
    assert compat.harmonic(None, K("8A"), "relaxed").ok
    assert not compat.harmonic(K("8A"), None, "strict").ok
    assert compat.harmonic(None, None).reason == "key unknown"


def test_compatible_keys_matches_rule_table():
    strict = {keys.camelot(k) for k in compat.compatible_keys(K("8A"), "strict")}
    assert strict == {"8A", "9A", "7A", "8B"}
    relaxed = {keys.camelot(k) for k in compat.compatible_keys(K("8A"), "relaxed")}
    assert relaxed == strict | {"10A", "9B", "3A"}
    assert len(compat.compatible_keys(K("8A"), "any")) == 24


# seed bpm, candidate bpm, tolerance, ok, reason text
TEMPO_CASES = [
    (124, 126, 6, True, "124 → 126 BPM (+1.6%)"),
    (124, 124, 6, True, "(+0.0%)"),
    (124, 123.96, 6, True, "(+0.0%)"),       # never "-0.0%"
    (124, 117, 6, True, "(-5.6%)"),
    (124, 116, 6, False, "(-6.5%)"),
    (124, 63, 6, True, "half time, +1.6%"),
    (87, 174, 6, True, "double time, +0.0%"),
    (124, 140, 6, False, "+12.9%"),
    (124, 140, 15, True, "+12.9%"),
]


@pytest.mark.parametrize("seed, cand, tol, ok, text", TEMPO_CASES)
def test_tempo_rules(seed, cand, tol, ok, text):
    m = compat.tempo(seed, cand, tol)
    assert m.ok is ok
    assert text in m.reason
    assert (m.score > 0) is ok


def test_tempo_score_prefers_closer_and_same_octave():
    assert compat.tempo(124, 124).score > compat.tempo(124, 126).score > compat.tempo(124, 130).score
    assert compat.tempo(124, 124).score > compat.tempo(124, 62).score > 0


def test_tempo_without_tolerance_filters_nothing():
    m = compat.tempo(124, 170, None)
    assert m.ok and m.score == 0.0


def test_tempo_rejects_bad_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        compat.tempo(124, 126, 0)


# seed, candidate, direction, ok
ENERGY_CASES = [
    (5, 7, "up", True), (5, 5, "up", False), (5, 4, "up", False),
    (5, 3, "down", True), (5, 6, "down", False),
    (5, 5.8, "steady", True), (5, 4.0, "steady", True), (5, 6.5, "steady", False),
    (5, 9, None, True),
]


@pytest.mark.parametrize("seed, cand, direction, ok", ENERGY_CASES)
def test_energy_rules(seed, cand, direction, ok):
    m = compat.energy(seed, cand, direction)
    assert m.ok is ok
    assert f"{seed:.1f} → {cand:.1f}" in m.reason


def test_energy_scores():
    assert compat.energy(5, 5.5).score > compat.energy(5, 9).score
    assert compat.energy(5, 7, "up").score > compat.energy(5, 10, "up").score
    assert not compat.energy(None, 5, "up").ok and compat.energy(None, 5).ok


@pytest.mark.parametrize("fn, args", [
    (compat.harmonic, (0, 1, "loose")), (compat.energy, (1, 2, "sideways")),
])
def test_invalid_modes_raise(fn, args):
    with pytest.raises(ValueError):
        fn(*args)
