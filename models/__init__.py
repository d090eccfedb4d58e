"""Learning on the user's library: sample-type, bucket, genre and mood classifiers.

Layout (each module small, imports heavy libraries only inside functions):

- :mod:`features`   assemble feature matrices from analyses / vectors rows
- :mod:`estimators` sklearn-style estimators with metadata, save/load
- :mod:`cnn`        small torch CNN on log-mel patches (samples)
- :mod:`text`       all-MiniLM-L6-v2 embeddings of track descriptions, cached in ``vectors``
- :mod:`registry`   every trained version, one active per task, rollback
- :mod:`service`    what the daemon and the CLI call (predict, train, review queue, labels)
- :mod:`review`     review-queue ordering (uncertainty with diversity)
- :mod:`evaluate`   metrics, k-fold CV, McNemar
- :mod:`feedback`   CSV label / correction import with per-row validation
"""

# Which tasks apply to which item kind. Buckets are personal; genre and mood fill gaps in tags.
TASKS_BY_KIND: dict[str, tuple[str, ...]] = {
    "sample": ("sample_type",),
    "track": ("bucket", "genre", "mood"),
}
TASKS: tuple[str, ...] = ("sample_type", "bucket", "genre", "mood")
KIND_OF_TASK: dict[str, str] = {t: k for k, ts in TASKS_BY_KIND.items() for t in ts}

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
