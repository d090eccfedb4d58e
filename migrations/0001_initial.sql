-- Core library: logical items (audio identity) separate from file locations.
-- An item is one piece of audio, identified by a hash of its decoded content, so a
-- move, rename, re-tag or second copy never loses its labels and history.

CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    audio_hash    TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('track', 'sample')),
    duration      REAL,
    sample_rate   INTEGER,
    channels      INTEGER,
    artist        TEXT,
    title         TEXT,
    album         TEXT,
    genre         TEXT,
    comment       TEXT,
    year          INTEGER,
    tag_bpm       REAL,
    tag_key       TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Every file path ever seen. item_id is NULL for files that failed before an identity was
-- known. status: ok | missing (vanished; the item and its labels stay) | failed.
CREATE TABLE locations (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER REFERENCES items (id) ON DELETE SET NULL,
    path        TEXT NOT NULL UNIQUE,
    size        INTEGER,
    mtime_ns    INTEGER,
    inode       INTEGER,
    device      INTEGER,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'missing', 'failed')),
    error       TEXT,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL
);
CREATE INDEX locations_item ON locations (item_id);
CREATE INDEX locations_status ON locations (status);

-- Latest analysis per item. Queryable facts are columns; everything else is JSON.
-- analyzer_version lets an improved analyser re-analyse lazily.
CREATE TABLE analyses (
    item_id          INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    analyzer_version INTEGER NOT NULL,
    analyzed_at      TEXT NOT NULL,
    bpm              REAL,
    bpm_confidence   REAL,
    bpm_ambiguous    INTEGER NOT NULL DEFAULT 0,
    key              INTEGER CHECK (key BETWEEN 0 AND 23),
    key_confidence   REAL,
    camelot          TEXT,
    energy           REAL,
    loudness         REAL,
    sample_type      TEXT,
    data             TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX analyses_camelot_bpm ON analyses (camelot, bpm);
CREATE INDEX analyses_bpm ON analyses (bpm);

-- Persistent work queue for the daemon: nothing queued is lost across crashes.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL,
    action      TEXT NOT NULL DEFAULT 'analyze' CHECK (action IN ('analyze', 'remove')),
    state       TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  REAL NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX jobs_one_pending_per_path ON jobs (path) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_state ON jobs (state, not_before);

-- Full-text search over the descriptive tags.
CREATE VIRTUAL TABLE items_fts USING fts5 (
    artist, title, album, genre, comment,
    content = 'items', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, artist, title, album, genre, comment)
    VALUES (new.id, new.artist, new.title, new.album, new.genre, new.comment);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, artist, title, album, genre, comment)
    VALUES ('delete', old.id, old.artist, old.title, old.album, old.genre, old.comment);
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF artist, title, album, genre, comment ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, artist, title, album, genre, comment)
    VALUES ('delete', old.id, old.artist, old.title, old.album, old.genre, old.comment);
    INSERT INTO items_fts (rowid, artist, title, album, genre, comment)
    VALUES (new.id, new.artist, new.title, new.album, new.genre, new.comment);
END;
