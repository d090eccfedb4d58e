"""Generated tracks for the monitor tests: analysed-looking items whose drift features (BPM,
energy, the audio vector's low band, brightness, onset rate, pulse) are drawn from known
normal distributions, so a test can shift exactly two of them by one standard deviation.

Items go through the real writer (Library.record_result), as scanned files would."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from djml.analysis import FEATURE_NAMES, RHYTHM_NAMES, Analysis
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.tags import Tags

# feature -> (mean, sd); names as djml.models.monitor.drift.TRACK_FEATURES
GENERATOR = {"bpm": (124.0, 5.0), "energy": (6.0, 1.5), "band_low": (0.40, 0.05), "band_high": (0.20, 0.04),
             "brightness": (2.0, 0.3), "onset_rate": (3.0, 0.5), "pulse": (0.5, 0.1)}
AUDIO = {"band_low": "band_low_mean", "band_high": "band_high_mean", "brightness": "centroid_khz_mean",
         "onset_rate": "onset_rate", "pulse": "rhythm_strength"}
SPLIT_BPM = 124.0   # the bucket by construction: slower = warm-up, faster = peak-time


def bucket_of(bpm: float) -> str:
    return "warm-up" if bpm < SPLIT_BPM else "peak-time"


def draw(rng: np.random.Generator, shift: dict[str, float] | None = None) -> dict[str, float]:
    """One item's features; ``shift`` moves a feature's mean by that many SDs."""
    shift = shift or {}
    return {name: float(rng.normal(mean + shift.get(name, 0.0) * sd, sd)) for name, (mean, sd) in GENERATOR.items()}


def add_generated(library: Library, root: Path, n: int, rng: np.random.Generator,
                  shift: dict[str, float] | None = None) -> tuple[int, dict[str, float]]:
    f = draw(rng, shift)
    vec = rng.normal(0, 0.1, len(FEATURE_NAMES)).astype(np.float32)
    for name, audio in AUDIO.items():
        vec[FEATURE_NAMES.index(audio)] = f[name]
    # the bucket models learn from the audio vector too: make its tempo column agree
    vec[FEATURE_NAMES.index("bpm_norm")] = f["bpm"] / 100.0
    a = Analysis(path=str(root / f"g{n}.wav"), kind="track", analyzer_version=1, audio_hash=f"gen-{n}",
                 duration=300.0, sample_rate=44100, channels=2, loudness=-9.0, peak_db=-0.5, bpm=f["bpm"],
                 bpm_confidence=0.9, key=9, key_confidence=0.8, energy=f["energy"], feature_vector=vec,
                 rhythm=rng.normal(0, 0.3, len(RHYTHM_NAMES)).astype(np.float32))
    result = FileResult(path=a.path, stat=FileStat(1000 + n, n, n, 1),
                        tags=Tags(artist=f"Artist {n}", title=f"Generated {n}", genre="house"), analysis=a)
    return library.record_result(result)[1], f


def generated_library(library: Library, root: Path, count: int, rng: np.random.Generator, start: int = 0,
                      shift: dict[str, float] | None = None) -> dict[int, str]:
    """``count`` generated tracks; returns item id -> bucket by construction."""
    out = {}
    for n in range(start, start + count):
        item_id, f = add_generated(library, root, n, rng, shift)
        out[item_id] = bucket_of(f["bpm"])
    return out
