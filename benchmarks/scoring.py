"""Scoring functions shared by the accuracy benchmarks. Pure Python, no imports beyond stdlib.

Tempo (Gouyon et al. 2006, the MIREX/ISMIR 2004 convention):
  * Accuracy1: the estimate is within ``tol`` (4 %) of the true tempo.
  * Accuracy2: the same, but also accepting the octave/metrical errors
    x2, x1/2, x3 and x1/3 of the true tempo.

Beat phase: an estimated beat time (djml's ``first_beat``, Essentia's first tick) counts
when it lies within 70 ms of one of the true beats (the MIREX beat-tracking window).

Key (MIREX audio key detection weighting), keys as ints 0..23 (tonic + 12 if minor,
see ``djml.keys``):
  exact 1.0 · perfect fifth (same mode, tonic a fifth above or below) 0.5 ·
  relative major/minor 0.3 · parallel major/minor 0.2 · anything else (or None) 0.
"""

from __future__ import annotations

from statistics import fmean
from typing import Iterable, Optional

TEMPO_TOLERANCE = 0.04
ACC2_FACTORS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def _valid_bpm(x: Optional[float]) -> bool:
    return x is not None and x == x and x > 0  # excludes None, NaN, <= 0


def tempo_acc1(estimate: Optional[float], truth: float, tol: float = TEMPO_TOLERANCE) -> bool:
    """True if ``estimate`` lies within ``tol`` (relative) of ``truth``."""
    if not _valid_bpm(estimate):
        return False
    return abs(estimate - truth) <= tol * truth


def tempo_acc2(estimate: Optional[float], truth: float, tol: float = TEMPO_TOLERANCE) -> bool:
    """Accuracy1 against truth x {1, 2, 1/2, 3, 1/3}."""
    return any(tempo_acc1(estimate, truth * f, tol) for f in ACC2_FACTORS)


def tempo_error_kind(estimate: Optional[float], truth: float, tol: float = TEMPO_TOLERANCE) -> str:
    """Label an estimate: 'ok', 'x2', 'x1/2', 'x3', 'x1/3', 'x3/2', 'x2/3', 'none' or 'wrong'."""
    if not _valid_bpm(estimate):
        return "none"
    for name, f in (("ok", 1.0), ("x2", 2.0), ("x1/2", 0.5), ("x3", 3.0), ("x1/3", 1 / 3),
                    ("x3/2", 1.5), ("x2/3", 2 / 3)):
        if tempo_acc1(estimate, truth * f, tol):
            return name
    return "wrong"


def key_tonic(key: int) -> int:
    return key % 12


def key_is_minor(key: int) -> bool:
    return key >= 12


def key_relation(estimate: Optional[int], truth: int, descending_fifth: bool = True) -> str:
    """Relation of an estimated key to the true key.

    Returns 'exact', 'fifth', 'relative', 'parallel', 'other' or 'none'.
    A fifth counts in both directions by default (dominant and subdominant, same
    mode); pass ``descending_fifth=False`` for the strict mir_eval reading
    (estimate a fifth *above* the truth only).
    """
    if estimate is None:
        return "none"
    if not (0 <= int(estimate) < 24 and 0 <= int(truth) < 24):
        raise ValueError(f"keys must be 0..23, got {estimate!r}, {truth!r}")
    e_t, t_t = key_tonic(estimate), key_tonic(truth)
    e_m, t_m = key_is_minor(estimate), key_is_minor(truth)
    if estimate == truth:
        return "exact"
    if e_m == t_m:
        interval = (e_t - t_t) % 12
        if interval == 7 or (descending_fifth and interval == 5):
            return "fifth"
        return "other"
    if e_t == t_t:
        return "parallel"
    # relative: C major (0) <-> A minor (9+12); minor tonic = major tonic - 3
    if t_m and e_t == (t_t + 3) % 12:
        return "relative"
    if not t_m and e_t == (t_t - 3) % 12:
        return "relative"
    return "other"


MIREX_WEIGHTS = {"exact": 1.0, "fifth": 0.5, "relative": 0.3, "parallel": 0.2,
                 "other": 0.0, "none": 0.0}


def mirex_key_score(estimate: Optional[int], truth: int, descending_fifth: bool = True) -> float:
    """MIREX weighted key score of one estimate."""
    return MIREX_WEIGHTS[key_relation(estimate, truth, descending_fifth)]


def mean_or_none(values: Iterable[float]) -> Optional[float]:
    vals = [float(v) for v in values]
    return fmean(vals) if vals else None


def summarise_tempo(pairs: Iterable[tuple[Optional[float], float]]) -> dict:
    """pairs of (estimate, truth) -> {'n', 'acc1', 'acc2'} (fractions 0..1)."""
    pairs = list(pairs)
    return {
        "n": len(pairs),
        "acc1": mean_or_none(tempo_acc1(e, t) for e, t in pairs),
        "acc2": mean_or_none(tempo_acc2(e, t) for e, t in pairs),
    }


BEAT_TOLERANCE = 0.07   # seconds: the MIREX beat-tracking F-measure window


def beat_phase_error(estimate: Optional[float], truth: float, bpm: float) -> Optional[float]:
    """Distance (s) of an estimated beat time from the nearest true beat, the true beats
    lying at ``truth + k * 60 / bpm``; None without an estimate."""
    if estimate is None or estimate != estimate:
        return None
    period = 60.0 / bpm
    e = (estimate - truth) % period
    return min(e, period - e)


def beat_phase_ok(estimate: Optional[float], truth: float, bpm: float,
                  tol: float = BEAT_TOLERANCE) -> bool:
    err = beat_phase_error(estimate, truth, bpm)
    return err is not None and err <= tol


def summarise_key(pairs: Iterable[tuple[Optional[int], int]]) -> dict:
    """pairs of (estimate, truth) -> mean MIREX score, plus the share of each relation."""
    pairs = list(pairs)
    rel = [key_relation(e, t) for e, t in pairs]
    out = {"n": len(pairs), "mirex": mean_or_none(MIREX_WEIGHTS[r] for r in rel)}
    for name in ("exact", "fifth", "relative", "parallel", "other", "none"):
        out[name] = (rel.count(name) / len(rel)) if rel else None
    return out


# --------------------------------------------------------------------------- key names, mode

_PITCH = {"C": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "E#": 5, "F": 5,
          "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11,
          "CB": 11, "B#": 0}


def key_index(name: Optional[str], mode: Optional[str] = None) -> Optional[int]:
    """"A minor" (or "A" with mode "minor", "Am", "Bb major") -> 0..23 (tonic + 12 if
    minor); None for None or anything unreadable."""
    if not name:
        return None
    text = str(name).strip()
    parts = text.split()
    tonic = parts[0]
    if len(parts) > 1:
        mode = parts[1]
    elif tonic.endswith("m") and len(tonic) > 1 and tonic[:-1].upper() in _PITCH:
        tonic, mode = tonic[:-1], "minor"
    pc = _PITCH.get(tonic.upper())
    if pc is None or (mode or "major").lower() not in ("major", "minor"):
        return None
    return pc + (12 if (mode or "major").lower() == "minor" else 0)


def _mir_eval_name(key: int) -> str:
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return f"{names[key % 12]} {'minor' if key >= 12 else 'major'}"


def mirex_standard(estimate: Optional[int], truth: int) -> float:
    """The MIREX key score with the standard convention: only the fifth *above* the truth
    (the dominant) counts 0.5. mir_eval's ``weighted_score`` when mir_eval is installed
    (benchmark extras), the same weights from ``key_relation`` otherwise."""
    if estimate is None:
        return 0.0
    try:
        import mir_eval.key
    except ImportError:
        return mirex_key_score(estimate, truth, descending_fifth=False)
    return float(mir_eval.key.weighted_score(_mir_eval_name(truth), _mir_eval_name(estimate)))


def mirex_lenient(estimate: Optional[int], truth: int) -> float:
    """MIREX weights with a fifth either way counting 0.5 (dominant or subdominant)."""
    return mirex_key_score(estimate, truth, descending_fifth=True)


def mode_correct(estimate: Optional[int], truth: int) -> bool:
    """Major/minor right, whatever the tonic (no estimate counts wrong)."""
    return estimate is not None and key_is_minor(estimate) == key_is_minor(truth)


# --------------------------------------------------------------------------- intervals

def bootstrap_ci(values: list[float], groups: Optional[list] = None, n_boot: int = 1000,
                 level: float = 0.95, seed: int = 0) -> tuple[Optional[float], Optional[float]]:
    """Percentile bootstrap interval of the mean of ``values``. With ``groups`` (a piece id
    per value) whole groups are resampled, so renders of one piece, which are not
    independent, do not narrow the interval."""
    import random
    if not values:
        return None, None
    if groups is None:
        groups = list(range(len(values)))
    by_group: dict = {}
    for v, g in zip(values, groups):
        by_group.setdefault(g, []).append(float(v))
    clusters = [(sum(vs), len(vs)) for vs in by_group.values()]
    rng = random.Random(seed)
    k = len(clusters)
    means = []
    for _ in range(n_boot):
        s = c = 0.0
        for _ in range(k):
            a, b = clusters[rng.randrange(k)]
            s += a
            c += b
        means.append(s / c)
    means.sort()
    lo = means[int((1 - level) / 2 * n_boot)]
    hi = means[min(n_boot - 1, int((1 + level) / 2 * n_boot))]
    return lo, hi
