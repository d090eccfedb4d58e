"""Mixing compatibility rules: harmonic (Camelot), tempo and energy. Pure and table-driven.

Why tables: DJs argue about which key moves "work"; keeping every rule as one row (name,
Camelot step, mode change, score, which modes allow it) makes the policy readable, testable
row by row, and easy to change without touching the ranker.

Scores are in [0, 1]; 1 is a perfect match. The ranker (:mod:`djml.models.recommend`) multiplies
them by its weights, and the explanations reuse :attr:`Match.reason`, so what the user reads
is exactly what was scored.

Key integers follow :mod:`djml.keys` (tonic + 12 * minor). Camelot letter A = minor, B = major.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from djml import keys

STRICT, RELAXED, ANY = "strict", "relaxed", "any"
KEY_MODES = (STRICT, RELAXED, ANY)  # "any" scores harmony but filters nothing
ENERGY_DIRECTIONS = ("up", "down", "steady")


@dataclass(frozen=True)
class HarmonicRule:
    """One allowed key move. ``step`` is the Camelot number change (-5..+6, wrapping at 12);
    ``mode_change`` means A↔B; ``from_letter`` restricts the rule to moves starting on that
    letter (the diagonal moves are directional); ``modes`` lists the key modes allowing it."""

    name: str
    step: int
    mode_change: bool
    score: float
    modes: tuple[str, ...]
    from_letter: str | None = None


# Starting policy (documented in docs/recommend.md). Strict = the classic Camelot wheel moves;
# relaxed adds the energy-boost moves and diagonals that many DJs use on purpose.
HARMONIC_RULES: tuple[HarmonicRule, ...] = (
    HarmonicRule("same key", 0, False, 1.00, (STRICT, RELAXED)),
    HarmonicRule("+1", 1, False, 0.90, (STRICT, RELAXED)),
    HarmonicRule("-1", -1, False, 0.90, (STRICT, RELAXED)),
    HarmonicRule("relative major/minor", 0, True, 0.85, (STRICT, RELAXED)),
    HarmonicRule("+2 energy boost", 2, False, 0.60, (RELAXED,)),
    HarmonicRule("diagonal", 1, True, 0.55, (RELAXED,), from_letter="A"),
    HarmonicRule("diagonal", -1, True, 0.55, (RELAXED,), from_letter="B"),
    # One semitone up is seven Camelot steps (-5 after wrapping): the classic "key change lift".
    HarmonicRule("+1 semitone lift", -5, False, 0.50, (RELAXED,)),
)
UNKNOWN_KEY_SCORE = 0.5  # a key we could not detect: neither rewarded nor ruled out (relaxed)

# Tempo: the nearest of these multiples of the candidate's BPM is compared with the seed's.
# Half/double time mixes work but are a deliberate gear change, hence the lower factor.
TEMPO_FACTORS: tuple[tuple[float, str, float], ...] = (
    (1.0, "", 1.0),
    (2.0, "half time", 0.85),
    (0.5, "double time", 0.85),
)

DEFAULT_TOLERANCE = 6.0  # percent

# Energy (1..10 scale): "steady" tolerates this much change either way; "up"/"down" need at
# least ENERGY_MIN_STEP in the asked direction.
ENERGY_STEADY_BAND = 1.0
ENERGY_MIN_STEP = 0.25
ENERGY_RANGE = 9.0


class Match:
    """Outcome of one rule family for one (seed, candidate) pair: ``ok`` (passes the
    requested filter), ``score`` (0..1, higher is better) and ``reason`` (human-readable,
    with the numbers). The reason is formatted only when read: the ranker scores hundreds of
    candidates per request but explains only the ten it shows."""

    __slots__ = ("ok", "score", "_template", "_args")

    def __init__(self, ok: bool, score: float, template: str, *args: object):
        self.ok = ok
        self.score = score
        self._template = template
        self._args = args

    @property
    def reason(self) -> str:
        return self._template.format(*self._args) if self._args else self._template

    def __repr__(self) -> str:
        return f"Match(ok={self.ok}, score={self.score:.3f}, reason={self.reason!r})"


def _signed_step(a: int, b: int) -> int:
    """Camelot number change from a to b in -5..+6 (the wheel wraps at 12)."""
    return (b - a + 5) % 12 - 5


@lru_cache(maxsize=4096)  # 24 × 24 × modes: the ranker asks the same pairs hundreds of times
def harmonic(seed_key: int | None, cand_key: int | None, mode: str = RELAXED) -> Match:
    """How well ``cand_key`` follows ``seed_key`` on the Camelot wheel."""
    if mode not in KEY_MODES:
        raise ValueError(f"key mode must be one of {KEY_MODES}, got {mode!r}")
    if seed_key is None or cand_key is None:
        return Match(mode != STRICT, UNKNOWN_KEY_SCORE, "key unknown")
    a, b = keys.camelot(seed_key), keys.camelot(cand_key)
    step = _signed_step(keys.camelot_number(seed_key), keys.camelot_number(cand_key))
    mode_change = keys.is_minor(seed_key) != keys.is_minor(cand_key)
    letter = "A" if keys.is_minor(seed_key) else "B"
    for rule in HARMONIC_RULES:
        if rule.step == step and rule.mode_change == mode_change and rule.from_letter in (None, letter):
            allowed = mode == ANY or mode in rule.modes
            verdict = "compatible" if allowed else f"only in {RELAXED} mode"
            label = "same key" if rule.name == "same key" else f"{rule.name}, {verdict}"
            return Match(allowed, rule.score, "{} → {} ({})", a, b, label)
    return Match(mode == ANY, 0.0, "{} → {} (clash)", a, b)


def tempo(seed_bpm: float | None, cand_bpm: float | None, tolerance_pct: float | None = 6.0) -> Match:
    """Is ``cand_bpm`` mixable with ``seed_bpm`` within ±tolerance % (also at half/double time)?

    The score falls linearly from the factor's base score at 0 % to 0 at the tolerance.
    ``tolerance_pct=None`` filters nothing and scores against the default 6 %."""
    limit = DEFAULT_TOLERANCE if tolerance_pct is None else tolerance_pct
    if limit <= 0:
        raise ValueError(f"BPM tolerance must be > 0 %, got {limit}")
    if not seed_bpm or not cand_bpm:
        return Match(True, 0.5, "BPM unknown")
    best: tuple[float, float, str, float] | None = None
    for factor, name, base in TEMPO_FACTORS:
        pct = (cand_bpm * factor - seed_bpm) / seed_bpm * 100.0
        if best is None or abs(pct) < abs(best[0]):
            best = (pct, factor, name, base)
    pct, _, name, base = best
    within = abs(pct) <= limit
    score = max(0.0, base * (1.0 - abs(pct) / limit)) if within else 0.0
    ok = within or tolerance_pct is None
    shown = round(pct, 1) + 0.0  # + 0.0 turns -0.0 into 0.0: "+0.0%", never "-0.0%"
    where = f"{name}, " if name else ""
    return Match(ok, score, "{:.0f} → {:.0f} BPM ({}{:+.1f}%)", seed_bpm, cand_bpm, where, shown)


def energy(seed_energy: float | None, cand_energy: float | None, direction: str | None = None) -> Match:
    """Energy change against the requested direction (None = prefer small changes)."""
    if direction is not None and direction not in ENERGY_DIRECTIONS:
        raise ValueError(f"energy direction must be one of {ENERGY_DIRECTIONS}, got {direction!r}")
    if seed_energy is None or cand_energy is None:
        return Match(direction is None, 0.5, "energy unknown")
    delta = cand_energy - seed_energy
    text = ("energy {:.1f} → {:.1f} ({:+.1f})", seed_energy, cand_energy, round(delta, 1) + 0.0)
    smooth = max(0.0, 1.0 - abs(delta) / ENERGY_RANGE)
    if direction is None:
        return Match(True, smooth, *text)
    if direction == "steady":
        ok = abs(delta) <= ENERGY_STEADY_BAND
        return Match(ok, smooth if ok else 0.0, *text)
    signed = delta if direction == "up" else -delta
    ok = signed >= ENERGY_MIN_STEP
    # Reward a clear but not brutal change: best around +2, fading towards +9.
    score = max(0.0, 1.0 - abs(signed - 2.0) / ENERGY_RANGE) if ok else 0.0
    return Match(ok, score, *text)


def compatible_keys(seed_key: int, mode: str = RELAXED) -> list[int]:
    """Every key integer that passes :func:`harmonic` for ``seed_key`` (for SQL prefiltering)."""
    return [k for k in range(24) if harmonic(seed_key, k, mode).ok]
