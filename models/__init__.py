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

from djml.tasks import (  # the task vocabulary lives in the core, where labelling validates
    DRUM_CLASSES,
    KIND_OF_TASK,
    SAMPLE_CLASSES,
    TASK_ALIASES,
    TASKS,
    TASKS_BY_KIND,
    task_name,
)

__all__ = ["DRUM_CLASSES", "KIND_OF_TASK", "SAMPLE_CLASSES", "TASK_ALIASES", "TASKS", "TASKS_BY_KIND", "task_name"]
