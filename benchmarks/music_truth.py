"""Truth rules of the cross-source music benchmark: what tempo, beat level, meter and key a
composition's own meta events say, and which parts of a piece carry a single, trustworthy
truth. Pure functions over ``benchmarks.smf.Smf``; documented in benchmarks/README.md.

* Tempo: only spans with one ``set_tempo`` value and one time signature; the BPM is given at
  the beat level the time signature defines (``beat_level``), never at the MIDI quarter note
  by default: 6/8, 9/8 and 12/8 count the dotted quarter. A file whose only tempo is a
  converter's clock (``clock_tempo``) has no tempo truth.
* Key: only when a ``key_signature`` event covers the whole span, and only when the
  signature agrees with the notes (``key_check``): editors write a default C major into
  many files whatever the music is, so a signature whose scale does not hold the notes, or
  whose tonic is less present than its relative key's tonic, is not used as truth. No key
  estimator is ever consulted.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.smf import DRUM_CHANNEL, Smf

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_DEGREES = frozenset((0, 2, 4, 5, 7, 9, 11))
MINOR_DEGREES = frozenset((0, 2, 3, 5, 7, 8, 9, 10, 11))   # natural + raised 6th and 7th
KEY_IN_SCALE_MIN = 0.85   # share of pitched note time inside the signature's scale
DEFAULT_TIME_SIGNATURE = (4, 4)  # the SMF default when a file has no time_signature event


@dataclass(frozen=True)
class BeatLevel:
    quarters: float   # length of one counted beat in quarter notes
    meter: str        # duple / triple / compound
    name: str         # "quarter", "dotted quarter", "half"
    beats_per_bar: int


def beat_level(numerator: int, denominator: int) -> BeatLevel | None:
    """The counted beat of a time signature, or None when the signature has no beat level
    this benchmark commits to (5/4, 7/8, 3/8, 6/4, 1/8 pickups …).

    Simple meters count the denominator (x/4 the quarter, x/2 the half note); compound
    meters 6/8, 9/8 and 12/8 count the dotted quarter (3 eighths), the beat people tap.
    """
    if denominator == 8 and numerator in (6, 9, 12):
        return BeatLevel(1.5, "compound", "dotted quarter", numerator // 3)
    if denominator in (2, 4) and numerator in (2, 3, 4):
        return BeatLevel(4.0 / denominator, "triple" if numerator == 3 else "duple",
                         "quarter" if denominator == 4 else "half", numerator)
    return None


MUS_CLOCK_HZ = 140.0   # Doom's MUS format counts 140 ticks a second, whatever the music


def clock_tempo(smf: Smf) -> bool:
    """True when the file's tempo says how a converter counted time, not the music's beat.

    Doom music is composed in MUS, which has no tempo or beat, only a 140 Hz tick clock;
    MUS-to-MIDI converters write one ``set_tempo`` and a division that reproduce that clock
    (89 ticks a quarter at 631,578 µs: 140.9 ticks a second) and no time signature. The
    MIDI "quarter note" is then a unit of 89 clock ticks, unrelated to the beat: its BPM
    (95) is the same for every such piece."""
    if smf.time_signatures or len({us for _, us in smf.tempos}) != 1:
        return False
    ticks_per_second = smf.tpq * 1e6 / smf.tempos[0][1]
    return abs(ticks_per_second / MUS_CLOCK_HZ - 1) <= 0.01


def bpm_at_beat_level(us_per_quarter: int, level: BeatLevel) -> float:
    return 60e6 / us_per_quarter / level.quarters


def signature_key(sharps: int, minor: int) -> tuple[int, str]:
    """(tonic pitch class, "major"/"minor") of a key_signature event: each sharp moves the
    major tonic a fifth up (flats down); the minor tonic is a minor third below it."""
    major_tonic = (7 * sharps) % 12
    return ((major_tonic + 9) % 12, "minor") if minor else (major_tonic, "major")


def key_name(tonic: int) -> str:
    return PITCH_NAMES[tonic % 12]


@dataclass(frozen=True)
class Span:
    start: int              # ticks, inclusive
    end: int                # ticks, exclusive
    us_per_quarter: int
    time_signature: tuple[int, int]
    time_signature_tick: int  # where the signature's bars start counting
    meter_default: bool     # no time_signature event: the SMF default 4/4 applies
    key_signature: tuple[int, int] | None   # (sharps, minor) covering the whole span


def constant_spans(smf: Smf) -> list[Span]:
    """Maximal spans of a piece in which tempo, time signature and key signature do not
    change. A repeated event with the same value is not a change."""
    cuts = {0, smf.end_tick}
    cuts.update(t for t, _ in smf.tempos)
    cuts.update(t for t, *_ in smf.time_signatures)
    cuts.update(t for t, *_ in smf.key_signatures)
    points = sorted(c for c in cuts if 0 <= c <= smf.end_tick)

    def at(events: list[tuple], tick: int):
        last = None
        for ev in events:
            if ev[0] <= tick:
                last = ev
            else:
                break
        return last

    spans: list[Span] = []
    for a, b in zip(points, points[1:]):
        if b <= a:
            continue
        tempo = at(smf.tempos, a)
        ts = at(smf.time_signatures, a)
        ks = at(smf.key_signatures, a)
        state = (tempo[1], (ts[1], ts[2]) if ts else DEFAULT_TIME_SIGNATURE,
                 ts[0] if ts else 0, ts is None, (ks[1], ks[2]) if ks else None)
        prev = spans[-1] if spans else None
        if prev and (prev.us_per_quarter, prev.time_signature, prev.meter_default,
                     prev.key_signature) == (state[0], state[1], state[3], state[4]):
            spans[-1] = Span(prev.start, b, *state[:2], prev.time_signature_tick, *state[3:])
        else:
            spans.append(Span(a, b, *state))
    return spans


def bar_ticks(tpq: int, time_signature: tuple[int, int]) -> int:
    num, den = time_signature
    return int(round(num * tpq * 4 / den))


def pitch_class_time(smf: Smf, start: int, end: int) -> list[float]:
    """Seconds of pitched (non-drum-channel) note time per pitch class inside [start, end)."""
    hist = [0.0] * 12
    for n in smf.notes:
        if n.channel == DRUM_CHANNEL or n.end <= start or n.start >= end:
            continue
        a, b = max(n.start, start), min(n.end, end)
        hist[n.pitch % 12] += smf.seconds(b) - smf.seconds(a)
    return hist


@dataclass(frozen=True)
class KeyCheck:
    ok: bool
    in_scale: float          # share of pitched note time in the signature's scale
    tonic_share: float       # share of note time on the signature's tonic
    relative_tonic_share: float
    reason: str


def key_check(hist: list[float], tonic: int, mode: str) -> KeyCheck:
    """Does a key signature agree with the notes? Two rules, both on the notes alone:

    1. ``in_scale >= KEY_IN_SCALE_MIN``: the signature's scale (minor: natural, harmonic
       and melodic) holds at least 85 % of the pitched note time. A default C major written
       into a piece in E flat fails here.
    2. the signature's tonic sounds at least as long as the tonic of its relative key
       (C major vs A minor): a signature only fixes the set of notes, so the mode flag is
       kept only when the notes lean to its tonic.
    """
    total = sum(hist)
    if total <= 0:
        return KeyCheck(False, 0.0, 0.0, 0.0, "no pitched notes")
    degrees = MINOR_DEGREES if mode == "minor" else MAJOR_DEGREES
    in_scale = sum(h for pc, h in enumerate(hist) if (pc - tonic) % 12 in degrees) / total
    relative = (tonic + 3) % 12 if mode == "minor" else (tonic + 9) % 12
    t_share, r_share = hist[tonic] / total, hist[relative] / total
    if in_scale < KEY_IN_SCALE_MIN:
        reason = f"notes outside the signature's scale ({1 - in_scale:.0%})"
    elif t_share < r_share:
        reason = "relative key's tonic sounds longer than the signature's tonic"
    else:
        reason = ""
    return KeyCheck(not reason, round(in_scale, 3), round(t_share, 3), round(r_share, 3), reason)
