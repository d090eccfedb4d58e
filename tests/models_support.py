"""Synthetic libraries for the models tests: items stored through the real writer
(Library.record_result) with feature vectors whose classes are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from djml import db
from djml.analysis import FEATURE_NAMES, RHYTHM_NAMES, Analysis
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.tags import Tags

# bucket -> (bpm range, energy range, genre)
BUCKETS = {
    "warm-up": ((112, 119), (2, 4), "deep house"),
    "peak-time": ((128, 134), (8, 10), "techno"),
    "closing": ((120, 125), (5, 7), "melodic house"),
}
DIM = len(FEATURE_NAMES)


def open_library(path: Path) -> Library:
    return Library(db.connect(path / "library.db"))


def add_track(library: Library, root: Path, n: int, bucket: str, rng: np.random.Generator,
              *, key: int | None = 9, bpm: float | None = None) -> int:
    (lo, hi), (elo, ehi), genre = BUCKETS[bucket]
    centre = {"warm-up": -1.0, "peak-time": 1.0, "closing": 0.0}[bucket]
    vec = (rng.normal(0, 0.3, DIM) + centre).astype(np.float32)
    rhythm = (rng.normal(0, 0.3, len(RHYTHM_NAMES)) + centre).astype(np.float32)
    a = Analysis(path=str(root / f"t{n}.wav"), kind="track", analyzer_version=1, audio_hash=f"track-{n}",
                 duration=300.0, sample_rate=44100, channels=2, loudness=-9.0, peak_db=-0.5,
                 bpm=bpm if bpm is not None else float(rng.uniform(lo, hi)), bpm_confidence=0.9,
                 key=key, key_confidence=0.8, energy=float(rng.uniform(elo, ehi)), feature_vector=vec,
                 rhythm=rhythm)
    result = FileResult(path=a.path, stat=FileStat(1000 + n, n, n, 1),
                        tags=Tags(artist=f"Artist {n}", title=f"Track {n}", genre=genre), analysis=a)
    return library.record_result(result)[1]


def add_sample(library: Library, root: Path, n: int, kind: str, rng: np.random.Generator, folder: str = "") -> int:
    centre = {"kick": -1.0, "snare": 0.0, "hihat": 1.0}[kind]
    vec = (rng.normal(0, 0.2, DIM) + centre).astype(np.float32)
    path = root / folder / f"s{n}.wav" if folder else root / f"s{n}.wav"
    a = Analysis(path=str(path), kind="sample", analyzer_version=1, audio_hash=f"sample-{n}",
                 duration=0.5, sample_rate=44100, channels=1, loudness=-12.0, peak_db=-1.0,
                 sample_type="one-shot", attack=0.005, decay=0.2, feature_vector=vec,
                 logmel=rng.random((64, 64), dtype=np.float32))
    return library.record_result(FileResult(path=str(path), stat=FileStat(n, n, 10_000 + n, 1), analysis=a))[1]


def track_library(path: Path, per_bucket: int = 12, seed: int = 0) -> tuple[Library, dict[int, str]]:
    """A library of tracks; returns it and the true bucket of every item."""
    rng = np.random.default_rng(seed)
    library = open_library(path)
    truth = {}
    n = 0
    for _ in range(per_bucket):
        for bucket in BUCKETS:
            truth[add_track(library, path, n, bucket, rng)] = bucket
            n += 1
    return library, truth
