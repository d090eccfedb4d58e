-- What the DJ actually played together, and how they reacted to recommendations.

CREATE TABLE sets (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    source       TEXT NOT NULL,          -- m3u | rekordbox | traktor | djml
    source_path  TEXT,
    played_at    TEXT,
    created_at   TEXT NOT NULL,
    UNIQUE (source, source_path, name)
);

CREATE TABLE set_entries (
    set_id    INTEGER NOT NULL REFERENCES sets (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    item_id   INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (set_id, position)
);
CREATE INDEX set_entries_item ON set_entries (item_id);

-- Feedback events: recommendation accepted / skipped / played, label corrections...
CREATE TABLE feedback (
    id             INTEGER PRIMARY KEY,
    event          TEXT NOT NULL,
    item_id        INTEGER REFERENCES items (id) ON DELETE CASCADE,
    other_item_id  INTEGER REFERENCES items (id) ON DELETE CASCADE,
    data           TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL
);
CREATE INDEX feedback_item ON feedback (item_id, event);
