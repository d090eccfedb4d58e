import sqlite3

import pytest

from djml import db


def schema(conn: sqlite3.Connection) -> list[tuple]:
    return sorted(
        (row["type"], row["name"], " ".join((row["sql"] or "").split()))
        for row in conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    )


def test_fresh_database_has_every_migration(tmp_path):
    conn = db.connect(tmp_path / "library.db")
    assert db.applied_version(conn) == db.schema_version() >= 3
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
