#!/usr/bin/env python3
"""``tempo_meter_beats``: grooves over real Hydrogen drum hits in the meters the 4/4 beats
set lacks — 6/8 and 12/8 (counted in dotted quarters), 3/4 waltzes, triplet-shuffled 4/4
— with a bass note per beat, each at a known tempo *at the documented beat level*
(docs/analysis.md: simple meters count the quarter, compound meters the dotted quarter).

Why: ×3⁄2, ×⅔ and ×3 confusions are decided by how a beat is subdivided (in two or in
three), and the tempo decision can only learn that from material where the answer is known
by construction. Built into the bench cache like every set (``benchmarks/datasets.py
tempo_meter_beats``); a source of its own for leave-one-source-out.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import (
    SR,
    _beat_kits,
    _midi_hz,
    _tone,
    load_mono,
    log,
    normalise,
    write_manifest,
    write_wav,
)

# style: (beats per bar, pulses per beat, tempo range of the counted beat, clips)
METERS = {
    "sixeight": (2, 3, (70, 125), 16),      # jigs, tarantellas, 6/8 rock ballads at the fast end
    "twelveeight": (4, 3, (70, 100), 12),   # slow blues, doo-wop
    "waltz": (3, 2, (90, 180), 14),
    "shuffle": (4, 3, (72, 120), 14),       # 4/4 with triplet-swung eighths (pulses 1 and 3 of 3)
}


def groove(style: str, beats: int, pulses: int, rng: random.Random) -> list[tuple[int, int, str, float]]:
    """One bar as (beat, pulse, instrument, velocity)."""
    hits: list[tuple[int, int, str, float]] = [(0, 0, "kick", 1.0)]
    if style == "waltz":
        hits += [(1, 0, "snare", 0.6), (2, 0, "snare", 0.6)]
        hits += [(b, p, "hihat", 0.5 if p == 0 else 0.3) for b in range(beats) for p in range(pulses)]
    elif style in ("sixeight", "twelveeight"):
        hits += [(b, 0, "snare", 0.85) for b in range(1, beats, 2)]
        if rng.random() < 0.5:
            hits.append((beats - 1, 2, "kick", 0.6))
        hits += [(b, p, "hihat", 0.55 if p == 0 else 0.35) for b in range(beats) for p in range(pulses)]
    else:  # shuffle: kick 1 and 3, snare 2 and 4, hats on the beat and the last triplet
        hits += [(2, 0, "kick", 0.9), (1, 0, "snare", 0.9), (3, 0, "snare", 0.9)]
        if rng.random() < 0.5:
            hits.append((1, 2, "kick", 0.5))
        hits += [(b, p, "hihat", 0.55 if p == 0 else 0.4) for b in range(beats) for p in (0, 2)]
    return hits


def render(style: str, bpm: float, kit: dict[str, list[Path]], rng: random.Random,
           seconds: float = 30.0) -> tuple[np.ndarray, float]:
    beats, pulses, _, _ = METERS[style]
    beat = 60.0 / bpm
    bar = beats * beat
    offset = rng.uniform(0.0, 0.25)
    n = int(seconds * SR)
    y = np.zeros(n + 2 * SR, np.float32)
    sounds = {}
    for cls in ("kick", "snare", "hihat"):
        files = kit.get(cls) or kit.get("clap")
        sounds[cls] = normalise(load_mono(rng.choice(files))[: int(1.5 * SR)], 1.0)
    gains = {"kick": 1.0, "snare": 0.8, "hihat": 0.35}
    pattern = groove(style, beats, pulses, rng)
    root = 33 + rng.randrange(12)
    for b in range(int(seconds / bar) + 1):
        for bt, p, cls, vel in pattern:
            i = int(round((offset + b * bar + (bt + p / pulses) * beat) * SR))
            if i < len(y):
                seg = sounds[cls][: len(y) - i]
                y[i:i + len(seg)] += vel * gains[cls] * rng.uniform(0.85, 1.0) * seg
        for bt in range(beats):            # bass on every counted beat, root or fifth
            i = int(round((offset + b * bar + bt * beat) * SR))
            if i < len(y):
                tone = _tone(_midi_hz(root + (7 if bt % 2 else 0)), beat * 0.8, "bass") * 0.4
                seg = tone[: len(y) - i]
                y[i:i + len(seg)] += seg
    y = y[:n]
    fade = int(0.02 * SR)
    y[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
    y[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return normalise(y), offset


def build_tempo_meter_beats(cache: Path, limit: int | None = None, **_) -> list[dict]:
    set_dir = cache / "tempo_meter_beats"
    kits = _beat_kits()
    if not kits:
        raise SystemExit("no Hydrogen kits: apt-get install hydrogen-drumkits hydrogen-data")
    names = sorted(kits)
    rng = random.Random(4321)
    rows, made, t0 = [], 0, time.time()
    for style, (beats, pulses, (lo, hi), count) in METERS.items():
        for j in range(count if not limit else min(count, limit)):
            bpm = float(round(lo + (hi - lo) * (j + rng.random()) / count))
            kit = names[(j * 5 + len(rows)) % len(names)]
            cid = f"{style}_{int(bpm)}_{j:02d}"
            path = set_dir / "audio" / f"{cid}.wav"
            first_beat = random.Random(cid).uniform(0.0, 0.25)   # render's first draw
            if not path.exists():
                y, _ = render(style, bpm, kits[kit], random.Random(cid))
                write_wav(path, y)
                made += 1
            rows.append({"path": str(path), "bpm": bpm, "first_beat": round(first_beat, 6),
                         "style": style, "meter": "compound" if pulses == 3 and style != "shuffle" else
                         ("triple" if beats == 3 else "duple"),
                         "beat_level": "dotted quarter" if style in ("sixeight", "twelveeight") else "quarter",
                         "kit": kit, "source": "meter_beats", "piece_id": cid})
    write_manifest(set_dir, rows, {
        "source": "meter generator over Hydrogen kit samples + numpy bass",
        "sr": SR, "seconds": 30,
        "beat_level": "6/8 and 12/8 at the dotted quarter, 3/4 and 4/4 shuffle at the quarter"})
    log(f"tempo_meter_beats: {len(rows)} clips ({made} new) in {time.time() - t0:.1f}s")
    return rows
