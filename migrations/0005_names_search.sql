-- File and folder names become searchable: for a producer the file name ("Kick_08.wav",
-- "DirtyLove.mp3") or its folder ("Kicks/") is the first thing they type, and samples
-- rarely have tags. The full-text index gains a `names` column: the file name and the two
-- folders above it, for every location of the item (the whole path would make "music" or
-- "home" match everything). It stores its own copy of the text (no longer an external
-- content table over `items`), because `names` is not a column of `items`.

DROP TRIGGER items_fts_insert;
DROP TRIGGER items_fts_delete;
DROP TRIGGER items_fts_update;
DROP TABLE items_fts;

-- Last three path components of each location: file, its folder, the folder above.
CREATE VIEW location_parent AS
    SELECT id, item_id,
           replace(path, rtrim(path, replace(path, '/', '')), '') AS file,
           rtrim(rtrim(path, replace(path, '/', '')), '/') AS parent
    FROM locations WHERE item_id IS NOT NULL;
CREATE VIEW location_grandparent AS
    SELECT id, item_id, file,
           replace(parent, rtrim(parent, replace(parent, '/', '')), '') AS folder,
           rtrim(rtrim(parent, replace(parent, '/', '')), '/') AS grandparent
    FROM location_parent;
CREATE VIEW item_names AS
    SELECT item_id,
           group_concat(file || ' ' || folder || ' '
                        || replace(grandparent, rtrim(grandparent, replace(grandparent, '/', '')), ''), ' ')
               AS names
    FROM location_grandparent GROUP BY item_id;

CREATE VIRTUAL TABLE items_fts USING fts5 (
    artist, title, album, genre, comment, names,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO items_fts (rowid, artist, title, album, genre, comment, names)
    SELECT i.id, i.artist, i.title, i.album, i.genre, i.comment, n.names
    FROM items i LEFT JOIN item_names n ON n.item_id = i.id;

CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, artist, title, album, genre, comment, names)
    VALUES (new.id, new.artist, new.title, new.album, new.genre, new.comment,
            (SELECT names FROM item_names WHERE item_id = new.id));
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    DELETE FROM items_fts WHERE rowid = old.id;
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF artist, title, album, genre, comment ON items BEGIN
    DELETE FROM items_fts WHERE rowid = old.id;
    INSERT INTO items_fts (rowid, artist, title, album, genre, comment, names)
    VALUES (new.id, new.artist, new.title, new.album, new.genre, new.comment,
            (SELECT names FROM item_names WHERE item_id = new.id));
END;

-- A location added, renamed, moved to another item or forgotten changes its item's names.
CREATE TRIGGER items_fts_location_insert AFTER INSERT ON locations WHEN new.item_id IS NOT NULL BEGIN
    UPDATE items_fts SET names = (SELECT names FROM item_names WHERE item_id = new.item_id)
    WHERE rowid = new.item_id;
END;
CREATE TRIGGER items_fts_location_update AFTER UPDATE OF path, item_id ON locations BEGIN
    UPDATE items_fts SET names = (SELECT names FROM item_names WHERE item_id = old.item_id)
    WHERE rowid = old.item_id;
    UPDATE items_fts SET names = (SELECT names FROM item_names WHERE item_id = new.item_id)
    WHERE rowid = new.item_id AND new.item_id IS NOT old.item_id;
END;
CREATE TRIGGER items_fts_location_delete AFTER DELETE ON locations WHEN old.item_id IS NOT NULL BEGIN
    UPDATE items_fts SET names = (SELECT names FROM item_names WHERE item_id = old.item_id)
    WHERE rowid = old.item_id;
END;
