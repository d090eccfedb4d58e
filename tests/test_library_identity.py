"""Item identity when a file's bytes change: overwritten in place vs the old audio living on."""

from __future__ import annotations

import shutil

import pytest

from djml import db, synth
from djml.analysis import analyze
from djml.library import Library
from djml.pipeline import FileResult, FileStat


def store(library: Library, path) -> tuple[str, int]:
    return library.record_result(FileResult(str(path), FileStat.of(str(path)), analysis=analyze(path, "track")))


@pytest.fixture
def library(tmp_path):
    lib = Library(db.connect(tmp_path / "library.db"))
    yield lib
    lib.conn.close()


def items(library: Library) -> int:
    return library.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]


def test_overwritten_file_keeps_its_item_and_labels(library, tmp_path):
    """A re-bounced mix saved over the old file is the same track to its owner."""
    path = synth.write_wav(tmp_path / "my track.wav", synth.drum_track(124.0, 9, 32.0, seed=1))
    _, item_id = store(library, path)
    library.set_label(item_id, "bucket", "peak-time")
    old_hash = library.conn.execute("SELECT audio_hash FROM items WHERE id = ?", (item_id,)).fetchone()[0]

    synth.write_wav(path, synth.drum_track(126.0, 21, 34.0, seed=2))     # new mix, same name
    outcome, again = store(library, path)

    assert (outcome, again) == ("updated", item_id) and items(library) == 1
    row = library.conn.execute("SELECT audio_hash, duration FROM items WHERE id = ?", (item_id,)).fetchone()
    assert row[0] != old_hash and row[1] == pytest.approx(34.0, abs=0.01)
    bpm = library.conn.execute("SELECT bpm FROM analyses WHERE item_id = ?", (item_id,)).fetchone()[0]
    assert bpm == pytest.approx(126.0, abs=0.5)
    label = library.conn.execute("SELECT label FROM labels WHERE item_id = ? AND task = 'bucket'",
                                 (item_id,)).fetchone()[0]
    assert label == "peak-time"


def test_overwritten_file_whose_old_audio_lives_elsewhere_gets_a_new_item(library, tmp_path):
    path = synth.write_wav(tmp_path / "a.wav", synth.drum_track(124.0, 9, 32.0, seed=1))
    copy = tmp_path / "backup" / "a.wav"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    _, item_id = store(library, path)
    assert store(library, copy) == ("copy", item_id)

    synth.write_wav(path, synth.drum_track(126.0, 21, 34.0, seed=2))
    outcome, new_id = store(library, path)

    assert outcome == "updated" and new_id != item_id and items(library) == 2
    paths = [r[0] for r in library.conn.execute("SELECT path FROM locations WHERE item_id = ?", (item_id,))]
    assert paths == [str(copy)]            # the old audio keeps its item and its other home
