"""Issue 13: re-importing the same labels CSV appended every row again (348 label rows for
12 labels); `djml feedback import` logged every correction again. Imports skip what is
already in force, and the repeats an older version stored are tidied away."""

from __future__ import annotations

import csv

from djml.library import Library
from files_support import djml, text
from models_support import track_library


def _rows(library: Library, table: str, where: str = "1") -> int:
    return library.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]


def _csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def test_importing_the_same_labels_twice_adds_nothing(tmp_path):
    home = tmp_path / "home"
    library, truth = track_library(home / "data", per_bucket=4)
    labels = _csv(tmp_path / "labels.csv", ["item_id", "bucket"], sorted(truth.items()))
    for _ in range(3):
        proc = djml(home, "import-labels", labels, text=True)
        assert proc.returncode == 0, text(proc)
    assert _rows(library, "labels") == len(truth) == 12
    assert "imported 0 label(s)" in proc.stdout and "12 already in force" in proc.stdout
    # a changed label is still a change, and changing it back is one too
    first = min(truth)
    other = next(b for b in set(truth.values()) if b != truth[first])
    for bucket in (other, truth[first]):
        djml(home, "import-labels", _csv(tmp_path / "one.csv", ["item_id", "bucket"], [(first, bucket)]),
             check=True)
    assert _rows(library, "labels") == 14


def test_importing_the_same_corrections_twice_logs_them_once(tmp_path):
    home = tmp_path / "home"
    library, truth = track_library(home / "data", per_bucket=2)
    corrections = _csv(tmp_path / "fix.csv", ["track_id", "correct_bucket"], sorted(truth.items()))
    djml(home, "feedback", "import", corrections, check=True)
    djml(home, "feedback", "import", corrections, check=True)
    assert _rows(library, "labels") == len(truth)
    assert _rows(library, "feedback", "event = 'label_correction'") == len(truth)


def test_repeats_an_older_version_stored_are_removed(tmp_path):
    home = tmp_path / "home"
    library, truth = track_library(home / "data", per_bucket=2)
    item = min(truth)
    other = next(b for b in set(truth.values()) if b != truth[item])
    # what 29 imports of the same file left: the same label again and again, with its
    # correction events; then a real change and an undone row in the history
    for n in range(5):
        stamp = f"2026-01-01T00:00:0{n}"
        library.conn.execute("INSERT INTO labels (item_id, task, label, source, created_at)"
                             " VALUES (?, 'bucket', ?, 'user', ?)", (item, truth[item], stamp))
        library.conn.execute("INSERT INTO feedback (event, item_id, data, created_at) VALUES"
                             " ('label_correction', ?, ?, ?)",
                             (item, f'{{"task": "bucket", "label": "{truth[item]}"}}', stamp))
    library.set_label(item, "bucket", other)
    library.set_label(item, "bucket", truth[item])
    library.undo_label(item, "bucket")
    assert _rows(library, "labels") == 7
    djml(home, "import-labels", _csv(tmp_path / "l.csv", ["item_id", "bucket"], [(item, other)]), check=True)
    history = [tuple(r) for r in library.conn.execute(
        "SELECT label, undone_at IS NOT NULL FROM labels WHERE item_id = ? ORDER BY id", (item,))]
    assert history == [(truth[item], 0), (other, 0), (truth[item], 1)]
    assert _rows(library, "feedback", "event = 'label_correction'") == 1
