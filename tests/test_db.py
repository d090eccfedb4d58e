import sqlite3

import pytest
import sqlite_utils

from djml import db


def schema(conn: sqlite3.Connection) -> dict:
    """What a migration must get right, read with sqlite-utils' introspection: every
    table's columns (type, not-null, default, primary key), foreign keys, indexes
    (columns, unique) and triggers, and every view — compared by meaning, not by the SQL
    text an ALTER TABLE leaves behind."""
    database = sqlite_utils.Database(conn)
    tables = {
        t.name: {
            "columns": [(c.name, c.type, c.notnull, c.default_value, c.is_pk) for c in t.columns],
            "foreign_keys": sorted((fk.column, fk.other_table, fk.other_column) for fk in t.foreign_keys),
            "indexes": sorted((i.name, tuple(i.columns), i.unique) for i in t.indexes),
            "triggers": sorted((tr.name, " ".join(tr.sql.split())) for tr in t.triggers),
        }
        for t in database.tables
    }
    return {"tables": tables, "views": sorted(database.view_names())}


def test_fresh_database_has_every_migration(tmp_path):
    conn = db.connect(tmp_path / "library.db")
    assert db.applied_version(conn) == db.schema_version() >= 3
    tables = schema(conn)["tables"]
    assert {"items", "locations", "labels", "predictions", "models", "jobs", "items_fts"} <= set(tables)
    assert ("item_id", "items", "id") in tables["labels"]["foreign_keys"]
    assert {"items_fts_insert", "items_fts_delete"} <= {name for name, _ in tables["items"]["triggers"]}
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.mark.parametrize("start", range(db.schema_version()))
def test_every_older_version_upgrades_to_the_fresh_schema(tmp_path, start):
    fresh = db.connect(tmp_path / "fresh.db")
    old_path = tmp_path / "old.db"
    db.connect(old_path, upto=start).close()
    assert db.applied_version(sqlite3.connect(old_path)) == start
    upgraded = db.connect(old_path)
    assert schema(upgraded) == schema(fresh)
    versions = [r[0] for r in upgraded.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, db.schema_version() + 1))


def test_readonly_connection_cannot_write(tmp_path):
    db.connect(tmp_path / "library.db").close()
    ro = db.connect_readonly(tmp_path / "library.db")
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("INSERT INTO buckets (name, created_at) VALUES ('x', 'y')")


def test_readonly_on_missing_library_explains_what_to_do(tmp_path):
    with pytest.raises(db.DatabaseError, match="djml scan"):
        db.connect_readonly(tmp_path / "nope.db")


def test_newer_schema_is_refused(tmp_path):
    conn = db.connect(tmp_path / "library.db")
    conn.execute("INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 'x')")
    conn.close()
    with pytest.raises(db.DatabaseError, match="newer"):
        db.connect(tmp_path / "library.db")


def test_fts_follows_item_updates(tmp_path):
    conn = db.connect(tmp_path / "library.db")
    conn.execute("INSERT INTO items (audio_hash, kind, artist, title, created_at, updated_at)"
                 " VALUES ('h', 'track', 'Daft Punk', 'Da Funk', 'now', 'now')")
    assert conn.execute("SELECT rowid FROM items_fts WHERE items_fts MATCH 'daft'").fetchall()
    conn.execute("UPDATE items SET artist = 'Röyksopp' WHERE audio_hash = 'h'")
    assert not conn.execute("SELECT rowid FROM items_fts WHERE items_fts MATCH 'daft'").fetchall()
    assert conn.execute("SELECT rowid FROM items_fts WHERE items_fts MATCH 'royksopp'").fetchall()
