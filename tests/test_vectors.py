"""Stored vectors: log-mel patches as float16 (half the bytes), everything else float32,
and rows written before (float32 patches) still read the same."""

from __future__ import annotations

import numpy as np

from djml import db, synth
from djml.analysis import analyze
from djml.library import Library
from djml.models.features import load_rows
from djml.pipeline import FileResult, FileStat
from djml.vectors import from_blob, to_blob


def test_patches_are_half_size_and_exact_to_a_quarter_thousandth():
    patch = np.random.default_rng(0).random(4096, dtype=np.float32)
    blob, dim = to_blob("logmel", patch)
    assert (len(blob), dim) == (8192, 4096)
    back = from_blob(blob, dim)
    assert back.dtype == np.float32 and np.abs(back - patch).max() <= 2.5e-4
    small, dim = to_blob("sample", patch[:61])
    assert len(small) == 61 * 4 and np.array_equal(from_blob(small, dim), patch[:61])


def test_old_float32_patches_and_new_float16_ones_both_load(tmp_path):
    path = synth.write_wav(tmp_path / "snare.wav", synth.one_shot("snare"))
    analysis = analyze(str(path), "sample")
    library = Library(db.connect(tmp_path / "library.db"))
    _, new_id = library.record_result(FileResult(str(path), FileStat.of(path), analysis=analysis))
    stored = library.conn.execute("SELECT dim, LENGTH(vector) FROM vectors WHERE item_id = ? AND space = 'logmel'",
                                  (new_id,)).fetchone()
    assert tuple(stored) == (4096, 8192)
    library.conn.execute("INSERT INTO items (id, audio_hash, kind, created_at, updated_at)"
                         " VALUES (99, 'old', 'sample', 'x', 'x')")
    library.conn.execute("INSERT INTO vectors (item_id, space, dim, vector, source, created_at)"
                         " VALUES (99, 'logmel', 4096, ?, 'analyzer-2', 'x')",
                         (analysis.logmel.astype("<f4").tobytes(),))
    rows = {r.id: r for r in load_rows(library.conn, [new_id, 99], spaces=("logmel", "sample"))}
    expected = analysis.logmel.ravel()
    assert np.array_equal(rows[99].vectors["logmel"], expected)            # float32 as written
    assert np.abs(rows[new_id].vectors["logmel"] - expected).max() <= 2.5e-4
    assert np.array_equal(rows[new_id].vectors["sample"], analysis.feature_vector.astype(np.float32))
