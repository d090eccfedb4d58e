"""Export/import speed at DJ-library scale, and tag write-back cost per file format.

    python benchmarks/interop.py [--items 10000]

Part 1 builds a library of N items through the real writer (fake analyses, no audio),
then times collect + export for each format, parse, and import (which matches every
entry and, being djml's own export, records nothing). Part 2 writes a 60 s stereo file
per format and times `tags write` (copy, tag, fsync, decode-verify, replace) and undo.
Prints tables; asserts nothing (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf

from djml import config as config_mod
from djml import db, synth
from djml.analysis.result import Analysis
from djml.interop import m3u, rekordbox, traktor
from djml.interop.collect import collect, group_playlists
from djml.interop.importer import import_collection
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.query import Filters
from djml.scan import scan
from djml.tags import Tags
from djml.interop.tagwrite import tags_undo, tags_write


def build_library(root: Path, n: int):
    music = root / "Music Library"
    music.mkdir()
    cfg = config_mod.from_dict({"library": [str(music)], "data_dir": str(root / "data")}, root / "c.toml")
    library = Library(db.connect(cfg.db_path))
    rng = np.random.default_rng(0)
    stub = music / "stub.mp3"
    stub.write_bytes(b"x")
    stat = FileStat.of(stub)
    buckets = cfg.buckets
    labels = []
    for i in range(n):
        path = str(music / f"Artist {i % 300}" / f"Track {i} #{i % 7} – ü.mp3")
        a = Analysis(path=path, kind="track", analyzer_version=1, audio_hash=f"h{i:08d}", duration=300.0,
                     sample_rate=44100, channels=2, loudness=-9.0, peak_db=-0.5,
                     bpm=float(rng.uniform(90, 175)), key=int(rng.integers(0, 24)), energy=5.0,
                     first_beat=0.1, feature_vector=np.zeros(8, np.float32))
        _, item_id = library.record_result(FileResult(path, stat, Tags(artist=f"Artist {i % 300}", title=f"T{i}",
                                                                       genre=("Techno", "House", "DnB")[i % 3]), a))
        labels.append((item_id, "bucket", buckets[i % len(buckets)]))
    library.import_labels(labels, "user")
    return cfg, library


def timed(fn, memory: bool = True):
    """(result, seconds, peak MiB). Time comes from a run without tracemalloc (it slows
    allocation-heavy code several-fold); memory from a second, traced run."""
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    if not memory:
        return result, elapsed, 0.0
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak / 2**20


def part1(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="djml-bench-interop-"))
    try:
        t0 = time.perf_counter()
        cfg, library = build_library(root, n)
        print(f"built {n} items in {time.perf_counter() - t0:.1f} s\n")
        collected, t_collect, m_collect = timed(lambda: collect(library.conn, Filters()))
        playlists = group_playlists(collected.tracks, cfg.buckets)
        print(f"| step ({n} items) | seconds | peak MiB (Python) |\n|---|---|---|")
        print(f"| collect + group | {t_collect:.2f} | {m_collect:.0f} |")
        outputs = {"rekordbox": root / "rb.xml", "traktor": root / "c.nml", "m3u": root / "m3u"}
        for fmt, out in outputs.items():
            if fmt == "rekordbox":
                job = lambda: rekordbox.export(collected.tracks, playlists, out, bucket_order=cfg.buckets)  # noqa: E731
            elif fmt == "traktor":
                job = lambda: traktor.export(collected.tracks, playlists, out, bucket_order=cfg.buckets)  # noqa: E731
            else:
                job = lambda: m3u.export(playlists, out)  # noqa: E731
            _, t, m = timed(job)
            size = sum(p.stat().st_size for p in out.rglob("*")) if out.is_dir() else out.stat().st_size
            print(f"| export {fmt} ({size / 2**20:.1f} MiB) | {t:.2f} | {m:.0f} |")
        for fmt, parser, src in (("rekordbox", rekordbox.parse, outputs["rekordbox"]),
                                 ("traktor", traktor.parse, outputs["traktor"])):
            parsed, t, m = timed(lambda: parser(src))
            print(f"| parse {fmt} | {t:.2f} | {m:.0f} |")
            report, t, m = timed(lambda: import_collection(library, cfg, parsed), memory=False)
            assert report.matched == n
            print(f"| import {fmt} (match all, no changes) | {t:.2f} | {m:.0f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


FORMATS = {".mp3": ("MP3", "MPEG_LAYER_III", 44100), ".flac": ("FLAC", "PCM_16", 44100),
           ".ogg": ("OGG", "VORBIS", 44100), ".opus": ("OGG", "OPUS", 48000),
           ".aiff": ("AIFF", "PCM_16", 44100), ".wav": ("WAV", "PCM_16", 44100)}


def part2(seconds: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="djml-bench-tags-"))
    try:
        music = root / "music"
        music.mkdir()
        for n, (suffix, (fmt, subtype, sr)) in enumerate(FORMATS.items()):
            y = synth.drum_track(120.0 + n, 21, seconds, sr=sr)  # distinct audio: WAV = AIFF otherwise
            sf.write(str(music / f"t{suffix}"), np.stack([y, y], 1), sr, format=fmt, subtype=subtype)
        cfg = config_mod.from_dict({"library": [str(music)], "data_dir": str(root / "data"), "workers": 1,
                                    "tag_template": "{camelot} · energy {energy}"}, root / "c.toml")
        library = Library(db.connect(cfg.db_path))
        scan(cfg, library, [music])
        print(f"\n| format ({seconds:.0f} s stereo) | MiB | tags write (verify) | tags write (--no-verify) | undo |")
        print("|---|---|---|---|---|")
        for track in collect(library.conn, Filters()).tracks:
            size = Path(track.path).stat().st_size / 2**20
            _, t_write, _ = timed(lambda: tags_write(library, cfg, [track]), memory=False)
            _, t_undo, _ = timed(lambda: tags_undo(library, cfg), memory=False)
            _, t_fast, _ = timed(lambda: tags_write(library, cfg, [track], verify=False), memory=False)
            tags_undo(library, cfg, verify=False)
            print(f"| {Path(track.path).suffix} | {size:.1f} | {t_write:.3f} s | {t_fast:.3f} s | {t_undo:.3f} s |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.items:
        part1(args.items)
    part2(args.seconds)
