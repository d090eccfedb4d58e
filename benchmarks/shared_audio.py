#!/usr/bin/env python3
"""Find recordings shared between kits of the sample sets (the same hit shipped twice).

Why: leave-one-source-out only measures generalisation if no recording of the held-out
source is also in the training sources. Packages re-use each other's samples (GMRockKit is
made of "The Black Pearl 1.0" files; MuseScore_General is built on Fluid R3), so the source
groups are checked against the audio itself, not against package names.

Method: every file's first 0.7 s from its peak, at 11.025 kHz, as a coarse log spectrogram
fingerprint; pairs from different kits whose fingerprints are close (cosine > 0.97) are
confirmed by the peak of the normalised waveform cross-correlation (> 0.95 = the same
recording, gain and offset aside). Re-pitched or re-processed copies are not caught.

    python benchmarks/shared_audio.py samples_hydrogen samples_blackpearl samples_sonicpi ...
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import datasets as ds  # noqa: E402

RATE = 11025
SECONDS = 0.7
FINGERPRINT_MIN = 0.97
SAME_RECORDING = 0.95


def excerpt(path: str) -> np.ndarray:
    """0.7 s from 5 ms before the peak, mono at 11.025 kHz, zero-padded, unit norm."""
    y = ds.load_mono(Path(path), RATE)
    start = max(0, int(np.abs(y).argmax()) - int(0.005 * RATE)) if y.size else 0
    w = np.zeros(int(SECONDS * RATE), np.float32)
    seg = y[start:start + len(w)]
    w[:len(seg)] = seg
    return w / (np.linalg.norm(w) + 1e-12)


def fingerprint(w: np.ndarray) -> np.ndarray:
    frames = w[: len(w) // 256 * 256].reshape(-1, 256) * np.hanning(256)
    spec = np.log(np.abs(np.fft.rfft(frames, axis=1))[:, 1:129].reshape(len(frames), 32, 4).sum(2) ** 2 + 1e-6)
    v = (spec - spec.mean()).ravel()
    return v / (np.linalg.norm(v) + 1e-12)


def same_recording(a: np.ndarray, b: np.ndarray) -> float:
    """Peak of the normalised cross-correlation of two unit-norm excerpts."""
    n = len(a) + len(b)
    c = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    return float(np.abs(c).max())


def shared_pairs(rows: list[dict], progress: bool = True) -> list[tuple[dict, dict, float]]:
    """(row a, row b, correlation) for every pair of files from different kits that are the
    same recording."""
    waves = []
    for i, r in enumerate(rows):
        waves.append(excerpt(r["path"]))
        if progress and (i + 1) % 500 == 0:
            ds.log(f"shared_audio: {i + 1}/{len(rows)} files read")
    fp = np.stack([fingerprint(w) for w in waves])
    kits = np.array([f"{r['source']}|{r['kit']}" for r in rows])
    out = []
    sims = fp @ fp.T
    for i in range(len(rows)):
        for j in np.flatnonzero(sims[i, i + 1:] > FINGERPRINT_MIN) + i + 1:
            if kits[i] != kits[j]:
                c = same_recording(waves[i], waves[j])
                if c > SAME_RECORDING:
                    out.append((rows[i], rows[j], c))
    return out


def merge_shared_kits(rows: list[dict], links: list[tuple[str, str]] = ()) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """Give kits of one source that share a recording one kit name (the smallest of the
    group), in place, so the kit stays the unit that never straddles train and test.
    ``links`` are kit pairs known to share recordings (a loop played on a kit's hits).

    Returns the merged groups and the (path, path) pairs shared *across* sources (those
    need a source decision, not a kit merge)."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.get(k, k) != k:
            k = parent[k]
        return k

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    across = []
    for a, b, _ in shared_pairs(rows, progress=False):
        if a["source"] != b["source"]:
            across.append((a["path"], b["path"]))
        else:
            union(a["kit"], b["kit"])
    for a, b in links:
        union(a, b)
    groups: dict[str, list[str]] = {}
    for kit in {r["kit"] for r in rows}:
        groups.setdefault(find(kit), []).append(kit)
    for r in rows:
        r["kit"] = find(r["kit"])
    return [sorted(g) for g in groups.values() if len(g) > 1], across


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+", help="sample sets in the cache (built if missing)")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--pairs", action="store_true", help="print every shared pair, not only the kit summary")
    args = ap.parse_args(argv)
    cache = args.cache or ds.default_cache()
    rows = [r for name in args.sets for r in ds.ensure(name, cache)]
    pairs = shared_pairs(rows)
    by_kits = Counter()
    for a, b, _ in pairs:
        ka, kb = sorted((f"{a['source']} / {a['kit']}", f"{b['source']} / {b['kit']}"))
        by_kits[(ka, kb)] += 1
    print(f"{len(rows)} files, {len(pairs)} pairs of the same recording in different kits")
    for (ka, kb), n in by_kits.most_common():
        flag = "" if ka.split(" / ")[0] == kb.split(" / ")[0] else "   <-- across sources"
        print(f"{n:5d}  {ka}  ==  {kb}{flag}")
    if args.pairs:
        for a, b, c in pairs:
            print(f"{c:.3f}  {a['path']}  ==  {b['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
