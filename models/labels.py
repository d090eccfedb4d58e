"""Where training labels come from, and how much each source is trusted.

- ``labels`` rows: the newest non-undone row per (item, task) wins. Sources: ``user`` and
  ``import`` are ground truth; ``folder`` (sample-pack folder names such as "Kicks/") and
  ``tag`` are weak and get a lower training weight.
- genre/mood heads also learn from the user's existing file tags (``items.genre``, mood
  words in genre/comment) for items without a label row — they exist to fill the gaps.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from djml.models.features import tokens

SOURCE_WEIGHT = {"user": 1.0, "import": 1.0, "tag": 0.5, "folder": 0.4}
STRONG_SOURCES = ("user", "import")

# Folder-name tokens in sample packs → sample class. The deepest matching folder wins.
FOLDER_WORDS: dict[str, str] = {
    **dict.fromkeys(("kick", "kicks", "kik", "bd", "bassdrum", "bassdrums"), "kick"),
    **dict.fromkeys(("snare", "snares", "sd", "rim", "rims", "rimshot", "rimshots"), "snare"),
    **dict.fromkeys(("hat", "hats", "hihat", "hihats", "hh", "openhat", "openhats", "closedhat",
                     "closedhats", "oh", "ch"), "hihat"),
    **dict.fromkeys(("clap", "claps", "snap", "snaps"), "clap"),
    **dict.fromkeys(("tom", "toms"), "tom"),
    **dict.fromkeys(("cymbal", "cymbals", "crash", "crashes", "ride", "rides"), "cymbal"),
    **dict.fromkeys(("perc", "percs", "percussion", "shaker", "shakers", "conga", "congas",
                     "bongo", "bongos"), "perc"),
    **dict.fromkeys(("808", "808s", "bass", "basses", "sub", "subs"), "bass"),
    **dict.fromkeys(("synth", "synths", "lead", "leads", "pad", "pads", "stab", "stabs",
                     "chord", "chords", "keys", "pluck", "plucks"), "synth"),
    **dict.fromkeys(("vocal", "vocals", "vox", "voice", "voices", "acapella", "acapellas"), "vocal"),
    **dict.fromkeys(("fx", "sfx", "effects", "riser", "risers", "impact", "impacts", "sweep",
                     "sweeps", "noise"), "fx"),
    **dict.fromkeys(("loop", "loops", "drumloops", "breaks"), "loop"),
}

MOOD_WORDS: dict[str, str] = {
    **dict.fromkeys(("dark", "darker", "sinister", "ominous"), "dark"),
    **dict.fromkeys(("uplifting", "euphoric", "happy", "joyful", "anthem", "anthemic"), "uplifting"),
    **dict.fromkeys(("melancholic", "melancholy", "sad", "emotional", "bittersweet"), "melancholic"),
    **dict.fromkeys(("chill", "chilled", "mellow", "relaxed", "laid-back", "calm", "ambient"), "chill"),
    **dict.fromkeys(("aggressive", "hard", "banging", "angry", "raw"), "aggressive"),
    **dict.fromkeys(("dreamy", "atmospheric", "hypnotic", "trippy"), "dreamy"),
    **dict.fromkeys(("groovy", "funky", "bouncy"), "groovy"),
}

_SPLIT = re.compile(r"\s*[;,/|]\s*")


def folder_label(path: str | Path, roots: list[Path] | None = None) -> str | None:
    """The sample class named by the deepest folder of ``path`` (below its root), if any."""
    p = Path(path)
    parents = list(p.parent.parts)
    for root in roots or []:
        if p.is_relative_to(root):
            parents = list(p.parent.relative_to(root).parts)
            break
    for folder in reversed(parents):
        for tok in reversed(re.findall(r"[a-z0-9]+", folder.lower())):
            if tok in FOLDER_WORDS:
                return FOLDER_WORDS[tok]
    return None


def genre_label(genre: str | None) -> str | None:
    """The first genre of a tag ("Deep House; Techno" → "Deep House"), spaces tidied;
    the spelling stays as tagged (:func:`genre_spellings` unifies "metal" and "Metal")."""
    if not genre or not genre.strip():
        return None
    first = _SPLIT.split(genre.strip())[0].strip()
    return " ".join(first.split()) or None


def genre_spellings(spellings: list[str]) -> dict[str, str]:
    """casefolded genre → the spelling the library uses most ("Metal" over "metal"; ties:
    the one with capitals, then alphabetical), so a model predicts genres as they are tagged."""
    counts: dict[str, dict[str, int]] = {}
    for text in spellings:
        counts.setdefault(text.casefold(), {}).setdefault(text, 0)
        counts[text.casefold()][text] += 1
    return {key: min(forms, key=lambda f: (-forms[f], f == f.lower(), f)) for key, forms in counts.items()}


def mood_label(genre: str | None, comment: str | None) -> str | None:
    for tok in tokens(f"{genre or ''} {comment or ''}"):
        if tok in MOOD_WORDS:
            return MOOD_WORDS[tok]
    return None


def current_labels(conn: sqlite3.Connection, task: str) -> dict[int, tuple[str, str]]:
    """item_id → (label, source) in force for ``task`` (newest non-undone row)."""
    rows = conn.execute(
        "SELECT item_id, label, source FROM labels WHERE id IN ("
        " SELECT MAX(id) FROM labels WHERE task = ? AND undone_at IS NULL GROUP BY item_id)",
        (task,),
    )
    return {r["item_id"]: (r["label"], r["source"]) for r in rows}


def training_labels(conn: sqlite3.Connection, task: str) -> dict[int, tuple[str, float]]:
    """item_id → (label, weight) for every item that can teach ``task``."""
    out = {item: (label, SOURCE_WEIGHT.get(source, 0.5))
           for item, (label, source) in current_labels(conn, task).items()}
    if task in ("genre", "mood"):
        for r in conn.execute("SELECT id, genre, comment FROM items WHERE kind = 'track'"):
            if r["id"] in out:
                continue
            label = genre_label(r["genre"]) if task == "genre" else mood_label(r["genre"], r["comment"])
            if label:
                out[r["id"]] = (label, SOURCE_WEIGHT["tag"])
    if task == "genre":  # one class per genre, spelled as the library mostly spells it
        spelling = genre_spellings([label for label, _ in out.values()])
        out = {i: (spelling[label.casefold()], w) for i, (label, w) in out.items()}
    return out


def labelled_by_user(conn: sqlite3.Connection, task: str) -> set[int]:
    """Items whose label for ``task`` came from the user (they never need review)."""
    return {i for i, (_, source) in current_labels(conn, task).items() if source in STRONG_SOURCES}
