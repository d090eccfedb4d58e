#!/usr/bin/env python3
"""Structure and cue points: djml against a novelty-peak baseline, on tracks whose
structure is known by construction.

Tracks are arranged from real material in sections of 4–32 bars whose layers change at
known bars (drums in and out, bass in and out, breakdowns, drops, outros), at 90–175 BPM,
some with silence before bar 1, then put through the light mastering/codec chain of
benchmarks/music_sets.py (EQ tilt, compression, noise floor, MP3/Ogg). Two families,
never mixed:

* ``tune``   drums from the even-numbered Hydrogen kits, bass / chords / lead rendered by
             fluidsynth with FluidR3_GM; sometimes one of Sonic Pi's other drum loops
             (compus, industrial, mika, safari, tabla) as the hat layer and a low
             FluidR3 pad / FX drone in intros and breakdowns. Parameters (djml's and the
             baseline's) are chosen here only (``--tune``).
* ``score``  drums from the odd-numbered Hydrogen kits or Sonic Pi's one-shots, sometimes
             Sonic Pi's ``loop_amen`` / ``loop_breakbeat`` as the hat layer and an
             ``ambi_*`` texture in intros and breakdowns; bass / chords / lead from
             MuseScore_General or the OPL-3 FM sound font. The reported numbers.

Hydrogen's demo songs (h2cli renders them) are not used: three of the seven have 12 bars
or more, and their pattern names do not say where sections start (TR808kit-demo's
"Pattern 1/2/3" are sections, tutorial_georgyporgy changes pattern variant nearly every
bar), so a truth would be this script's own reading of them.

Inputs to both methods are djml's own analysis of the audio file (its beat grid, its
per-frame bands): the truth is used only for scoring. Boundaries are section starts after
bar 1, matched one-to-one (closest first) within ±1 beat and ±1 bar of the true tempo;
intro end = the first section with kick and bass, outro start = the bar after the last one.

Baseline (same run, same frames): Foote novelty — a Gaussian-tapered checkerboard kernel
along the diagonal of the beat-level self-similarity matrix of the same band/flux features,
peaks above mean + k·std; its first/last peak stand in for intro end / outro start.

    python benchmarks/structure.py                         # build (cached) and score both families
    python benchmarks/structure.py --tune                  # coordinate search on the tune family only
    python benchmarks/structure.py --count 40 --json out.json

Cache: ``$DJML_BENCH_CACHE`` else ``~/.cache/djml/bench``, folder ``structure``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from benchmarks import datasets  # noqa: E402
from benchmarks.music_sets import Processing, encode, process_audio  # noqa: E402

SR = 44100
SONIC_PI = Path("/usr/share/sonic-pi/samples")
SOUNDFONTS = {
    "tune": [Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")],
    "score": [Path("/usr/share/sounds/sf3/MuseScore_General.sf3"), Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2")],
}
SEEDS = {"tune": 1000, "score": 2000}
RENDERS = {"tune": "tune-v2", "score": "score"}   # cache folders: bumped when a family's plans change
TUNE_LOOPS = ("loop_compus.flac", "loop_industrial.flac", "loop_mika.flac", "loop_safari.flac", "loop_tabla.flac")
TUNE_DRONES = (92, 94, 95, 97, 99, 101)  # GM pads / FX held low (tune family's textures)
STYLES = {  # name: (bpm range, bass 16th steps)
    "house": ((120, 130), (2, 6, 10, 14)),
    "techno": ((125, 138), (0, 3, 6, 10, 12)),
    "breakbeat": ((126, 140), (0, 10, 11)),
    "dnb": ((165, 175), (0, 10)),
    "hiphop": ((90, 100), (0, 7, 10)),
    "dubstep": ((138, 142), (0, 3)),
    "electro": ((105, 118), (0, 3, 6, 10)),
}
DRUM_LAYERS = ("kick", "back", "hihat")
FULL = frozenset({"kick", "back", "hihat", "bass"})
BASS_PROGRAMS = (33, 34, 38, 39)        # GM finger/pick bass, synth bass 1/2
PAD_PROGRAMS = (48, 50, 88, 89, 90, 91)  # strings, synth strings, new age / warm / polysynth / choir pads
LEAD_PROGRAMS = (80, 81, 84, 87)         # square, saw, charang, bass+lead


def default_cache() -> Path:
    return Path(os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench") / "structure"


# --------------------------------------------------------------------------- plans


@dataclass
class Plan:
    track_id: str
    family: str
    seed: int
    style: str
    bpm: float
    offset: float                     # seconds of silence before bar 1
    sections: list[tuple[int, list[str]]]
    drums: str                        # "hydrogen:<kit>" or "sonicpi"
    soundfont: str
    programs: dict[str, int]
    key: int
    extras: dict[str, str]            # optional Sonic Pi layers: ambient texture, drum loop

    @property
    def bar_s(self) -> float:
        return 240.0 / self.bpm

    def truth(self) -> dict:
        starts, bar = [], 0
        for bars, _ in self.sections:
            starts.append(bar)
            bar += bars
        full = [FULL <= set(layers) for _, layers in self.sections]
        first = full.index(True)
        last = len(full) - 1 - full[::-1].index(True)
        t = lambda b: round(self.offset + b * self.bar_s, 4)  # noqa: E731
        return {"boundaries": [t(b) for b in starts[1:]], "intro_end": t(starts[first]),
                "outro_start": t(starts[last] + self.sections[last][0]), "bars": bar,
                "beat_s": self.bar_s / 4, "bar_s": self.bar_s}


def _section_plan(rng: random.Random) -> list[tuple[int, list[str]]]:
    """A DJ-style arrangement: intro, (build), main, breakdown(s), drop(s), outro, (tail);
    neighbours always differ in at least one layer."""
    length = lambda *c: rng.choice(c)  # noqa: E731
    intro = rng.choice([["kick", "hihat"], ["kick", "hihat", "back"], ["chords"], ["hihat", "chords"],
                        ["kick"], ["kick", "hihat", "chords"]])
    plan = [(length(8, 16, 16, 32), intro)]
    if rng.random() < 0.4:
        plan.append((length(4, 8), sorted(set(intro) | {"kick", "hihat", "back"} - {"bass"})))
    main = ["kick", "back", "hihat", "bass"] + (["chords"] if rng.random() < 0.6 else [])
    plan.append((length(16, 32), main))
    for _ in range(rng.choice((1, 1, 2))):
        brk = rng.choice([["chords"], ["chords", "hihat"], ["chords", "lead"], ["hihat", "bass", "chords"],
                          ["chords", "back"]])
        plan.append((length(8, 16, 16), brk))
        if rng.random() < 0.3:
            plan.append((length(4, 8), sorted(set(brk) | {"hihat", "back"})))
        plan.append((length(16, 32), main + ["lead"] if rng.random() < 0.6 else main + ["chords"]))
    outro = rng.choice([["kick", "hihat"], ["kick", "hihat", "back"], ["kick", "hihat", "chords"], ["kick"]])
    plan.append((length(8, 16, 16, 32), outro))
    if rng.random() < 0.3:
        plan.append((length(4, 8), ["chords"] if "chords" not in outro else ["hihat"]))
    cleaned: list[tuple[int, list[str]]] = []
    for bars, layers in plan:
        layers = sorted(set(layers))
        if cleaned and cleaned[-1][1] == layers:
            cleaned[-1] = (cleaned[-1][0] + bars, layers)
        else:
            cleaned.append((bars, layers))
    return cleaned


def plan_tracks(family: str, count: int) -> list[Plan]:
    kits = sorted(datasets._beat_kits())
    own_kits = kits[0::2] if family == "tune" else kits[1::2]
    plans = []
    for i in range(count):
        seed = SEEDS[family] + i
        rng = random.Random(seed)
        style = rng.choice(sorted(STYLES))
        lo, hi = STYLES[style][0]
        bpm = round(rng.uniform(lo, hi), 2)
        offset = 0.0 if rng.random() < 0.5 else round(rng.uniform(0.05, 1.5), 3)
        drums = ("sonicpi" if family == "score" and rng.random() < 0.4 else f"hydrogen:{rng.choice(own_kits)}")
        extras = {}
        if family == "score" and rng.random() < 0.5:
            extras["ambient"] = rng.choice(sorted(p.name for p in SONIC_PI.glob("ambi_*.flac")))
        if family == "score" and rng.random() < 0.3:
            extras["loop"] = rng.choice(("loop_amen.flac", "loop_breakbeat.flac"))
        if family == "tune" and rng.random() < 0.5:
            extras["ambient"] = f"gm:{rng.choice(TUNE_DRONES)}"
        if family == "tune" and rng.random() < 0.3:
            extras["loop"] = rng.choice(TUNE_LOOPS)
        font = rng.choice(SOUNDFONTS[family])
        programs = {"bass": rng.choice(BASS_PROGRAMS), "chords": rng.choice(PAD_PROGRAMS),
                    "lead": rng.choice(LEAD_PROGRAMS)}
        plans.append(Plan(f"{family}_{i:03d}_{style}_{bpm:.0f}", family, seed, style, bpm, offset,
                          _section_plan(rng), drums, str(font), programs, rng.randrange(24), extras))
    return plans


# --------------------------------------------------------------------------- rendering


def _drum_samples(plan: Plan, rng: random.Random) -> dict[str, np.ndarray]:
    if plan.drums == "sonicpi":
        pick = {"kick": sorted(SONIC_PI.glob("bd_*.flac")),
                "back": sorted(SONIC_PI.glob("sn_*.flac")) + sorted(SONIC_PI.glob("drum_snare_*.flac")),
                "hihat": [SONIC_PI / "drum_cymbal_closed.flac", SONIC_PI / "drum_cymbal_pedal.flac"],
                "crash": [SONIC_PI / "drum_splash_hard.flac", SONIC_PI / "drum_cymbal_hard.flac"]}
    else:
        kit = datasets._beat_kits()[plan.drums.split(":", 1)[1]]
        pick = {"kick": kit["kick"], "back": kit.get("clap", []) + kit.get("snare", []), "hihat": kit["hihat"],
                "crash": kit.get("cymbal", [])}
    out = {}
    for layer, files in pick.items():
        if files:
            out[layer] = datasets.normalise(datasets.load_mono(rng.choice(files))[: int(1.5 * SR)], 1.0)
    return out


def _pattern(style: str, rng: random.Random) -> dict[str, dict[int, float]]:
    base = {"house": "house", "techno": "techno", "breakbeat": "breakbeat", "dnb": "dnb",
            "hiphop": "hiphop", "dubstep": "dubstep", "electro": "electro"}[style]
    p = datasets.drum_pattern(base, rng)
    back = {**p.get("snare", {}), **p.get("clap", {})}
    return {"kick": p["kick"], "back": back, "hihat": p["hihat"]}


def _add(out: np.ndarray, y: np.ndarray, at: float, gain: float) -> None:
    i = int(round(at * SR))
    if 0 <= i < len(out):
        seg = y[: len(out) - i]
        out[i:i + len(seg)] += gain * seg


def _loop_layer(name: str, bar_s: float) -> np.ndarray:
    """A Sonic Pi drum loop resampled to a whole number of bars at the track's tempo."""
    from benchmarks.music_sets import loop_bars
    import soxr

    y = datasets.load_mono(SONIC_PI / name)
    bars = loop_bars(len(y) / SR) or 1
    target = int(round(bars * bar_s * SR))
    return soxr.resample(y, len(y), target).astype(np.float32)[:target] if target else y


def _texture(plan: Plan, seconds: float) -> np.ndarray:
    """The ambient layer: a Sonic Pi ``ambi_*`` file, or (``gm:<program>``) a low held
    chord of that GM program rendered with the plan's sound font."""
    name = plan.extras["ambient"]
    if not name.startswith("gm:"):
        return datasets.load_mono(SONIC_PI / name)
    tonic = plan.key % 12
    events = [(0.0, bytes([0xC3, int(name[3:])]))]
    for note in (36 + tonic, 43 + tonic, 48 + tonic):
        events += [(0.0, bytes([0x93, note, 90])), (max(0.5, seconds - 0.05), bytes([0x83, note, 0]))]
    return datasets.render_midi(events, Path(plan.soundfont), gain=0.5)


def render(plan: Plan) -> np.ndarray:
    rng = random.Random(plan.seed * 7 + 1)
    bar_s, step = plan.bar_s, plan.bar_s / 16
    total_bars = sum(b for b, _ in plan.sections)
    n = int((plan.offset + total_bars * bar_s + 1.0) * SR)
    drums, music = np.zeros(n, np.float32), np.zeros(n, np.float32)
    samples = _drum_samples(plan, rng)
    pattern = _pattern(plan.style, rng)
    gains = {"kick": 1.0, "back": 0.75, "hihat": 0.35}
    loop = _loop_layer(plan.extras["loop"], bar_s) if "loop" in plan.extras else None
    events: list[tuple[float, bytes]] = [(0.0, bytes([0xC0 | ch, plan.programs[layer]]))
                                         for ch, layer in enumerate(("bass", "chords", "lead"))]
    minor, tonic = plan.key >= 12, plan.key % 12
    prog = rng.choice(datasets.MINOR_PROGS if minor else datasets.MAJOR_PROGS)
    scale = datasets.MINOR_SCALE if minor else datasets.MAJOR_SCALE
    motif = [rng.choice(scale) for _ in range(4)]
    bass_steps = STYLES[plan.style][1]
    bar = 0
    for s_index, (bars, layers) in enumerate(plan.sections):
        for b in range(bar, bar + bars):
            t0 = plan.offset + b * bar_s
            last_of_section = b == bar + bars - 1
            for layer in DRUM_LAYERS:
                if layer not in layers or layer not in samples:
                    continue
                if layer == "hihat" and loop is not None:
                    loop_len = max(1, round(len(loop) / SR / bar_s))
                    if (b - bar) % loop_len == 0:
                        _add(drums, loop[: int((bar + bars - b) * bar_s * SR)], t0, 0.5)
                    continue
                for s, vel in pattern[layer].items():
                    _add(drums, samples[layer], t0 + s * step, vel * gains[layer] * rng.uniform(0.85, 1.0))
            if last_of_section and "back" in layers and "back" in samples and rng.random() < 0.7:
                for s in (13, 14, 15):                                   # a fill into the next section
                    _add(drums, samples["back"], t0 + s * step, 0.4)
            if b == bar and s_index > 0 and "kick" in layers and "crash" in samples and rng.random() < 0.5:
                _add(drums, samples["crash"], t0, 0.3)
            root = prog[b % len(prog)]
            if "bass" in layers:
                for s in bass_steps:
                    note = 36 + (tonic + root) % 12
                    events += [(t0 + s * step, bytes([0x90, note, 100])),
                               (t0 + min(s + 3, 16) * step - 0.01, bytes([0x80, note, 0]))]
            if "chords" in layers:
                for iv in datasets._triad(root, minor):
                    note = 60 + (tonic + root + iv) % 12
                    events += [(t0, bytes([0x91, note, 70])), (t0 + bar_s - 0.02, bytes([0x81, note, 0]))]
            if "lead" in layers:
                for j, deg in enumerate(motif):
                    note = 72 + (tonic + deg) % 12
                    at = t0 + (2 + 4 * j) * step
                    events += [(at, bytes([0x92, note, 85])), (at + 2 * step, bytes([0x82, note, 0]))]
        if "ambient" in plan.extras and not FULL <= set(layers):
            texture = _texture(plan, bars * bar_s)
            span = int(bars * bar_s * SR)
            tiled = np.resize(texture, span) * np.minimum(1.0, np.minimum(np.arange(span), span - np.arange(span))
                                                          / (0.05 * SR))
            _add(music, 0.15 * datasets.normalise(tiled.astype(np.float32), 1.0), plan.offset + bar * bar_s, 1.0)
        bar += bars
    notes = [e for e in events if e[1][0] & 0xF0 == 0x90]
    if notes:
        rendered = datasets.render_midi(events, Path(plan.soundfont), gain=0.5)
        m = min(len(rendered), n)
        music[:m] += 0.5 * datasets.normalise(rendered[:m], 1.0)
    y = datasets.normalise(drums, 1.0) * 0.8 + music
    return datasets.normalise(y)


def build(family: str, count: int, cache: Path) -> list[dict]:
    out_dir = cache / RENDERS[family]
    rows = []
    for plan in plan_tracks(family, count):
        rng = random.Random(plan.seed * 13 + 5)
        proc = Processing.draw(rng)
        path = out_dir / f"{plan.track_id}.{proc.codec}"
        if not path.exists():
            datasets.log(f"render {path.name} ({sum(b for b, _ in plan.sections)} bars, {plan.drums}, "
                f"{Path(plan.soundfont).stem}{', ' + ', '.join(plan.extras.values()) if plan.extras else ''})")
            y = render(plan)
            encode(process_audio(y, proc, rng.randrange(2**31)), path, proc)
        rows.append({"path": str(path), "plan": asdict(plan), "truth": plan.truth(), "processing": proc.describe()})
    (out_dir / "manifest.json").write_text(json.dumps(rows, indent=1))
    return rows


# --------------------------------------------------------------------------- scoring


def f_measure(est: list[float], ref: list[float], tol: float) -> tuple[int, int, int]:
    """(hits, estimated, reference): one-to-one matches within ``tol``, closest pairs first."""
    pairs = sorted((abs(e - r), i, j) for i, e in enumerate(est) for j, r in enumerate(ref) if abs(e - r) <= tol)
    used_e, used_r, hits = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_e and j not in used_r:
            used_e.add(i)
            used_r.add(j)
            hits += 1
    return hits, len(est), len(ref)


def novelty_baseline(beat_times: np.ndarray, features: np.ndarray, half: int, k: float) -> list[float]:
    """Foote novelty peaks (times of beats) on the beat-level self-similarity matrix."""
    z = (features - features.mean(axis=0)) / np.maximum(features.std(axis=0), 1e-9)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)
    ssm = z @ z.T
    n = len(z)
    g = np.exp(-0.5 * (np.arange(-half, half) + 0.5) ** 2 / (0.5 * half) ** 2)
    sign = np.sign(np.arange(-half, half) + 0.5)
    kernel = np.outer(g * sign, g * sign)
    padded = np.pad(ssm, half, mode="edge")
    nov = np.array([(padded[i:i + 2 * half, i:i + 2 * half] * kernel).sum() for i in range(n)])
    thr = nov.mean() + k * nov.std()
    peaks = [i for i in range(1, n - 1) if nov[i] > thr and nov[i] == nov[max(0, i - half):i + half + 1].max()]
    return [float(beat_times[i]) for i in peaks if i > 0]


@dataclass
class Inputs:
    """What djml's analysis pass handed to its structure step (captured), plus its grid."""

    args: tuple
    beat_times: np.ndarray
    beat_features: np.ndarray
    bpm: float | None


def analyse(rows: list[dict]) -> list[Inputs | None]:
    from djml.analysis import structure
    from djml.analysis.track import analyze_track

    captured: list[tuple] = []
    original = structure.analyse_structure

    def capture(*args):  # noqa: ANN002, ANN202
        captured.append(args)
        return original(*args)

    structure.analyse_structure = capture     # track.py calls it through the module
    out = []
    try:
        for row in rows:
            captured.clear()
            t = analyze_track(row["path"], (70.0, 180.0))
            s = t.structure
            out.append(Inputs(captured[0], s.beat_times, s.beat_features, t.tempo.bpm if t.tempo else None)
                       if s is not None else None)
    finally:
        structure.analyse_structure = original
    return out


def djml_predictions(inp: Inputs | None, params: dict | None = None) -> dict:
    from djml.analysis import structure

    if inp is None:
        return {"boundaries": [], "intro_end": None, "outro_start": None}
    saved = {name: getattr(structure, name) for name in (params or {})}
    try:
        for name, value in (params or {}).items():
            setattr(structure, name, value)
        s = structure.analyse_structure(*inp.args)
    finally:
        for name, value in saved.items():
            setattr(structure, name, value)
    if s is None:
        return {"boundaries": [], "intro_end": None, "outro_start": None}
    at = lambda bar: s.downbeat + (bar - 1) * s.bar_seconds  # noqa: E731
    cue = {c.kind: c.seconds for c in reversed(s.cues)}      # the first of each kind
    return {"boundaries": [at(b) for b in s.boundaries], "intro_end": cue.get("intro_end"),
            "outro_start": cue.get("outro_start")}


def baseline_predictions(inp: Inputs | None, half: int, k: float) -> dict:
    if inp is None:
        return {"boundaries": [], "intro_end": None, "outro_start": None}
    peaks = novelty_baseline(inp.beat_times, inp.beat_features, half, k)
    return {"boundaries": peaks, "intro_end": peaks[0] if peaks else None,
            "outro_start": peaks[-1] if peaks else None}


def score(rows: list[dict], preds: list[dict]) -> dict:
    totals = {"beat": [0, 0, 0], "bar": [0, 0, 0]}
    errors: dict[str, list[float | None]] = {"intro_end": [], "outro_start": []}
    for row, pred in zip(rows, preds):
        truth = row["truth"]
        for name, tol in (("beat", truth["beat_s"]), ("bar", truth["bar_s"])):
            for i, v in enumerate(f_measure(pred["boundaries"], truth["boundaries"], tol * 1.001)):
                totals[name][i] += v
        for kind in errors:
            est = pred[kind]
            errors[kind].append(None if est is None else (est - truth[kind]) / truth["bar_s"])
    out = {}
    for name, (hits, n_est, n_ref) in totals.items():
        p, r = hits / max(n_est, 1), hits / max(n_ref, 1)
        out[f"F_{name}"] = 2 * p * r / max(p + r, 1e-9)
        out[f"P_{name}"], out[f"R_{name}"] = p, r
    for kind, errs in errors.items():
        found = [e for e in errs if e is not None]
        out[f"{kind}_within_bar"] = sum(abs(e) <= 1.0 + 1e-6 for e in found) / len(errs)
        out[f"{kind}_exact_bar"] = sum(abs(e) < 0.5 for e in found) / len(errs)
        out[f"{kind}_mean_abs_bars"] = float(np.mean(np.abs(found))) if found else float("nan")
        out[f"{kind}_missing"] = len(errs) - len(found)
    return out


def objective(m: dict) -> float:
    return m["F_bar"] + 0.5 * (m["intro_end_within_bar"] + m["outro_start_within_bar"]) + 0.25 * m["F_beat"]


DJML_GRID = {
    "BOUNDARY_PENALTY": (8.0, 12.0, 16.0, 24.0, 36.0, 54.0),
    "NOISE_FLOOR_DB": (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
    "OFF_HALF_PHRASE": (0.0, 4.0, 8.0, 16.0),
    "OFF_GRID": (8.0, 16.0, 24.0, 48.0),
    "LEVEL_DB": (1.0, 2.0, 3.0, 4.0),
    "LOW_DB": (2.0, 3.0, 4.0, 6.0, 8.0),
    "BASS_MOTION": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
    "MIN_SECTION_BARS": (2, 4, 8),
}
BASELINE_GRID = {"half": (4, 8, 16, 32), "k": (0.0, 0.5, 1.0, 1.5, 2.0)}
BASELINE_DEFAULT = {"half": 4, "k": 2.0}     # chosen by --tune on the tune family


def tune(rows: list[dict], inputs: list[Inputs | None]) -> None:
    from djml.analysis import structure

    params = {name: getattr(structure, name) for name in DJML_GRID}
    best = objective(score(rows, [djml_predictions(i, params) for i in inputs]))
    datasets.log(f"djml start {params}: {best:.3f}")
    for _ in range(2):
        for name, values in DJML_GRID.items():
            for v in values:
                trial = dict(params, **{name: v})
                val = objective(score(rows, [djml_predictions(i, trial) for i in inputs]))
                if val > best + 1e-9:
                    best, params = val, trial
                    datasets.log(f"  {name}={v}: {val:.3f}")
    print(f"djml best on the tune family: {params} objective {best:.3f}")
    table("tune family at the best settings", rows,
          {"djml": score(rows, [djml_predictions(i, params) for i in inputs])})
    results = []
    for half in BASELINE_GRID["half"]:
        for k in BASELINE_GRID["k"]:
            results.append((objective(score(rows, [baseline_predictions(i, half, k) for i in inputs])), half, k))
    val, half, k = max(results)
    print(f"baseline best on the tune family: half={half} beats, k={k}: objective {val:.3f}")
    table("tune family, baseline at its best settings", rows,
          {"novelty (Foote)": score(rows, [baseline_predictions(i, half, k) for i in inputs])})


def table(name: str, rows: list[dict], results: dict[str, dict]) -> None:
    print(f"\n{name}: {len(rows)} tracks, {sum(len(r['truth']['boundaries']) for r in rows)} true boundaries")
    cols = ("F_beat", "F_bar", "P_bar", "R_bar", "intro_end_within_bar", "intro_end_exact_bar",
            "intro_end_mean_abs_bars", "outro_start_within_bar", "outro_start_exact_bar",
            "outro_start_mean_abs_bars", "intro_end_missing", "outro_start_missing")
    heads = ("method", "F ±1 beat", "F ±1 bar", "P ±1 bar", "R ±1 bar", "intro ≤1 bar", "intro exact",
             "intro |err| bars", "outro ≤1 bar", "outro exact", "outro |err| bars", "intro none", "outro none")
    print(" | ".join(f"{h:>14}" for h in heads))
    for method, m in results.items():
        print(" | ".join([f"{method:>14}"] + [f"{m[c]:>14.3f}" if isinstance(m[c], float) else f"{m[c]:>14}"
                                              for c in cols]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=default_cache())
    ap.add_argument("--count", type=int, default=30, help="tracks per family")
    ap.add_argument("--families", default="tune,score")
    ap.add_argument("--tune", action="store_true", help="search parameters on the tune family and stop")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    started = time.time()
    report = {"load_before": os.getloadavg()[0]}
    families = ["tune"] if args.tune else args.families.split(",")
    for family in families:
        rows = build(family, args.count, args.cache)
        t0 = time.process_time()
        inputs = analyse(rows)
        cpu = time.process_time() - t0
        if args.tune:
            tune(rows, inputs)
            return 0
        results = {"djml": score(rows, [djml_predictions(i) for i in inputs]),
                   "novelty (Foote)": score(rows, [baseline_predictions(i, **BASELINE_DEFAULT) for i in inputs])}
        table(f"{family} family", rows, results)
        grid_ok = sum(1 for r, i in zip(rows, inputs) if i and i.bpm and abs(i.bpm / r["plan"]["bpm"] - 1) < 0.002)
        print(f"djml tempo within 0.2 % of the truth on {grid_ok}/{len(rows)} tracks; "
              f"analysis {cpu / len(rows):.2f} s CPU per track (whole pass)")
        report[family] = {"results": results, "tracks": len(rows), "tempo_ok": grid_ok}
    report["load_after"] = os.getloadavg()[0]
    print(f"\nload average {report['load_before']:.1f} before, {report['load_after']:.1f} after; "
          f"{time.time() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
