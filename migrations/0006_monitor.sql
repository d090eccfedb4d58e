-- Models that watch themselves: what became of each prediction, the feature distribution
-- each model version learnt from, weekly drift checks and a log of every training run.

-- One row per prediction the user decided on: the first label of theirs (or an import's)
-- on an item the model had predicted. accepted = the label is the predicted one, else a
-- correction. Written by a trigger, so every way of labelling counts alike (review queue,
-- `djml label`, CSV imports, feedback imports) and no code path can forget it.
CREATE TABLE prediction_outcomes (
    id             INTEGER PRIMARY KEY,
    label_id       INTEGER NOT NULL UNIQUE REFERENCES labels (id) ON DELETE CASCADE,
    item_id        INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    task           TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    predicted      TEXT NOT NULL,
    confidence     REAL NOT NULL,
    label          TEXT NOT NULL,
    accepted       INTEGER NOT NULL,
    source         TEXT NOT NULL,          -- user | import (label source)
    created_at     TEXT NOT NULL,
    undone_at      TEXT                    -- the label was undone: the outcome no longer counts
);
CREATE INDEX prediction_outcomes_version ON prediction_outcomes (model_version, undone_at);
CREATE INDEX prediction_outcomes_task ON prediction_outcomes (task, created_at);

-- A second label on an item already labelled is a change of mind, not a verdict on the
-- model: only the first label in force counts.
CREATE TRIGGER labels_prediction_outcome AFTER INSERT ON labels
WHEN new.source IN ('user', 'import') BEGIN
    INSERT INTO prediction_outcomes (label_id, item_id, task, model_version, predicted, confidence, label,
                                     accepted, source, created_at)
    SELECT new.id, new.item_id, new.task, p.model_version, p.label, p.confidence, new.label,
           p.label = new.label, new.source, new.created_at
    FROM predictions p
    WHERE p.item_id = new.item_id AND p.task = new.task
      AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.item_id = new.item_id AND l.task = new.task
                      AND l.id < new.id AND l.undone_at IS NULL AND l.source IN ('user', 'import'));
END;
CREATE TRIGGER labels_outcome_undone AFTER UPDATE OF undone_at ON labels
WHEN new.undone_at IS NOT NULL BEGIN
    UPDATE prediction_outcomes SET undone_at = new.undone_at WHERE label_id = new.id;
END;

-- The feature distribution of a version's training items (binned on the training
-- quantiles) and its label distribution: what drift checks compare new items with.
CREATE TABLE model_snapshots (
    version     TEXT PRIMARY KEY REFERENCES models (version) ON DELETE CASCADE,
    task        TEXT NOT NULL,
    snapshot    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Each drift check of a task's active version against the items added since the last one.
-- clock = the daemon's clock (seconds since the epoch) when it ran: what schedules go by.
CREATE TABLE drift_checks (
    id          INTEGER PRIMARY KEY,
    task        TEXT NOT NULL,
    version     TEXT NOT NULL,
    n_items     INTEGER NOT NULL,
    last_item   INTEGER NOT NULL,          -- newest item id compared (the next check starts after it)
    drifted     INTEGER NOT NULL,
    features    TEXT NOT NULL DEFAULT '[]', -- names of the features (and "classes") that moved
    message     TEXT,
    data        TEXT NOT NULL DEFAULT '{}',
    clock       REAL NOT NULL,
    checked_at  TEXT NOT NULL
);
CREATE INDEX drift_checks_task ON drift_checks (task, id);

-- Every training run, whoever asked for it and why (schedule, drift, new labels, manual).
CREATE TABLE training_runs (
    id            INTEGER PRIMARY KEY,
    task          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    status        TEXT NOT NULL,          -- activated | rejected | unchanged | not_enough_labels | failed
    version       TEXT,
    labels_state  TEXT NOT NULL,          -- the task's labels when it ran (never train twice on the same)
    n_labels      INTEGER,
    seconds       REAL,
    data          TEXT NOT NULL DEFAULT '{}',
    clock         REAL NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT NOT NULL
);
CREATE INDEX training_runs_task ON training_runs (task, id);
