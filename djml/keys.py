"""Musical key notation: one integer per key, rendered in every notation DJs use.

A key is an integer 0..23: ``tonic_pitch_class + 12 * is_minor`` (0 = C major,
9 = A major, 21 = A minor). Keeping one integer everywhere (database, analysis,
compatibility rules) means notation is a display concern only, and ``--key 8A``,
``--key Am`` and ``--key "A minor"`` all mean the same filter.

This module is pure and imports nothing heavy: CLI one-shots use it.
"""

from __future__ import annotations

import re
from functools import lru_cache

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_PITCH_ALIASES = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4,
    "F": 5, "E#": 5, "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9,
    "A#": 10, "BB": 10, "B": 11, "CB": 11,
}


def is_minor(key: int) -> bool:
    return key >= 12


def tonic(key: int) -> int:
    return key % 12


def make_key(tonic_pc: int, minor: bool) -> int:
    return tonic_pc % 12 + (12 if minor else 0)


def standard(key: int) -> str:
    """'A minor', 'C major'."""
    return f"{PITCH_NAMES[tonic(key)]} {'minor' if is_minor(key) else 'major'}"


def id3(key: int) -> str:
    """ID3v2 TKEY text: 'Am', 'F#', 'Bb' (at most three characters)."""
    return PITCH_NAMES[tonic(key)] + ("m" if is_minor(key) else "")


def camelot_number(key: int) -> int:
    """Camelot wheel position 1..12; C major and A minor are both 8."""
    major_tonic = tonic(key) + 3 if is_minor(key) else tonic(key)
    return (7 * major_tonic + 7) % 12 + 1


def camelot(key: int) -> str:
    """'8A' for A minor, '8B' for C major."""
    return f"{camelot_number(key)}{'A' if is_minor(key) else 'B'}"


def open_key(key: int) -> str:
    """Open Key notation (Traktor): C major is '1d', A minor is '1m'."""
    number = (camelot_number(key) - 8) % 12 + 1
    return f"{number}{'m' if is_minor(key) else 'd'}"


def from_camelot(number: int, letter: str) -> int:
    """Inverse of :func:`camelot`."""
    if not 1 <= number <= 12 or letter.upper() not in ("A", "B"):
        raise ValueError(f"not a Camelot key: {number}{letter}")
    # camelot_number(major tonic t) = 7t + 8 (mod 12); 7 is its own inverse mod 12.
    major_tonic = (7 * (number - 8)) % 12
    if letter.upper() == "B":
        return make_key(major_tonic, minor=False)
    return make_key(major_tonic - 3, minor=True)


_CAMELOT = re.compile(r"^(1[0-2]|[1-9])\s*([ABab])$")
_OPEN_KEY = re.compile(r"^(1[0-2]|[1-9])\s*([dmDM])$")
_NAMED = re.compile(
    r"^([A-Ga-g])\s*([#b♯♭]?)\s*(m|min|minor|maj|major|M)?$"
)


def parse(text: str) -> int:
    """Parse any common notation into a key integer.

    Accepts Camelot ('8A'), Open Key ('1m'), ID3 ('Am', 'F#', 'Bbm') and
    standard names ('A minor', 'Eb major'). Raises ValueError with the text.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty key")
    if m := _CAMELOT.match(raw):
        return from_camelot(int(m.group(1)), m.group(2))
    if m := _OPEN_KEY.match(raw):
        camelot_no = (int(m.group(1)) + 6) % 12 + 1
        return from_camelot(camelot_no, "A" if m.group(2).lower() == "m" else "B")
    if m := _NAMED.match(raw.replace("♯", "#").replace("♭", "b")):
        letter, accidental, mode = m.groups()
        name = letter.upper() + accidental.upper()
        if name not in _PITCH_ALIASES:
            raise ValueError(f"unknown key: {text!r}")
        minor = mode in ("m", "min", "minor")
        return make_key(_PITCH_ALIASES[name], minor)
    raise ValueError(
        f"unknown key: {text!r} (try '8A', 'Am', 'A minor' or Open Key '1m')"
    )


def render_all(key: int) -> dict[str, str]:
    """Every notation at once, for JSON output and `djml show` (a fresh dict: callers
    update it; the 24 renderings themselves are computed once)."""
    return dict(_rendered(key))


@lru_cache(maxsize=None)
def _rendered(key: int) -> dict[str, str]:
    return {
        "key": standard(key),
        "key_id3": id3(key),
        "camelot": camelot(key),
        "open_key": open_key(key),
    }
