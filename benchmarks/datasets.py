#!/usr/bin/env python3
"""Build benchmark data sets on demand from installed packages (never committed to git).

Sets (each in its own folder under the cache, each with ``manifest.csv`` + ``manifest.json``):

* ``tempo_key_beats``  ~30 s beats over real Hydrogen drum hits at a known BPM, with a
  numpy-synthesised bass line + chord pad in a known key. Ground truth: bpm, first beat
  (seconds), key, style.
* ``key_music21``      Bach chorales and ABC tunes from the music21 corpus, written to MIDI by
  music21 and rendered by fluidsynth with a GM sound font. Ground truth: the notated key,
  with checks of that label against the notes (``label_checks``).
* ``key_music21_extra`` 400 more such pieces (not built by default), never in ``key_music21``.
* ``samples_hydrogen`` manifest of every labelled Hydrogen kit layer file (no copy).
* ``samples_gm``       GM percussion notes per drum kit + melodic single notes, rendered from
  FluidR3_GM.sf2 and MuseScore_General(_Lite).sf3.
* ``samples_fx``       manifest of the freedesktop sound theme (all ``fx``).

Cache: ``--cache DIR`` > ``$DJML_BENCH_CACHE`` > ``~/.cache/djml/bench``. Idempotent: a clip
that already exists is not rendered again; manifests are rewritten each run (cheap).

Needs: ``apt-get install hydrogen-drumkits hydrogen-data fluidsynth fluid-soundfont-gm
musescore-general-soundfont-small sound-theme-freedesktop`` and, for ``key_music21`` only,
``pip install music21`` (benchmark-only, not a djml dependency).

    python benchmarks/datasets.py                # build everything
    python benchmarks/datasets.py tempo_key_beats key_music21 --limit 20
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
SKIP_KITS = {"belofilms_GuitarStrums"}  # guitar chords, not drums
FLUID_SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MUSESCORE_SF3 = [Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
                 Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")]
FREEDESKTOP_DIR = Path("/usr/share/sounds/freedesktop/stereo")
ALL_SETS = ("tempo_key_beats", "key_music21", "samples_hydrogen", "samples_gm", "samples_fx")
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def default_cache() -> Path:
    return Path(os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench")


def key_name(key: int) -> str:
    return f"{PITCH_NAMES[key % 12]} {'minor' if key >= 12 else 'major'}"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- manifests

def write_manifest(set_dir: Path, rows: list[dict], info: dict) -> None:
    set_dir.mkdir(parents=True, exist_ok=True)
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    with open(set_dir / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    with open(set_dir / "manifest.json", "w") as fh:
        json.dump({"info": info, "items": rows}, fh, indent=1)


def read_manifest(set_dir: Path) -> list[dict]:
    p = set_dir / "manifest.json"
    if not p.exists():
        return []
    return json.loads(p.read_text())["items"]


def debian_licence(pkg: str) -> str:
    """First 'License:' lines of /usr/share/doc/<pkg>/copyright, as a short hint."""
    p = Path("/usr/share/doc") / pkg / "copyright"
    if not p.exists():
        return "unknown"
    lic = []
    for line in p.read_text(errors="replace").splitlines():
        if line.startswith("License:"):
            v = line.split(":", 1)[1].strip()
            if v and v not in lic:
                lic.append(v)
    return "; ".join(lic[:4]) or "see copyright"


# --------------------------------------------------------------------------- Hydrogen

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(el, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return c.text
    return None


# order matters: first match wins
_CLASS_RULES: list[tuple[str, str]] = [
    ("fx", r"\bzap\b|^fx\b|\bfx\b"),
    ("clap", r"clap"),
    ("perc", r"cow ?bell|tambourine|shaker|conga|bongo|cajon|maraca|clave|woodblock|wood block|"
             r"agogo|djembe|sangban|dununba|kenkeni|waterglass|whistle|snap|triangle|guiro|"
             r"cabasa|timbale|^click\b|(?<!bass )\bdrum \d|side stick|rim click|^stick$"),
    ("hihat", r"hi-?\s?hat|hihat|\bhh\b|hh\b|\bhat\b"),
    ("cymbal", r"ride|crash|china|splash|cymbal|\bbell\b"),
    ("kick", r"kick|bass ?drum|bassdrum|\bbd\b"),
    ("snare", r"snare|rimshot|\brim\b"),
    ("tom", r"tom"),
]


def classify_drum_name(name: str | None) -> str | None:
    """Instrument name -> kick/snare/hihat/clap/tom/cymbal/perc/fx, or None if unknown.

    Side stick / rim click count as perc (as GM note 37 does in the GM percussion map); a snare
    rimshot is a snare; any ride bell is a cymbal.
    """
    if not name:
        return None
    n = name.lower().strip()
    n = re.sub(r"^[a-g]#?\d+\s*-\s*", "", n)  # rumpf kit: "c3 - bass drum 1"
    n = re.sub(r"\(.*?\)", "", n).strip()     # ForzeeStereo: "Kick (Tama Superstar 22")"
    if not n or n.isdigit() or n.startswith("sample:"):
        return None
    for label, rx in _CLASS_RULES:
        if re.search(rx, n):
            return label
    return None


@dataclass
class HydrogenInstrument:
    kit: str
    name: str
    label: str | None
    files: list[Path] = field(default_factory=list)
    licence: str = ""


def hydrogen_instruments(root: Path = HYDROGEN_DIR) -> list[HydrogenInstrument]:
    out = []
    for xml_path in sorted(root.glob("*/drumkit.xml")):
        kit_dir = xml_path.parent
        if kit_dir.name in SKIP_KITS:
            continue
        try:
            tree = ET.parse(xml_path).getroot()
        except ET.ParseError as e:
            log(f"skip {xml_path}: {e}")
            continue
        kit = _child_text(tree, "name") or kit_dir.name
        if kit in SKIP_KITS:
            continue
        licence = (_child_text(tree, "license") or "").strip() or "see hydrogen-drumkits copyright"
        for inst in tree.iter():
            if _local(inst.tag) != "instrument":
                continue
            name = (_child_text(inst, "name") or "").strip()
            files = []
            for el in inst.iter():
                if _local(el.tag) == "filename" and el.text:
                    f = kit_dir / el.text
                    if f.exists() and "emptysample" not in f.name.lower() and f not in files:
                        files.append(f)
            if not files:
                continue
            label = classify_drum_name(name)
            if label is None:  # e.g. Colombo "redo super opaco" -> file snare-opaque-*.flac
                label = classify_drum_name(files[0].stem.replace("_", " ").replace("-", " "))
            out.append(HydrogenInstrument(kit_dir.name, name, label, files, licence))
    return out


def hydrogen_kit_licences() -> dict[str, str]:
    """kit folder name -> 'License:' of its paragraph in hydrogen-drumkits' copyright file."""
    out: dict[str, str] = {}
    p = Path("/usr/share/doc/hydrogen-drumkits/copyright")
    if not p.exists():
        return out
    for para in re.split(r"\n\s*\n", p.read_text(errors="replace")):
        kits = re.findall(r"drumkits/(\S+?)\.h2drumkit", para)
        m = re.search(r"(?m)^License:\s*(.+)$", para)
        if kits and m:
            for k in kits:
                out[k.replace("?", " ")] = m.group(1).strip()
    # kits shipped by hydrogen-data (GMRockKit, TR808EmulationKit) fall under its "Files: *"
    if Path("/usr/share/doc/hydrogen-data/copyright").exists():
        for kit_dir in HYDROGEN_DIR.iterdir():
            if kit_dir.name not in out and not (kit_dir / "drumkit.xml").is_symlink():
                base = next((k for k in out if kit_dir.name.startswith(k)), None)
                out[kit_dir.name] = out[base] if base else "GPL-2+ (hydrogen-data)"
    return out


# Leave-one-source-out groups of the Hydrogen kits: kits that share recordings are one group
# (benchmarks/shared_audio.py: GMRockKit re-uses "The Black Pearl 1.0" files, and those kits
# and "Gimme A Hand 1.0" share hi-hats, tambourine, maracas, cowbell and claps with the AVL
# Black Pearl sf2: all are "blackpearl"; the three Millo kits are one author's), the rest
# split by kind so that a held-out group is a kind of kit the model has not heard.
HYDROGEN_SOURCES = {
    **dict.fromkeys(("BJA_Pacific", "ColomboAcousticDrumkit", "ForzeeStereo", "Millo-Drums_v.1",
                     "Millo_MultiLayered2", "Millo_MultiLayered3"), "hydrogen-acoustic"),
    **dict.fromkeys(("ElectricEmpireKit", "HardElectro1", "TR808EmulationKit", "VariBreaks"),
                    "hydrogen-electronic"),
    **dict.fromkeys(("Audiophob", "circAfrique v4", "rumpf_kit_z01_h2"), "hydrogen-percussion"),
    **dict.fromkeys(("The Black Pearl 1.0", "GMRockKit", "Gimme A Hand 1.0"), "blackpearl"),
}


def build_samples_hydrogen(cache: Path, **_) -> list[dict]:
    rows = []
    unlabelled = 0
    deb = hydrogen_kit_licences()
    for inst in hydrogen_instruments():
        inst.licence = deb.get(inst.kit) or inst.licence
        if inst.label is None:
            unlabelled += len(inst.files)
            continue
        for i, f in enumerate(inst.files):
            rows.append({"path": str(f), "label": inst.label,
                         "source": HYDROGEN_SOURCES.get(inst.kit, "hydrogen-other"),
                         "kit": inst.kit, "subtype": inst.name.lower(), "instrument": inst.name, "layer": i,
                         "licence": inst.licence})
    info = {"source": "Debian hydrogen-drumkits + hydrogen-data (files referenced in place)",
            "unlabelled_files_skipped": unlabelled,
            "licence_pkg": debian_licence("hydrogen-drumkits")}
    write_manifest(cache / "samples_hydrogen", rows, info)
    return rows


# --------------------------------------------------------------------------- audio utils

def load_mono(path: Path, sr: int = SR) -> np.ndarray:
    y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if file_sr != sr:
        import soxr
        y = soxr.resample(y, file_sr, sr).astype(np.float32)
    return y


def write_wav(path: Path, y: np.ndarray, sr: int = SR) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    sf.write(str(tmp), y, sr, subtype="PCM_16")
    tmp.replace(path)  # atomic: a half-written file never looks "done"


def normalise(y: np.ndarray, peak: float = 0.89) -> np.ndarray:
    m = float(np.max(np.abs(y))) if y.size else 0.0
    return y * (peak / m) if m > 0 else y


# --------------------------------------------------------------------------- beat generator

# 16 steps per bar (16th notes). Values are velocities 0..1.
def _steps(*idx, v=1.0):
    return {i: v for i in idx}


STYLES = {
    # name: (bpm range, pattern builder, swing choices)
    "house": ((118, 130), (0.0, 0.0, 0.56)),
    "techno": ((125, 135), (0.0,)),
    "breakbeat": ((120, 140), (0.0, 0.54)),
    "dnb": ((165, 178), (0.0,)),
    "hiphop": ((80, 100), (0.0, 0.58, 0.62)),
    "dubstep": ((138, 142), (0.0,)),
    "downtempo": ((70, 90), (0.0, 0.56)),
    "electro": ((100, 118), (0.0,)),
}
STYLE_COUNTS = {"house": 20, "techno": 14, "breakbeat": 14, "dnb": 18, "hiphop": 18,
                "dubstep": 14, "downtempo": 12, "electro": 10}


def drum_pattern(style: str, rng: random.Random) -> dict[str, dict[int, float]]:
    """Return {class: {step: velocity}} for a one-bar pattern (16 steps)."""
    p: dict[str, dict[int, float]] = {}
    if style in ("house", "techno"):
        p["kick"] = _steps(0, 4, 8, 12)
        back = "clap" if rng.random() < 0.6 else "snare"
        p[back] = _steps(4, 12, v=0.9)
        if style == "house":
            p["hihat"] = _steps(2, 6, 10, 14, v=0.8)   # off-beat hats
            if rng.random() < 0.5:
                p["hihat"].update(_steps(0, 4, 8, 12, v=0.35))
        else:
            p["hihat"] = {i: (0.75 if i % 4 == 2 else 0.45) for i in range(16)}
            if rng.random() < 0.5:
                p["perc"] = _steps(3, 11, v=0.5)
    elif style == "breakbeat":
        p["kick"] = _steps(0, 10, v=1.0)
        p["kick"].update(_steps(7, v=0.6) if rng.random() < 0.5 else {})
        p["snare"] = _steps(4, 12)
        p["snare"].update(_steps(15, v=0.35))
        p["hihat"] = {i: 0.6 for i in range(0, 16, 2)}
    elif style == "dnb":
        p["kick"] = _steps(0, 10)
        p["snare"] = _steps(4, 12)
        if rng.random() < 0.5:
            p["snare"].update(_steps(7, v=0.3))
        p["hihat"] = {i: (0.7 if i % 4 == 2 else 0.4) for i in range(0, 16, 2)}
    elif style == "hiphop":
        p["kick"] = _steps(0, 7, 10) if rng.random() < 0.5 else _steps(0, 3, 10)
        p["snare"] = _steps(4, 12)
        p["hihat"] = {i: 0.6 for i in range(0, 16, 2)}
    elif style == "dubstep":  # half-time: kick on 1, snare on 3 of a 140 BPM bar
        p["kick"] = _steps(0) if rng.random() < 0.5 else _steps(0, 3)
        p["snare"] = _steps(8)
        p["hihat"] = {i: 0.55 for i in range(0, 16, 2)}
    elif style == "downtempo":
        p["kick"] = _steps(0, 8) if rng.random() < 0.5 else _steps(0, 6, 8)
        p["snare"] = _steps(4, 12, v=0.85)
        p["hihat"] = {i: 0.5 for i in range(0, 16, 2)}
    elif style == "electro":
        p["kick"] = _steps(0, 6, 10)
        p["clap"] = _steps(4, 12)
        p["hihat"] = {i: 0.5 for i in range(16)}
    return p


def _beat_kits() -> dict[str, dict[str, list[Path]]]:
    """kit -> class -> files, only kits with kick + snare/clap + hihat."""
    kits: dict[str, dict[str, list[Path]]] = {}
    for inst in hydrogen_instruments():
        if inst.label is None:
            continue
        # skip long-decay / oddball instruments for grooves
        if inst.label == "hihat" and re.search(r"open|op\b|swish|semi", inst.name.lower()):
            cls = "openhat"
        else:
            cls = inst.label
        kits.setdefault(inst.kit, {}).setdefault(cls, []).append(inst.files[-1])  # loudest layer
    return {k: v for k, v in kits.items()
            if "kick" in v and "hihat" in v and ("snare" in v or "clap" in v)}


def _tone(freq: float, dur: float, kind: str, sr: int = SR) -> np.ndarray:
    n = max(1, int(dur * sr))
    t = np.arange(n, dtype=np.float32) / sr
    if kind == "bass":
        y = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(2 * np.pi * 2 * freq * t) \
            + 0.12 * np.sin(2 * np.pi * 3 * freq * t)
        env = np.minimum(1.0, t / 0.005) * np.exp(-t * 3.0)
    else:  # soft pad: a few decaying harmonics
        y = sum((0.6 ** (h - 1)) * np.sin(2 * np.pi * h * freq * t) for h in range(1, 5))
        env = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (dur - t) / 0.08).clip(0) * 0.8
    return (y * env).astype(np.float32)


def _midi_hz(m: float) -> float:
    return 440.0 * 2 ** ((m - 69) / 12)


# chord roots in semitones above the tonic, one chord per bar
MAJOR_PROGS = [(0, 4, 7, 0), (0, 9, 5, 7), (0, 5, 0, 7), (0, 5, 7, 0)]  # I-iii-V-I I-vi-IV-V I-IV-I-V I-IV-V-I
MINOR_PROGS = [(0, 8, 10, 0), (0, 5, 7, 0), (0, 5, 8, 7), (0, 8, 5, 7)]  # i-VI-VII-i i-iv-v-i i-iv-VI-v i-VI-iv-v
PROG_NAMES = {(0, 4, 7, 0): "I-iii-V-I", (0, 9, 5, 7): "I-vi-IV-V", (0, 5, 0, 7): "I-IV-I-V",
              (0, 5, 7, 0): "I-IV-V-I", (0, 8, 10, 0): "i-VI-VII-i", (0, 5, 7, 0, "m"): "i-iv-v-i",
              (0, 5, 8, 7): "i-iv-VI-v", (0, 8, 5, 7): "i-VI-iv-v"}


def prog_name(prog: tuple, minor: bool) -> str:
    return PROG_NAMES.get(tuple(prog) + (("m",) if minor and tuple(prog) == (0, 5, 7, 0) else ()),
                          "-".join(map(str, prog)))
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


def _triad(root_pc_offset: int, minor_key: bool) -> tuple[int, int, int]:
    """Diatonic triad on the scale degree whose root is ``root_pc_offset`` above the tonic."""
    scale = MINOR_SCALE if minor_key else MAJOR_SCALE
    deg = scale.index(root_pc_offset % 12)
    notes = [scale[(deg + k) % 7] + 12 * ((deg + k) // 7) for k in (0, 2, 4)]
    return tuple(n - notes[0] for n in notes)  # intervals above chord root


EIGHTH_SWING_STYLES = ("hiphop", "downtempo")


def swung_step(s: int, swing: float, style: str) -> float:
    """Position of 16th step ``s`` in units of straight 16ths, after swing.

    ``swing`` is the ratio of the first note of a swung pair (0.5 = straight, 0.66 = triplet).
    Hip-hop/downtempo swing 8ths (the "and" of each beat lands late, 16ths in between
    follow proportionally); other styles swing 16ths. Beats never move, so the BPM is exact.
    """
    if not swing:
        return float(s)
    beat, pos = divmod(s, 4)
    if style in EIGHTH_SWING_STYLES:
        within = {0: 0.0, 1: swing / 2, 2: swing, 3: swing + (1 - swing) / 2}[pos]  # in beats
        return beat * 4 + within * 4
    eighth, odd = divmod(s, 2)
    return eighth * 2 + (2 * swing if odd else 0.0)


def render_beat(bpm: float, key: int, style: str, swing: float, kit: dict[str, list[Path]],
                rng: random.Random, seconds: float = 30.0,
                sample_cache: dict | None = None, info: dict | None = None) -> np.ndarray:
    """Render one clip; ``info`` (if given) receives what was drawn (progression, bass, pad)."""
    sample_cache = {} if sample_cache is None else sample_cache

    def hit(cls: str) -> np.ndarray | None:
        if cls == "clap" and "clap" not in kit:
            cls = "snare"
        if cls == "snare" and "snare" not in kit:
            cls = "clap"
        files = kit.get(cls)
        if not files:
            return None
        f = files[hash((cls, str(files[0]))) % len(files)] if len(files) > 1 else files[0]
        if f not in sample_cache:
            y = load_mono(f)[: int(1.5 * SR)]
            sample_cache[f] = normalise(y, 1.0)
        return sample_cache[f]

    n = int(seconds * SR)
    drums = np.zeros(n + 2 * SR, dtype=np.float32)
    music = np.zeros_like(drums)
    step = 60.0 / bpm / 4
    bar = 16 * step
    offset = rng.uniform(0.0, 0.25)   # the first beat (the first draw: see build_tempo_key_beats)
    if info is not None:
        info["first_beat"] = offset
    pattern = drum_pattern(style, rng)
    # choose one file per class for this clip (consistency, like a real track)
    chosen = {c: rng.choice(v) for c, v in kit.items()}
    kit = {c: [f] for c, f in chosen.items()}
    gains = {"kick": 1.0, "snare": 0.8, "clap": 0.75, "hihat": 0.35, "perc": 0.35, "openhat": 0.3}
    n_bars = int(seconds / bar) + 2
    fill_every = 8
    for b in range(n_bars):
        for cls, steps in pattern.items():
            smp = hit(cls)
            if smp is None:
                continue
            for s, vel in steps.items():
                t = offset + b * bar + swung_step(s, swing, style) * step
                i = int(round(t * SR))
                if i >= len(drums):
                    continue
                v = vel * gains.get(cls, 0.5) * rng.uniform(0.85, 1.0)
                seg = smp[: len(drums) - i]
                drums[i:i + len(seg)] += v * seg
        if "openhat" in kit and style in ("house", "techno") and b % 2 == 1:
            smp = hit("openhat")
            i = int(round((offset + b * bar + 14 * step) * SR))
            if i < len(drums):
                seg = smp[: len(drums) - i]
                drums[i:i + len(seg)] += 0.25 * seg
        if b % fill_every == fill_every - 1 and "snare" in kit and style not in ("dubstep",):
            smp = hit("snare")
            for s in (13, 14, 15):
                i = int(round((offset + b * bar + s * step) * SR))
                if i < len(drums):
                    seg = smp[: len(drums) - i]
                    drums[i:i + len(seg)] += 0.4 * seg

    # harmony: one chord per bar, progression repeats; bass follows the style
    minor = key >= 12
    tonic_pc = key % 12
    prog = rng.choice(MINOR_PROGS if minor else MAJOR_PROGS)
    if info is not None:
        info["progression"] = prog_name(prog, minor)
    bass_base = 36 + tonic_pc if tonic_pc <= 6 else 24 + tonic_pc  # MIDI 31..42
    pad_base = 48 + tonic_pc if tonic_pc <= 6 else 36 + tonic_pc + 12
    bass_steps = {"house": (2, 6, 10, 14), "techno": (2, 6, 10, 14), "dnb": (0, 10),
                  "dubstep": (0, 3), "hiphop": (0, 7, 10), "breakbeat": (0, 10, 11),
                  "downtempo": (0, 6, 8), "electro": (0, 3, 6, 10)}[style]
    use_pad = rng.random() < 0.8
    if info is not None:
        info["pad"] = use_pad
    for b in range(n_bars):
        chord_root = prog[b % len(prog)]
        iv = _triad(chord_root, minor)
        t0 = offset + b * bar
        i0 = int(round(t0 * SR))
        if i0 >= len(music):
            break
        if use_pad:
            for k in iv:
                tone = _tone(_midi_hz(pad_base + chord_root + k), bar * 0.98, "pad") * 0.12
                seg = tone[: len(music) - i0]
                music[i0:i0 + len(seg)] += seg
        for s in bass_steps:
            i = int(round((t0 + s * step) * SR))
            if i >= len(music):
                continue
            dur = min(step * 3.5, bar - s * step)
            tone = _tone(_midi_hz(bass_base + chord_root), dur, "bass") * 0.45
            seg = tone[: len(music) - i]
            music[i:i + len(seg)] += seg
        # a short melodic motif on scale tones, on the first beat of every other bar
        if b % 2 == 0:
            scale = MINOR_SCALE if minor else MAJOR_SCALE
            for j, deg in enumerate(rng.sample([0, 2, 4, 0, 4, 2, 6], 3)):
                i = int(round((t0 + (j * 2 + 8) * step) * SR))
                if i < len(music):
                    tone = _tone(_midi_hz(pad_base + 12 + scale[deg]), step * 1.8, "bass") * 0.12
                    seg = tone[: len(music) - i]
                    music[i:i + len(seg)] += seg

    y = drums + music
    y = y[:n]
    # gentle fade in/out so clip edges are clean
    fade = int(0.02 * SR)
    y[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
    y[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return normalise(y)


def beat_plan(seed: int = 1234, scale: float = 1.0) -> list[dict]:
    """Deterministic list of clips: id, style, bpm, key, swing, kit."""
    rng = random.Random(seed)
    kits = sorted(_beat_kits())
    plan = []
    key_cycle = list(range(24))
    rng.shuffle(key_cycle)
    k = 0
    for style, count in STYLE_COUNTS.items():
        (lo, hi), swings = STYLES[style]
        count = max(1, int(round(count * scale)))
        for j in range(count):
            if style == "dubstep":
                bpm = 140.0 if j % 3 else float(rng.choice((138, 142)))
            else:
                # spread evenly over the range, then jitter, integer BPM like real tracks
                bpm = float(round(lo + (hi - lo) * (j + rng.random()) / count))
            key = key_cycle[k % 24]
            k += 1
            swing = swings[j % len(swings)]
            kit = kits[(j * 7 + len(plan)) % len(kits)]
            sw = f"_sw{int(swing * 100)}" if swing else ""
            cid = f"{style}_{int(bpm)}_{PITCH_NAMES[key % 12].replace('#', 's')}" \
                  f"{'m' if key >= 12 else ''}{sw}_{j:02d}"
            plan.append({"id": cid, "style": style, "bpm": bpm, "key": key,
                         "swing": swing, "kit": kit})
    return plan


def build_tempo_key_beats(cache: Path, limit: int | None = None, **_) -> list[dict]:
    set_dir = cache / "tempo_key_beats"
    kits = _beat_kits()
    if not kits:
        raise SystemExit("no Hydrogen kits: apt-get install hydrogen-drumkits hydrogen-data")
    plan = beat_plan()
    if limit:
        plan = plan[::max(1, len(plan) // limit)][:limit]
    rows, made, t0 = [], 0, time.time()
    sample_cache: dict = {}
    deb = hydrogen_kit_licences()
    inst_lic = {i.kit: deb.get(i.kit) or i.licence for i in hydrogen_instruments()}
    for item in plan:
        path = set_dir / "audio" / f"{item['id']}.wav"
        side = path.with_suffix(".json")
        if not path.exists() or not side.exists():
            # deterministic per clip id: re-running only to recover the sidecar gives the same clip
            info: dict = {}
            y = render_beat(item["bpm"], item["key"], item["style"], item["swing"],
                            kits[item["kit"]], random.Random(item["id"]),
                            sample_cache=sample_cache, info=info)
            if not path.exists():
                write_wav(path, y)
                made += 1
            side.write_text(json.dumps(info))
        info = json.loads(side.read_text())
        # sidecars written before first_beat was recorded: render_beat's first draw
        first_beat = info.get("first_beat", random.Random(item["id"]).uniform(0.0, 0.25))
        rows.append({"path": str(path), "bpm": item["bpm"], "first_beat": round(first_beat, 6),
                     "key": item["key"],
                     "key_name": key_name(item["key"]), "style": item["style"],
                     "swing": item["swing"], "kit": item["kit"],
                     "progression": info.get("progression", ""), "pad": info.get("pad", ""),
                     "source": "hydrogen-beatgen", "licence": inst_lic.get(item["kit"], "")})
    write_manifest(set_dir, rows, {
        "source": "beat generator over Hydrogen kit samples + numpy bass/pad",
        "sr": SR, "seconds": 30, "key_encoding": "tonic pitch class + 12 if minor",
        "note": "dubstep = 140 BPM truth with half-time feel (snare on 3)"})
    log(f"tempo_key_beats: {len(rows)} clips ({made} new) in {time.time() - t0:.1f}s")
    return rows


# --------------------------------------------------------------------------- MIDI + fluidsynth

def write_midi(path: Path, events: list[tuple[float, bytes]], tpq: int = 480,
               tempo_us: int = 500000) -> None:
    """Minimal SMF type-0 writer. events: (time_seconds, raw midi bytes)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also when run as a script
    from benchmarks.smf import write_vlq

    ticks_per_s = tpq * 1e6 / tempo_us
    track = bytearray(b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big"))
    last = 0
    for t, msg in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90)):
        tick = int(round(t * ticks_per_s))
        track += write_vlq(tick - last) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track
    path.write_bytes(data)


def fluidsynth_render(midi: Path, wav: Path, soundfont: Path, gain: float = 0.6) -> None:
    if not shutil.which("fluidsynth"):
        raise SystemExit("fluidsynth missing: apt-get install fluidsynth fluid-soundfont-gm")
    cmd = ["nice", "-n", "10", "fluidsynth", "-ni", "-q", "-g", str(gain), "-r", str(SR),
           "-R", "0", "-C", "0", "-F", str(wav), str(soundfont), str(midi)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def soundfonts() -> list[tuple[str, Path]]:
    out, seen = [], set()
    if FLUID_SF2.exists():
        out.append(("FluidR3_GM", FLUID_SF2))
        seen.add(FLUID_SF2.resolve())
    for p in MUSESCORE_SF3:
        if p.exists() and p.resolve() not in seen:
            seen.add(p.resolve())
            out.append((p.resolve().stem, p))
    return out


GM_DRUM_KITS = {0: "standard", 8: "room", 16: "power", 24: "electronic", 25: "tr808",
                32: "jazz", 40: "brush", 48: "orchestra"}


def gm_drum_label(note: int) -> str:
    """The General-MIDI percussion map, except 53 ride bell -> cymbal, to agree with how
    Hydrogen's "Ride Bell" instruments are labelled."""
    if note in (35, 36):
        return "kick"
    if note in (38, 40):
        return "snare"
    if note in (42, 44, 46):
        return "hihat"
    if note == 39:
        return "clap"
    if note in (41, 43, 45, 47, 48, 50):
        return "tom"
    if note in (49, 51, 52, 53, 55, 57, 59):
        return "cymbal"
    return "perc"


MELODIC = {"bass": list(range(32, 40)), "synth": list(range(80, 96)),
           "vocal": [52, 53, 54], "fx": list(range(96, 104)) + list(range(120, 128))}
MELODIC_PITCHES = {"bass": (28, 40), "synth": (48, 60, 72), "vocal": (55, 67), "fx": (48, 60)}


def _done(p: Path) -> bool:
    """Rendered before, or found silent before (marker file), so no need to render again."""
    return p.exists() or p.with_suffix(".silent").exists()


def _save_or_mark(p: Path, seg: np.ndarray) -> None:
    if seg.size > int(0.01 * SR):
        write_wav(p, normalise(seg))
    else:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.with_suffix(".silent").touch()


def render_midi(events: list[tuple[float, bytes]], soundfont: Path, gain: float = 0.6) -> np.ndarray:
    """MIDI events rendered by fluidsynth with ``soundfont``, as a mono signal at SR."""
    with tempfile.TemporaryDirectory() as td:
        mid, wav = Path(td) / "render.mid", Path(td) / "render.wav"
        write_midi(mid, events)
        fluidsynth_render(mid, wav, soundfont, gain=gain)
        return load_mono(wav)


def _slice_render(y: np.ndarray, onsets: list[float], length: float) -> list[np.ndarray]:
    out = []
    for t in onsets:
        a = int(t * SR)
        seg = y[a: a + int(length * SR)].copy()
        # trim trailing near-silence (-60 dB)
        thr = 1e-3 * max(1e-9, float(np.max(np.abs(seg))) if seg.size else 0)
        nz = np.nonzero(np.abs(seg) > thr)[0]
        seg = seg[: nz[-1] + 1] if nz.size else seg[:0]
        out.append(seg)
    return out


def build_samples_gm(cache: Path, **_) -> list[dict]:
    set_dir = cache / "samples_gm"
    rows, t0 = [], time.time()
    lic = {"FluidR3_GM": "MIT (fluid-soundfont-gm)",
           "MuseScore_General": "MIT (musescore-general-soundfont)",
           "MuseScore_General_Lite": "MIT (musescore-general-soundfont-small)"}
    gap = 3.0
    for sf_name, sf_path in soundfonts():
        # one render per drum kit: all percussion notes 35..81 on channel 10, 3 s apart
        for prog, kit in GM_DRUM_KITS.items():
            notes = list(range(35, 82))
            paths = [set_dir / "audio" / sf_name / f"drum_{kit}_{n}.wav" for n in notes]
            if not all(_done(p) for p in paths):
                ev = [(0.0, bytes([0xB9, 0, 0])), (0.0, bytes([0xC9, prog]))]
                for j, n in enumerate(notes):
                    ev.append((0.5 + j * gap, bytes([0x99, n, 110])))
                    ev.append((0.5 + j * gap + 0.5, bytes([0x89, n, 0])))
                segs = _slice_render(render_midi(ev, sf_path), [0.5 + j * gap for j in range(len(notes))],
                                     gap - 0.05)
                for p, seg in zip(paths, segs):
                    _save_or_mark(p, seg)
            for n, p in zip(notes, paths):
                if p.exists():
                    rows.append({"path": str(p), "label": gm_drum_label(n), "source": f"gm:{sf_name}",
                                 "kit": f"{sf_name}:{kit}", "licence": lic.get(sf_name, ""),
                                 "gm_program": prog, "gm_note": n})
        # melodic single notes
        items = [(lab, prog, pitch) for lab, progs in MELODIC.items() for prog in progs
                 for pitch in MELODIC_PITCHES[lab]]
        paths = [set_dir / "audio" / sf_name / f"{lab}_p{prog}_n{pitch}.wav" for lab, prog, pitch in items]
        if not all(_done(p) for p in paths):
            ev = []
            for j, (lab, prog, pitch) in enumerate(items):
                t = 0.5 + j * gap
                ev.append((t - 0.2, bytes([0xC0, prog])))
                ev.append((t, bytes([0x90, pitch, 100])))
                ev.append((t + 1.2, bytes([0x80, pitch, 0])))
            segs = _slice_render(render_midi(ev, sf_path), [0.5 + j * gap for j in range(len(items))],
                                 gap - 0.25)
            for p, seg in zip(paths, segs):
                _save_or_mark(p, seg)
        for (lab, prog, pitch), p in zip(items, paths):
            if p.exists():
                rows.append({"path": str(p), "label": lab, "source": f"gm:{sf_name}",
                             "kit": f"{sf_name}:melodic", "licence": lic.get(sf_name, ""),
                             "gm_program": prog, "gm_note": pitch})
    write_manifest(set_dir, rows, {"source": "GM sound fonts rendered with fluidsynth",
                                   "drum_map": "GM percussion map; 53 (ride bell) -> cymbal",
                                   "licences": {"fluid-soundfont-gm": debian_licence("fluid-soundfont-gm"),
                                                "musescore-general-soundfont-small":
                                                    debian_licence("musescore-general-soundfont-small")}})
    log(f"samples_gm: {len(rows)} files in {time.time() - t0:.1f}s")
    return rows


def build_samples_fx(cache: Path, **_) -> list[dict]:
    rows = [{"path": str(p), "label": "fx", "source": "freedesktop", "kit": "freedesktop",
             "licence": debian_licence("sound-theme-freedesktop")}
            for p in sorted(FREEDESKTOP_DIR.glob("*.oga"))]
    write_manifest(cache / "samples_fx", rows, {"source": "Debian sound-theme-freedesktop (in place)"})
    return rows


# --------------------------------------------------------------------------- music21 keys

MODE_MAP_STRICT = {"major": False, "minor": True}


def _abc_tunes(path: Path):
    """Yield (tune_text, key_field) for each tune of an ABC file, without parsing music."""
    text = path.read_text(errors="replace")
    for chunk in re.split(r"(?m)^(?=X:)", text):
        if not chunk.startswith("X:"):
            continue
        m = re.search(r"(?m)^K:\s*([^\n%]*)", chunk)
        if m:
            yield chunk, m.group(1).strip()


def parse_abc_key(field: str) -> tuple[int, str] | None:
    """'Em' -> (4, 'minor'); 'Dmix' -> (2, 'mixolydian'); 'G' -> (7, 'major'); None if unusable."""
    m = re.match(r"^([A-Ga-g])([#b]?)\s*([A-Za-z]*)", field)
    if not m:
        return None
    letter, acc, mode = m.groups()
    pc = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[letter.upper()]
    pc = (pc + {"#": 1, "b": -1, "": 0}[acc]) % 12
    mode = mode.lower()[:3]
    modes = {"": "major", "maj": "major", "ion": "major", "m": "minor", "min": "minor",
             "aeo": "minor", "mix": "mixolydian", "dor": "dorian", "phr": "phrygian",
             "lyd": "lydian", "loc": "locrian"}
    if mode.startswith("m") and mode not in ("maj", "mix", "min"):
        mode = "m"
    if mode not in modes:
        return None
    return pc, modes[mode]


def music21_plan(n_chorales: int = 60, n_abc: int = 90, seed: int = 21) -> tuple[list[dict], int, int]:
    """Pick pieces with a notated major/minor key; assign a transposition so keys spread."""
    import music21  # noqa: F401
    from music21 import corpus
    rng = random.Random(seed)
    plan = []
    # Bach chorales: key + mode in the MusicXML <key> element (read without full parse later)
    chorales = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml")))
    rng.shuffle(chorales)
    plan += [{"kind": "chorale", "path": p} for p in chorales[: n_chorales * 2]]
    # ABC tunes: K: field, strict major/minor only
    corpus_root = Path(music21.__file__).parent / "corpus"
    abc_files = sorted(corpus_root.rglob("*.abc"))
    tunes = []
    for f in abc_files:
        for idx, (txt, kf) in enumerate(_abc_tunes(f)):
            parsed = parse_abc_key(kf)
            if parsed and parsed[1] in MODE_MAP_STRICT:
                tunes.append({"kind": "abc", "path": str(f), "index": idx, "abc_key": kf,
                              "tonic": parsed[0], "mode": parsed[1]})
    rng.shuffle(tunes)
    # balance modes (folk corpora are mostly major)
    minor = [t for t in tunes if t["mode"] == "minor"]
    major = [t for t in tunes if t["mode"] == "major"]
    for a, b in zip(minor[:n_abc], major[:n_abc]):  # alternate so any prefix is balanced
        plan += [a, b]
    return plan, n_chorales, n_abc


def _m21_key(score) -> tuple[int, str] | None:
    from music21 import key as m21key
    for k in score.recurse().getElementsByClass(m21key.KeySignature):
        if isinstance(k, m21key.Key) and k.mode in MODE_MAP_STRICT:
            return k.tonic.pitchClass, k.mode
        return None
    return None


MAJOR_DEGREES = frozenset((0, 2, 4, 5, 7, 9, 11))
MINOR_DEGREES = frozenset((0, 2, 3, 5, 7, 8, 9, 10, 11))   # natural, harmonic and melodic minor
IN_SCALE_MIN = 0.9


def label_checks(score, kind: str, key: int, shift: int) -> dict:
    """Checks of a notated key label against the notes themselves, independent of any
    audio key estimator (``label_verified`` is both of the first two):

    * ``final_is_tonic``: the last bass note (chorales: lowest note of the final chord;
      tunes: the last melody note) is the notated tonic. Chorales and folk tunes close on
      the tonic; when they do not, the label is doubtful. Bach's minor chorales are often
      notated with a "Dorian" signature one flat short, and the corpus encodes signature +
      mode, so e.g. a G-minor chorale comes out labelled D minor; Essen folk songs carry
      only a tonic in ``K:``, so minor tunes come out labelled major.
    * ``in_scale``: the share of note duration inside the notated key's scale (minor: any
      of natural, harmonic, melodic); >= IN_SCALE_MIN means the notes fit the label.
    * ``symbolic_key``: music21's own Krumhansl-Schmuckler estimate from the notes (the whole
      piece), transposed like the audio: how far a pitch-distribution method gets with
      perfect notes, a reference for what any audio method can reach on these labels.
    """
    notes = score.flatten().notes if kind == "abc" else score.parts[-1].flatten().notes
    last = notes[-1]
    final_pc = min(last.pitches, key=lambda p: p.midi).pitchClass
    tonic, scale = key % 12, (MINOR_DEGREES if key >= 12 else MAJOR_DEGREES)
    total = inside = 0.0
    for n in score.flatten().notes:
        dur = float(n.quarterLength) or 0.25   # grace notes count a little
        for pitch in n.pitches:
            total += dur
            inside += dur * (((pitch.pitchClass - tonic) % 12) in scale)
    in_scale = inside / total if total else 0.0
    sym = score.analyze("key")
    symbolic = (sym.tonic.pitchClass + shift) % 12 + (12 if sym.mode == "minor" else 0)
    final_is_tonic = final_pc == tonic
    return {"final_is_tonic": int(final_is_tonic), "in_scale": round(in_scale, 3),
            "label_verified": int(final_is_tonic and in_scale >= IN_SCALE_MIN),
            "symbolic_key": symbolic}


def _score_events(score, shift: int, program: int, max_s: float) -> tuple[list, float]:
    """Notes of a music21 score as MIDI events (seconds), transposed, cut at ``max_s``."""
    from music21 import tempo as m21tempo
    qpm = 100.0  # music21/ABC default when no tempo is given is too fast for chorales
    marks = list(score.recurse().getElementsByClass(m21tempo.MetronomeMark))
    if marks and marks[0].getQuarterBPM():
        qpm = float(marks[0].getQuarterBPM())
    sec = 60.0 / qpm
    ev = [(0.0, bytes([0xC0, program]))]
    end = 0.0
    for el in score.stripTies().flatten().notes:
        t = float(el.offset) * sec
        if t >= max_s:
            break
        dur = max(0.08, float(el.quarterLength) * sec)
        off = min(t + dur * 0.95, max_s)
        for pitch in el.pitches:
            m = pitch.midi + shift
            if 0 <= m < 128:
                ev.append((t + 0.001, bytes([0x90, m, 88])))
                ev.append((off, bytes([0x80, m, 0])))
        end = max(end, off)
    return ev, end


M21_PROGRAMS = {0: "Acoustic Grand Piano", 4: "Electric Piano", 48: "String Ensemble",
                19: "Church Organ"}


def _render_batch(batch: list[dict], sf_path: Path) -> None:
    """Render several pieces in one fluidsynth run (the sound font loads once), then slice."""
    gap = 3.0
    ev, starts, t = [], [], 0.5
    for item in batch:
        starts.append(t)
        ev += [(t + et, msg) for et, msg in item["events"]]
        ev.append((t + item["length"], bytes([0xB0, 123, 0])))  # all notes off
        t += item["length"] + gap
    y = render_midi(ev, sf_path, gain=0.5)
    for item, st in zip(batch, starts):
        a = int(st * SR)
        seg = y[a: a + int(min(45.0, item["length"] + 1.5) * SR)]
        if seg.size >= 5 * SR and np.max(np.abs(seg)) > 1e-3:
            write_wav(Path(item["row"]["path"]), normalise(seg))


def build_key_music21(cache: Path, limit: int | None = None, **_) -> list[dict]:
    """The key benchmark set: 60 chorales and 90 ABC tunes (balanced major/minor)."""
    n_chor, n_abc = (60, 90)
    if limit:
        n_chor, n_abc = max(1, limit * 2 // 5), max(1, limit - limit * 2 // 5)
    return _build_music21_set(cache, "key_music21", n_chor, n_abc, exclude=set(), seed=77)


def build_key_music21_extra(cache: Path, limit: int | None = None, **_) -> list[dict]:
    """400 more pieces from the same corpus that no djml key setting was ever chosen on:
    a second, larger check of whether key accuracy generalises. Never a piece of the
    ``key_music21`` set (built first; its pieces are excluded by corpus file + tune index)."""
    bench = ensure("key_music21", cache)
    exclude = {(r["corpus_file"], str(r["abc_index"])) for r in bench}
    n_chor, n_abc = (150, 250)
    if limit:
        n_chor, n_abc = max(1, limit * 2 // 5), max(1, limit - limit * 2 // 5)
    return _build_music21_set(cache, "key_music21_extra", n_chor, n_abc, exclude=exclude, seed=78)


def _build_music21_set(cache: Path, name: str, n_chor: int, n_abc: int,
                       exclude: set[tuple[str, str]], seed: int) -> list[dict]:
    try:
        import music21
        from music21 import converter, corpus
    except ImportError:
        raise SystemExit("music21 missing: .venv/bin/pip install music21 (benchmark-only)")
    set_dir = cache / name
    sfs = soundfonts()
    if not sfs:
        raise SystemExit("no GM sound font: apt-get install fluid-soundfont-gm")
    plan, _, _ = music21_plan(max(n_chor, 60) + len(exclude), max(n_abc, 90) + len(exclude))
    rng = random.Random(seed)
    rows, t0, made = [], time.time(), 0
    counts = {"chorale": 0, "abc": 0}
    wanted = {"chorale": n_chor, "abc": n_abc}
    pending: dict[int, list[dict]] = {i: [] for i in range(len(sfs))}
    m21_root = Path(music21.__file__).parent

    def flush(i: int) -> None:
        nonlocal made
        if pending[i]:
            _render_batch(pending[i], sfs[i][1])
            made += len(pending[i])
            pending[i] = []
            log(f"{name}: {made} rendered ({time.time() - t0:.0f}s)")

    for j, item in enumerate(plan):
        kind = item["kind"]
        if counts[kind] >= wanted[kind]:
            continue
        stem = Path(item["path"]).stem
        cid = f"{kind}_{stem}" if kind == "chorale" else \
            f"abc_{Path(item['path']).parent.name}_{stem}_{item['index']}"
        cid = re.sub(r"[^A-Za-z0-9_.-]", "_", cid)
        corpus_file = str(Path(item["path"]).relative_to(m21_root))
        if (corpus_file, str(item.get("index", ""))) in exclude:
            continue
        try:
            if kind == "chorale":
                score = corpus.parse(item["path"])
                k = _m21_key(score)
            else:
                txt = list(_abc_tunes(Path(item["path"])))[item["index"]][0]
                score = converter.parse(txt, format="abc")
                k = (item["tonic"], item["mode"])
            if k is None:
                continue
            tonic_pc, mode = k
            orig_key = tonic_pc + (12 if mode == "minor" else 0)
            # transpose towards a random target tonic so keys spread over all 24 (-6..+5)
            target = rng.randrange(12)
            shift = (target - tonic_pc + 6) % 12 - 6
            truth = (tonic_pc + shift) % 12 + (12 if mode == "minor" else 0)
            program = rng.choice((0, 0, 4, 48, 19))
            sfi = j % len(sfs)
            wav = set_dir / "audio" / f"{cid}.wav"
            row = {"id": cid, "path": str(wav), "key": truth, "key_name": key_name(truth),
                   "original_key": orig_key, "transpose": shift, "mode": mode, "kind": kind,
                   "corpus_file": corpus_file,
                   "abc_index": item.get("index", ""), "gm_program": program,
                   "instrument": M21_PROGRAMS[program], "soundfont": sfs[sfi][0],
                   "source": f"music21:{kind}",
                   "licence": f"music21 corpus (public-domain works); sound font {sfs[sfi][0]} MIT",
                   **label_checks(score, kind, orig_key, shift)}
            if not wav.exists():
                events, length = _score_events(score, shift, program, 44.0)
                if length < 5.0:
                    continue
                pending[sfi].append({"row": row, "events": events, "length": length})
                if len(pending[sfi]) >= 12:
                    flush(sfi)
        except Exception as e:  # corrupt tune, parser failure: skip, keep going
            log(f"skip {cid}: {type(e).__name__}: {e}")
            continue
        rows.append(row)
        counts[kind] += 1
    for i in pending:
        flush(i)
    rows = [r for r in rows if Path(r["path"]).exists()]
    write_manifest(set_dir, rows, {
        "source": "music21 corpus -> notes -> MIDI -> fluidsynth", "max_seconds": 45,
        "modes": "only pieces notated major/minor (ABC K: without a church mode, chorale "
                 "<key> with <mode>major|minor>); modal tunes (dor/mix/phr/lyd/loc) skipped",
        "transposition": "each piece transposed by -6..+5 semitones towards a random target "
                         "tonic so keys spread over all 24; ground truth transposed with it",
        "tempo": "first metronome mark of the piece, else 100 quarter notes per minute",
        "label_checks": "final_is_tonic, in_scale, label_verified, symbolic_key: see "
                        "label_checks() in benchmarks/datasets.py"})
    log(f"{name}: {len(rows)} pieces ({made} new) in {time.time() - t0:.1f}s")
    return rows


def _elsewhere(module: str, name: str):
    """A builder defined in another benchmarks module, imported when it runs (those modules
    import this one for its helpers)."""
    def build(cache: Path, **kw) -> list[dict]:
        import importlib
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        return getattr(importlib.import_module(f"benchmarks.{module}"), name)(cache, **kw)
    return build


BUILDERS = {
    "tempo_key_beats": build_tempo_key_beats,
    "key_music21": build_key_music21,
    "key_music21_extra": build_key_music21_extra,
    "samples_hydrogen": build_samples_hydrogen,
    "samples_gm": build_samples_gm,
    "samples_fx": build_samples_fx,
    "tempo_meter_beats": _elsewhere("meter_beats", "build_tempo_meter_beats"),
    "samples_sonicpi": _elsewhere("sample_sets", "build_samples_sonicpi"),
    "samples_blackpearl": _elsewhere("sample_sets", "build_samples_blackpearl"),
    "samples_freepats": _elsewhere("sample_sets", "build_samples_freepats"),
    "samples_fluid": _elsewhere("sample_sets", "build_samples_fluid"),
    "samples_opl3": _elsewhere("sample_sets", "build_samples_opl3"),
    "samples_synth": _elsewhere("sample_sets", "build_samples_synth"),
}


# columns added after a set was first published: an older cached manifest is rebuilt
# (cheap: existing audio is kept, only the manifest is recomputed)
REQUIRED_COLUMNS = {"key_music21": {"label_verified"}, "key_music21_extra": {"label_verified"},
                    "tempo_key_beats": {"first_beat"}, "samples_hydrogen": {"subtype"}}


def ensure(name: str, cache: Path | None = None, limit: int | None = None) -> list[dict]:
    """Return the manifest rows of a set, building it if it is missing."""
    cache = Path(cache) if cache else default_cache()
    rows = read_manifest(cache / name)
    if rows and all(Path(r["path"]).exists() and REQUIRED_COLUMNS.get(name, set()) <= r.keys()
                    for r in rows):
        return rows
    return BUILDERS[name](cache, limit=limit)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="*", help=f"sets to build (default: {', '.join(ALL_SETS)}; "
                    "also key_music21_extra: 400 more music21 pieces for key accuracy)")
    ap.add_argument("--cache", type=Path, default=None, help="cache folder (default: "
                    "$DJML_BENCH_CACHE or ~/.cache/djml/bench)")
    ap.add_argument("--limit", type=int, default=None, help="build at most N items per set (smoke test)")
    args = ap.parse_args(argv)
    bad = [s for s in args.sets if s not in BUILDERS]
    if bad:
        ap.error(f"unknown set(s) {bad}; choose from {tuple(BUILDERS)}")
    cache = args.cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name in args.sets or ALL_SETS:
        t = time.time()
        rows = BUILDERS[name](cache, limit=args.limit)
        summary[name] = (len(rows), time.time() - t)
    for name, (n, dt) in summary.items():
        print(f"{name:18s} {n:5d} items  {dt:7.1f}s  -> {cache / name / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
