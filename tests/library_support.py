"""Small libraries with chosen BPMs, keys, names and gaps (NULLs), stored through the real
writer (Library.record_result), for the sorting tests of `djml ls`, the query and the TUI."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from djml import db
from djml.analysis import FEATURE_NAMES, Analysis
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.tags import Tags


def add_item(library: Library, root: Path, n: int, *, kind: str = "track", bpm: float | None = None,
             key: int | None = None, energy: float | None = None, artist: str | None = None,
             title: str | None = None, genre: str | None = None, name: str | None = None) -> int:
    """One item numbered ``n`` (its audio hash and inode); ``name`` is the file name."""
    path = root / (name or f"item{n:05d}.wav")
    a = Analysis(path=str(path), kind=kind, analyzer_version=1, audio_hash=f"sort-{n}", duration=200.0,
                 sample_rate=44100, channels=2, loudness=-9.0, peak_db=-0.5, bpm=bpm,
                 bpm_confidence=None if bpm is None else 0.9, key=key, key_confidence=None if key is None else 0.8,
                 energy=energy, feature_vector=np.zeros(len(FEATURE_NAMES), np.float32))
    result = FileResult(path=str(path), stat=FileStat(1000 + n, n, n, 1),
                        tags=Tags(artist=artist, title=title, genre=genre), analysis=a)
    return library.record_result(result)[1]


def random_library(db_path: Path, n: int, seed: int = 0) -> Library:
    """``n`` tracks with random BPM/key/energy, every 7th without BPM, every 5th without key."""
    rng = np.random.default_rng(seed)
    library = Library(db.connect(db_path))
    for i in range(n):
        add_item(library, db_path.parent / "music", i,
                 bpm=None if i % 7 == 3 else round(float(rng.uniform(80, 175)), 1),
                 key=None if i % 5 == 2 else int(rng.integers(0, 24)),
                 energy=float(rng.integers(1, 11)), artist=f"Artist {rng.integers(0, 30)}",
                 title=f"Title {i}", genre=["House", "techno", None][i % 3])
    return library
