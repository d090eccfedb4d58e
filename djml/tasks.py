"""The learning tasks and their label vocabularies: which tasks apply to which kind of
item, the sample classes, and the names users type for tasks.

In the core package (not :mod:`djml.models`) because labelling is a core action — `djml
label`, CSV imports and the daemon's label handler validate against these — and the core
imports nothing from the models package; :mod:`djml.models` re-exports them.
"""

from __future__ import annotations

import unicodedata

from djml.errors import ActionError

MAX_LABEL = 100

# Which tasks apply to which item kind. Buckets are personal; genre and mood fill gaps in tags.
TASKS_BY_KIND: dict[str, tuple[str, ...]] = {
    "sample": ("sample_type",),
    "track": ("bucket", "genre", "mood"),
}
TASKS: tuple[str, ...] = ("sample_type", "bucket", "genre", "mood")
KIND_OF_TASK: dict[str, str] = {t: k for k, ts in TASKS_BY_KIND.items() for t in ts}
MAIN_TASK: dict[str, str] = {"track": "bucket", "sample": "sample_type"}  # what `djml label` sets by default

SAMPLE_CLASSES: tuple[str, ...] = (
    "kick", "snare", "hihat", "clap", "tom", "cymbal", "perc",
    "bass", "synth", "vocal", "fx", "loop", "other",
)
DRUM_CLASSES: tuple[str, ...] = ("kick", "snare", "hihat", "clap", "tom", "cymbal", "perc")

# CLI spelling → task name stored in the database.
TASK_ALIASES: dict[str, str] = {
    "samples": "sample_type", "sample": "sample_type", "sample_type": "sample_type",
    "buckets": "bucket", "bucket": "bucket", "genre": "genre", "mood": "mood",
}


def task_name(text: str) -> str:
    """Normalise a CLI/protocol task name; raises ValueError naming the choices."""
    try:
        return TASK_ALIASES[text.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown task {text!r} (choose from samples, buckets, genre, mood)") from None


def clean_label(text: str, what: str = "a label") -> str:
    """A label or bucket name as stored: trimmed, 1..100 characters, no control or
    line-break characters (a tab or newline would break playlists, tag templates and the
    config). Raises ActionError naming ``what`` was wrong."""
    value = text.strip() if isinstance(text, str) else ""
    if not value:
        raise ActionError("invalid_params", f"{what} cannot be empty")
    if len(value) > MAX_LABEL:
        raise ActionError("invalid_params", f"{what} has at most {MAX_LABEL} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise ActionError("invalid_params", f"{value!r}: {what} cannot contain control characters")
    return value
