-- What the user said and what the models said, kept apart: a model never overwrites a
-- user label. Vectors live here (the HNSW files are a rebuildable cache).

-- Append-only label history. The current label of (item, task) is the newest row that
-- has not been undone; undo sets undone_at instead of deleting, so history survives.
CREATE TABLE labels (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    task        TEXT NOT NULL,          -- bucket | sample_type | genre | mood
    label       TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'user',  -- user | import | folder | tag
    created_at  TEXT NOT NULL,
    undone_at   TEXT
);
CREATE INDEX labels_item_task ON labels (item_id, task, undone_at);
CREATE INDEX labels_task ON labels (task, undone_at);

-- The latest prediction per (item, task), with the model version that made it.
CREATE TABLE predictions (
    item_id        INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    task           TEXT NOT NULL,
    label          TEXT NOT NULL,
    confidence     REAL NOT NULL,
    top            TEXT NOT NULL DEFAULT '[]',   -- JSON [[label, p], ...] best first
    unsure         INTEGER NOT NULL DEFAULT 0,
    model_version  TEXT NOT NULL,
    predicted_at   TEXT NOT NULL,
    PRIMARY KEY (item_id, task)
);
CREATE INDEX predictions_unsure ON predictions (task, unsure, confidence);

-- Model registry: every trained version; one active per task.
CREATE TABLE models (
    version     TEXT PRIMARY KEY,
    task        TEXT NOT NULL,
    estimator   TEXT NOT NULL,
    path        TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    metrics     TEXT NOT NULL DEFAULT '{}',
    active      INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX models_one_active ON models (task) WHERE active = 1;

-- Feature vectors and embeddings, one per (item, space), float32 little-endian BLOBs.
CREATE TABLE vectors (
    item_id     INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    space       TEXT NOT NULL,          -- audio | text | sample
    dim         INTEGER NOT NULL,
    vector      BLOB NOT NULL,
    source      TEXT NOT NULL,          -- analyzer or embedder version
    created_at  TEXT NOT NULL,
    PRIMARY KEY (item_id, space)
);

-- The user's buckets (crates such as warm-up / peak-time / closing).
CREATE TABLE buckets (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);
