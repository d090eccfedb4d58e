#!/usr/bin/env python3
"""One-shot sets for the sample-type classifier, one per source family, built on demand from
installed Debian packages (and the training synthesiser) into the benchmark cache.

Each set is ``<cache>/<set>/manifest.csv`` + ``manifest.json`` with at least the columns
``path, label, kit, source, licence, subtype``:

* ``label``: kick, snare, hihat, clap, tom, cymbal, perc, bass, synth, vocal, fx or loop;
* ``kit``: the smallest unit that must never straddle train and test (a kit, one program
  of a sound-font source, a family of generated sounds; kits found to share a recording
  are merged, see :func:`finish`);
* ``source``: the leave-one-source-out group. Material that shares recordings is one source:
  FluidR3 GM/GS and MuseScore_General are one (``fluid``: MuseScore_General is built on
  Fluid R3 Mono, its kick and snare correlate 0.999 with FluidR3's), and the AVL Black Pearl
  kit is one with Hydrogen's "The Black Pearl 1.0", "GMRockKit" and "Gimme A Hand 1.0"
  (identical hi-hats, tambourine, maracas, cowbell, claps);
* ``subtype``: the finer name (closed / open hat, crash / ride, pad / lead / keys ...), so a
  trainer can remap a class without rebuilding.

Sets: ``samples_sonicpi``, ``samples_blackpearl``, ``samples_freepats``, ``samples_fluid``,
``samples_opl3``, ``samples_synth``. The label rules are tables in this module and are
documented in ``benchmarks/README.md``.

    python benchmarks/sample_sets.py                  # every one-shot set (idempotent)
    python benchmarks/sample_sets.py --limit 20       # a quick smoke build
    python benchmarks/datasets.py samples_fluid       # one set
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import datasets as ds  # noqa: E402
from benchmarks.gus_patch import PatchError, read_patch  # noqa: E402
from benchmarks.sf2 import SoundFont  # noqa: E402
from benchmarks.shared_audio import merge_shared_kits  # noqa: E402

LABELS = ("kick", "snare", "hihat", "clap", "tom", "cymbal", "perc",
          "bass", "synth", "vocal", "fx", "loop")
SR = ds.SR

SONICPI_DIR = Path("/usr/share/sonic-pi/samples")
BLACK_PEARL_SF2 = Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2")
HELD_BACK = Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2")   # never read: held back
FREEPATS_DIR = Path("/usr/share/midi/freepats")
FREEPATS_CFG = Path("/etc/timidity/freepats.cfg")
FLUID_FONTS = (("FluidR3_GM", Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")),
               ("FluidR3_GS", Path("/usr/share/sounds/sf2/FluidR3_GS.sf2")),
               ("MuseScore_General_Full", Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3")))
OPL3_FONT = ("OPL3_FM_128M", Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2"))


def row(path: Path | str, label: str, kit: str, source: str, licence: str, subtype: str = "", **extra) -> dict:
    if label not in LABELS:
        raise ValueError(f"{path}: label {label!r} is not one of {LABELS}")
    return {"path": str(path), "label": label, "kit": kit, "source": source,
            "licence": licence, "subtype": subtype, **extra}


def finish(cache: Path, name: str, rows: list[dict], info: dict, t0: float, merge_kits: bool = True,
           links: list[tuple[str, str]] = ()) -> list[dict]:
    """Merge kits that share a recording (found by benchmarks/shared_audio.py, or known:
    ``links``, e.g. a loop and the kits whose hits it plays), write the manifest, print the
    class counts."""
    if merge_kits and rows:
        merged, across = merge_shared_kits(rows, links)
        info = {**info, "kits_merged_for_shared_audio": merged}
        if across:
            info["shared_with_other_sources"] = across
            ds.log(f"{name}: WARNING {len(across)} recordings also in another source: {across[:3]}")
    counts = Counter(r["label"] for r in rows)
    info = {**info, "counts": dict(sorted(counts.items())), "n": len(rows)}
    ds.write_manifest(cache / name, rows, info)
    ds.log(f"{name}: {len(rows)} files in {time.time() - t0:.1f}s ("
           + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")")
    return rows


# --------------------------------------------------------------------------- Sonic Pi

# File-name prefix -> label; the kit is the prefix. Names inside drum_/elec_/perc_/glitch_
# refine the label (below).
SONICPI_PREFIX = {
    "bd": "kick", "sn": "snare", "tabla": "perc", "bass": "bass", "loop": "loop",
    "vinyl": "fx", "guit": "synth", "mehackit": "fx", "misc": "fx", "ambi": "fx",
    "drum": "perc", "elec": "perc", "perc": "perc", "glitch": "perc",
}
# Words in the rest of a name -> label, first match wins (drum_/elec_/perc_/glitch_ only).
# Sonic Pi's drum_cymbal_closed/_open/_pedal are hi-hat articulations (menegass's kit);
# drum_cymbal_hard/_soft ring 1-1.6 s (-20 dB after 0.6-0.8 s): a crash/ride.
SONICPI_WORDS = (
    ("kick", r"kick|bass_hard|bass_soft"), ("snare", r"snare"), ("tom", r"tom"),
    ("hihat", r"cymbal_(closed|open|pedal)"), ("cymbal", r"cymbal|splash"),
    ("bass", r"^glitch_bass"), ("fx", r"robot|impact|door|swoosh|swash|till"),
)
# Where the prefix misleads, checked by measures (duration, centroid, pitch clarity):
SONICPI_OVERRIDES = {
    "ambi_choir": "vocal",        # a sung choir chord
    "ambi_drone": "synth",        # a held pitched drone (pitch clarity 0.79)
    "ambi_glass_hum": "synth",    # glass harmonica tones (0.92)
    "ambi_glass_rub": "synth",    # (0.98)
    "ambi_piano": "synth",        # a piano chord
}
# Not a one-shot of any class: a 6 s snare roll.
SONICPI_SKIP = {"drum_roll"}


def sonicpi_label(stem: str) -> str | None:
    """Class of a Sonic Pi sample from its file name, or None if it is skipped."""
    if stem in SONICPI_SKIP:
        return None
    if stem in SONICPI_OVERRIDES:
        return SONICPI_OVERRIDES[stem]
    prefix = stem.split("_", 1)[0]
    if prefix not in SONICPI_PREFIX:
        return None
    if prefix in ("drum", "elec", "perc", "glitch"):
        for label, rx in SONICPI_WORDS:
            if re.search(rx, stem):
                return label
    return SONICPI_PREFIX[prefix]


def build_samples_sonicpi(cache: Path, **_) -> list[dict]:
    t0 = time.time()
    if not SONICPI_DIR.is_dir():
        raise SystemExit("Sonic Pi samples missing: apt-get install sonic-pi-samples")
    rows, skipped = [], []
    for p in sorted(SONICPI_DIR.glob("*.flac")):
        label = sonicpi_label(p.stem)
        if label is None:
            skipped.append(p.name)
            continue
        prefix, _, rest = p.stem.partition("_")
        rows.append(row(p, label, f"sonicpi:{prefix}", "sonicpi", "CC0-1.0 (freesound.org, sonic-pi-samples)",
                        rest))
    return finish(cache, "samples_sonicpi", rows, {
        "source": "Debian sonic-pi-samples, files referenced in place",
        "labels": "file-name prefix, refined by words and overrides: see sonicpi_label() in "
                  "benchmarks/sample_sets.py", "skipped": skipped}, t0)


# --------------------------------------------------------------------------- Black Pearl

def camel_words(name: str) -> str:
    """'36-Pearl22FloorTom-3' -> 'pearl 22 floor tom' (note prefix and layer suffix dropped)."""
    core = re.sub(r"^\d+-", "", name)
    core = re.sub(r"-\d+$", "", core)
    core = re.sub(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[0-9])(?=[A-Za-z])", " ", core)
    return core.replace("-", " ").lower().strip()


def black_pearl_labels(names: list[str]) -> dict[str, tuple[str, str]]:
    """Sample name -> (label, subtype) for the Black Pearl sf2's "NN-Name-L" samples.

    The sf2 truncates names to 20 characters ("57-SabianAAX17Cras-1"), so every sample of a
    note takes the label of that note's longest name ("57-SabianAAX17Crash-")."""
    by_note: dict[str, str] = {}
    for n in names:
        note = n.split("-", 1)[0]
        if len(camel_words(n)) > len(camel_words(by_note.get(note, ""))):
            by_note[note] = n
    out = {}
    for n in names:
        words = camel_words(by_note[n.split("-", 1)[0]])
        label = "cymbal" if "paiste 2002" in words else ds.classify_drum_name(words)  # note 60: a Paiste 2002 22"
        if label:
            out[n] = (label, words)
    return out


def build_samples_blackpearl(cache: Path, **_) -> list[dict]:
    t0 = time.time()
    if not BLACK_PEARL_SF2.exists():
        raise SystemExit("AVL Black Pearl kit missing: apt-get install avldrums.lv2-soundfont")
    sf2 = SoundFont(BLACK_PEARL_SF2)
    labels = black_pearl_labels([s.name for s in sf2.samples])
    out_dir = cache / "samples_blackpearl" / "audio"
    rows = []
    for s in sf2.samples:
        if s.name not in labels:
            continue
        path = out_dir / f"{s.index:03d}_{re.sub(r'[^A-Za-z0-9_-]', '_', s.name)}.wav"
        if not path.exists():
            ds.write_wav(path, sf2.audio(s), s.rate)
        rows.append(row(path, labels[s.name][0], "blackpearl:avl4pc", "blackpearl",
                        "CC-BY-SA (sf2 ICOP; avldrums.lv2-soundfont, GPL-2+ package)",
                        labels[s.name][1], sample_name=s.name, gm_note=int(s.name.split("-")[0])))
    return finish(cache, "samples_blackpearl", rows, {
        "source": "AVL Black Pearl 4pc sf2: every sample (velocity layer) extracted from the "
                  "sf2 as recorded; label from the sample name",
        "shares_audio_with": "Hydrogen 'The Black Pearl 1.0', 'GMRockKit' and 'Gimme A Hand 1.0' "
                             "(same source group)",
        "unlabelled": [s.name for s in sf2.samples if s.name not in labels]}, t0)


# --------------------------------------------------------------------------- GM tables

def gm_program_label(program: int) -> tuple[str, str] | None:
    """General-MIDI program -> (label, subtype), None if the class is ambiguous. Bass 32-39, vocal 52-54, fx 96-103 / 119-127 (incl. reverse cymbal), tom-like 116-118,
    perc 112/113/115; every other pitched instrument is a melodic one-shot: ``synth``
    (keys, mallets, organ, guitar, strings, brass, winds, leads, pads, ethnic)."""
    families = ((0, "keys"), (8, "mallet"), (16, "organ"), (24, "guitar"), (32, "bass"),
                (40, "strings"), (48, "ensemble"), (56, "brass"), (64, "reed"), (72, "pipe"),
                (80, "lead"), (88, "pad"), (96, "synth fx"), (104, "ethnic"), (112, "percussive"),
                (120, "sound fx"))
    family = [f for lo, f in families if program >= lo][-1]
    if 32 <= program <= 39:
        return "bass", family
    if program in (52, 53, 54):
        return "vocal", "choir" if program != 54 else "synth voice"
    if 96 <= program <= 103 or 119 <= program <= 127:
        return "fx", family if program != 119 else "reverse cymbal"
    if program in (116, 117, 118):
        return "tom", ("taiko", "melodic tom", "synth drum")[program - 116]
    if program in (112, 113, 115):
        return "perc", ("tinkle bell", "agogo", "", "woodblock")[program - 112]
    if program in (47, 43):     # timpani (a tuned drum), contrabass (bowed bass): ambiguous
        return None
    return "synth", family


def gm_drum_note_label(note: int) -> tuple[str, str] | None:
    """GM drum map (as datasets.gm_drum_label) plus the GS extension notes 26-34 and 82-87."""
    gs = {26: ("perc", "finger snap"), 27: ("perc", "high q"), 28: ("perc", "slap"), 29: ("fx", "scratch push"),
          30: ("fx", "scratch pull"), 31: ("perc", "sticks"), 32: ("perc", "square click"),
          33: ("perc", "metronome click"), 34: ("perc", "metronome bell"), 82: ("perc", "shaker"),
          83: ("perc", "jingle bell"), 84: ("perc", "bell tree"), 85: ("perc", "castanets"),
          86: ("perc", "mute surdo"), 87: ("perc", "open surdo")}
    if note in gs:
        return gs[note]
    if 35 <= note <= 81:
        return ds.gm_drum_label(note), GM_DRUM_NAMES[note - 35]
    return None


GM_DRUM_NAMES = (
    "acoustic bass drum", "bass drum", "side stick", "acoustic snare", "hand clap", "electric snare",
    "low floor tom", "closed hihat", "high floor tom", "pedal hihat", "low tom", "open hihat",
    "low-mid tom", "hi-mid tom", "crash 1", "high tom", "ride 1", "chinese cymbal", "ride bell",
    "tambourine", "splash", "cowbell", "crash 2", "vibraslap", "ride 2", "hi bongo", "low bongo",
    "mute hi conga", "open hi conga", "low conga", "high timbale", "low timbale", "high agogo",
    "low agogo", "cabasa", "maracas", "short whistle", "long whistle", "short guiro", "long guiro",
    "claves", "hi wood block", "low wood block", "mute cuica", "open cuica", "mute triangle",
    "open triangle")

# Pitches (MIDI notes) per melodic label: basses low, leads/pads mid, a spread for the rest.
MELODIC_PITCHES = {"bass": (28, 33, 40, 45), "synth": (48, 60, 72), "vocal": (52, 59, 64, 71),
                   "fx": (48, 60, 72), "tom": (45, 55), "perc": (60, 72)}
SYNTH_PROPER_PITCHES = (43, 50, 55, 60, 67, 72)   # programs 80-95 (leads, pads) get more notes
HOLDS = (0.25, 0.8, 1.6)                          # seconds held: plucks, notes, held notes


def seeded_choice(options: tuple, *key) -> object:
    """A deterministic pick that depends only on ``key`` (not on build order)."""
    h = int(hashlib.sha1(repr(key).encode()).hexdigest()[:8], 16)
    return options[h % len(options)]


# --------------------------------------------------------------------------- sound-font rendering

@dataclass
class Note:
    """One note to render and the manifest row it becomes."""
    bank: int
    program: int
    key: int
    velocity: int
    hold: float
    drum: bool
    path: Path
    row: dict


def _render_notes(notes: list[Note], soundfont: Path, gap: float, renderer=None) -> None:
    """Render notes that are not on disk yet, one synth run per batch, and slice them out.

    Each note starts ``gap`` seconds after the previous one; an All Sound Off just before the
    next onset cuts the previous tail, so a ringing cymbal never leaks into the next slice."""
    todo = [n for n in notes if not ds._done(n.path)]
    for i in range(0, len(todo), 64):
        batch = todo[i:i + 64]
        ev: list[tuple[float, bytes]] = []
        onsets = []
        for j, n in enumerate(batch):
            t = 0.5 + j * gap
            ch = 9 if n.drum else 0
            ev.append((t - 0.1, bytes([0xB0 | ch, 120, 0])))       # all sound off
            ev.append((t - 0.09, bytes([0xB0 | ch, 0, n.bank & 0x7F])))  # bank select (drums: 128 -> 0)
            ev.append((t - 0.08, bytes([0xC0 | ch, n.program])))
            ev.append((t, bytes([0x90 | ch, n.key, n.velocity])))
            ev.append((t + n.hold, bytes([0x80 | ch, n.key, 0])))
            onsets.append(t)
        y = (renderer or ds.render_midi)(ev, soundfont)
        for n, seg in zip(batch, ds._slice_render(y, onsets, gap - 0.12)):
            ds._save_or_mark(n.path, seg)


def _signature(sf2: SoundFont, bank: int, program: int, key: int, velocity: int) -> tuple[str, ...]:
    """The recordings a note plays (stereo halves merged), to skip notes already rendered."""
    preset = sf2.preset(bank, program)
    if preset is None:
        return ()
    names = {re.sub(r"\s*\((L|R)\)$|[-_ ]?[LR]$", "", s.name) for s in sf2.sounding_samples(preset, key, velocity)}
    return tuple(sorted(names))


NAME_NOT_CLASS = re.compile(r"bell tree|metronome|cow ?bell|rim tap", re.I)


def kit_note_label(key: int, sample_names: tuple[str, ...]) -> tuple[str, str] | None:
    """A kit note's class: the GM drum map, unless the recordings' names say another drum
    class (the GS Orchestra kit plays hi-hats on notes 27-29, the Brush kit a brush snare on
    the clap note 39); timpani (Orchestra kit notes 41-53) are skipped as ambiguous."""
    if any("timpani" in n.lower() for n in sample_names):
        return None
    lab = gm_drum_note_label(key)
    named = {ds.classify_drum_name(re.sub(r"\bsnr\b", "snare", n, flags=re.I)) for n in sample_names
             if not NAME_NOT_CLASS.search(n)}
    named &= {"kick", "snare", "hihat", "tom", "cymbal"}
    if len(named) == 1 and (lab is None or lab[0] not in named):
        return named.pop(), " / ".join(sample_names).lower()
    return lab


def kit_id(font: str, preset) -> str:
    """'FluidR3_GM:standard_3' for a sound font's kit preset."""
    return f"{font}:" + (re.sub(r"[^a-z0-9]+", "_", preset.name.lower()).strip("_") or f"kit{preset.program}")


# MuseScore marching kits and metronome follow their own note maps, not the GM drum map.
NON_GM_KITS = {(128, p) for p in (55, 56, 57, 58, 59, 95, 96)}


def font_notes(font: str, sf2: SoundFont, source: str, licence: str, out_dir: Path,
               seen: dict[tuple, str]) -> list[Note]:
    """Every distinct drum recording of every kit (bank 128) and a spread of melodic notes.

    A note is kept only if the recordings it plays (plus the pitch for melodic notes) were
    not already kept for this source: GM kit variants (Standard 1-7, Room 1-7, ...) re-use
    most samples, and MuseScore_General re-uses FluidR3's. ``seen`` maps each kept
    recording set to the kit that holds it."""
    notes = []
    kits = sorted((p for p in sf2.presets if p.bank == 128 and (p.bank, p.program) not in NON_GM_KITS),
                  key=lambda p: p.program)
    for kit in kits:
        sfx_kit = kit.program == 56 and font == "FluidR3_GS"
        kit_name = kit_id(font, kit)
        for key in range(27, 88):
            for velocity in (50, 110):
                sig = _signature(sf2, 128, kit.program, key, velocity)
                if not sig or ("drum", sig) in seen:
                    continue
                lab = ("fx", "gs sfx kit") if sfx_kit else kit_note_label(key, sig)
                if lab is None:
                    continue
                path = out_dir / font / f"drum_{kit.program:03d}_{kit_name.split(':')[1]}_{key}_v{velocity}.wav"
                kit_row = f"{font}:sfx" if sfx_kit else kit_name
                seen[("drum", sig)] = kit_row
                notes.append(Note(128, kit.program, key, velocity, 0.5, True, path,
                                  row(path, lab[0], kit_row, source, licence, lab[1], font=font,
                                      bank=128, gm_program=kit.program, gm_note=key, velocity=velocity)))
    # banks 0-16: the GM programs and their GS variations (MuseScore's banks 17+ are
    # expression-controlled copies and orchestral articulations)
    for preset in sorted((p for p in sf2.presets if p.bank <= 16), key=lambda p: (p.program, p.bank)):
        lab = gm_program_label(preset.program)
        if font == "FluidR3_GS":    # the GS file holds only sound effects (banks 1-8)
            lab = ("vocal", "human voice") if preset.name in ("Laughs", "Screaming") else ("fx", "gs sfx")
        if lab is None:
            continue
        pitches = SYNTH_PROPER_PITCHES if 80 <= preset.program <= 95 else MELODIC_PITCHES[lab[0]]
        for key in pitches:
            sig = _signature(sf2, preset.bank, preset.program, key, 100)
            if not sig or ("tone", sig, key) in seen:
                continue
            seen[("tone", sig, key)] = f"{source}:p{preset.program:03d}"
            hold = seeded_choice(HOLDS, font, preset.bank, preset.program, key)
            name = re.sub(r"[^a-z0-9]+", "_", preset.name.lower()).strip("_")
            path = out_dir / font / f"p{preset.program:03d}_b{preset.bank}_{name}_n{key}.wav"
            notes.append(Note(preset.bank, preset.program, key, 100, hold, False, path,
                              row(path, lab[0], f"{source}:p{preset.program:03d}", source, licence,
                                  f"{lab[1]}: {preset.name}", font=font, bank=preset.bank,
                                  gm_program=preset.program, gm_note=key, hold=hold)))
    return notes


# --------------------------------------------------------------------------- drum loops

# GM notes a loop lane may be played on (one choice per loop).
LOOP_LANES = {"kick": (36, 35), "snare": (38, 40, 39), "hat": (42, 44), "open": (46,),
              "perc": (56, 75, 76, 63, 62, 64, 70, 54, 37, 69)}
LOOP_INFO = ("drum loops: the 10 style patterns of djml.models.drumsynth.STYLES on GM notes "
             "(LOOP_LANES), 1/2/4 bars at a BPM from the style's range, swing and ghost notes, "
             "cut to exactly bars x 4 beats; kit = the kit whose recordings they play (merged "
             "with the kits of those one-shots)")


@dataclass
class Loop:
    program: int
    events: list[tuple[float, int, int]]      # (seconds from the loop start, GM note, velocity)
    length: float
    path: Path
    row: dict
    signatures: list[tuple[str, ...]]


def loop_pattern(rng: np.random.Generator) -> tuple[list[tuple[float, int, int]], float, int, str]:
    """(events, bpm, bars, style) of one drum loop on GM notes."""
    from djml.models.drumsynth import STYLES

    style = str(rng.choice(sorted(STYLES)))
    (lo, hi), *lanes = STYLES[style]
    bpm = float(rng.integers(lo, hi + 1))
    bars = int(rng.choice([1, 2, 2, 4]))
    step = 60.0 / bpm / 4
    swing = float(rng.uniform(0, 0.12)) if rng.random() < 0.4 else 0.0
    events = []
    for lane, pattern in zip(("kick", "snare", "hat", "open", "perc"), lanes):
        note = int(rng.choice(LOOP_LANES[lane]))
        for b in range(bars):
            for i, ch in enumerate(pattern):
                ghost = ch != "x" and lane in ("hat", "perc", "snare") and rng.random() < 0.06
                if ch == "x" or ghost:
                    vel = int(rng.integers(85, 128) if ch == "x" else rng.integers(30, 60))
                    events.append((((b * 16 + i) + (swing if i % 2 else 0.0)) * step, note, vel))
    return events, bpm, bars, style


def font_loops(font: str, sf2: SoundFont | None, source: str, licence: str, out_dir: Path,
               kits: tuple[tuple[int, str, int], ...]) -> list[Loop]:
    """Drum loops on each (kit program, kit id, number of loops)."""
    loops = []
    for program, kit, count in kits:
        for i in range(count):
            rng = np.random.default_rng([zlib.crc32(font.encode()), program, i])
            events, bpm, bars, style = loop_pattern(rng)
            path = out_dir / font / f"loop_{program:03d}_{i:02d}_{style}_{int(bpm)}bpm_{bars}bar.wav"
            sigs = sorted({_signature(sf2, 128, program, note, vel) for _, note, vel in events}) if sf2 else []
            loops.append(Loop(program, events, bars * 4 * 60.0 / bpm, path,
                              row(path, "loop", kit, source, licence, style, font=font, bank=128,
                                  gm_program=program, bpm=bpm, bars=bars), sigs))
    return loops


def _render_loops(loops: list[Loop], soundfont: Path, renderer=None) -> None:
    """Render loops not on disk yet, one synth run for all, each cut to its exact length."""
    todo = [lp for lp in loops if not lp.path.exists()]
    if not todo:
        return
    ev, starts, t = [], [], 0.5
    for lp in todo:
        ev += [(t - 0.1, bytes([0xB9, 120, 0])), (t - 0.08, bytes([0xC9, lp.program]))]
        for et, note, vel in lp.events:
            ev += [(t + et, bytes([0x99, note, vel])), (t + et + 0.1, bytes([0x89, note, 0]))]
        starts.append(t)
        t += lp.length + 2.0
    y = (renderer or ds.render_midi)(ev, soundfont)
    for lp, st in zip(todo, starts):
        seg = y[int(round(st * SR)): int(round(st * SR)) + int(round(lp.length * SR))]
        if seg.size and np.abs(seg).max() > 1e-4:
            fade = int(0.003 * SR)
            seg = seg.copy()
            seg[-fade:] *= np.linspace(1, 0, fade)
            ds.write_wav(lp.path, ds.normalise(seg))


def _build_font_set(cache: Path, name: str, source: str, fonts: list[tuple[str, Path, str, dict[int, int]]],
                    limit: int | None) -> tuple[list[dict], list[tuple[str, str]], float]:
    """Render every font's notes and drum loops (``loop_kits``: kit program -> number of
    loops played on it); returns rows, the (loop kit, one-shot kit) pairs that share recordings,
    and the start time."""
    t0 = time.time()
    out_dir = cache / name / "audio"
    rows, seen, links = [], {}, []
    for font, path, licence, loop_kits in fonts:
        if not path.exists():
            ds.log(f"{name}: {path} missing, skipped")
            continue
        if path.resolve() == HELD_BACK.resolve():
            raise SystemExit(f"{HELD_BACK.name} is held back by the maintainers and must never be used")
        sf2 = SoundFont(path)
        notes = font_notes(font, sf2, source, licence, out_dir, seen)
        if limit:
            notes = notes[::max(1, len(notes) // limit)][:limit]
        ds.log(f"{name}: {font}: {len(notes)} notes ({sum(not ds._done(n.path) for n in notes)} to render)")
        _render_notes([n for n in notes if n.drum], path, gap=3.0)
        _render_notes([n for n in notes if not n.drum], path, gap=3.5)
        rows += [n.row for n in notes if n.path.exists()]
        kits = {p.program: kit_id(font, p) for p in sf2.presets if p.bank == 128}
        loops = font_loops(font, sf2, source, licence, out_dir,
                           tuple((prog, kits[prog], n) for prog, n in loop_kits.items()))
        links += [(loop.row["kit"], seen[("drum", sig)]) for loop in loops
                  for sig in loop.signatures if ("drum", sig) in seen]
        _render_loops(loops, path)
        rows += [loop.row for loop in loops if loop.path.exists()]
    return rows, links, t0


def build_samples_fluid(cache: Path, limit: int | None = None, **_) -> list[dict]:
    """FluidR3_GM, FluidR3_GS (sound effects) and MuseScore_General_Full (FluidR3-based: only
    its own recordings are rendered). MuseScore_General_Lite holds the same recordings as Full
    at a lower bit rate and is not rendered again."""
    lic = {"FluidR3_GM": "MIT (fluid-soundfont-gm)", "FluidR3_GS": "MIT (fluid-soundfont-gs)",
           "MuseScore_General_Full": "MIT, parts CC0/PD (musescore-general-soundfont)"}
    loop_kits = {"FluidR3_GM": dict.fromkeys((0, 8, 16, 24, 25, 32, 40), 8), "FluidR3_GS": {},
                 "MuseScore_General_Full": {}}
    rows, links, t0 = _build_font_set(cache, "samples_fluid", "fluid",
                                      [(f, p, lic[f], loop_kits[f]) for f, p in FLUID_FONTS], limit)
    return finish(cache, "samples_fluid", rows, {
        "source": "General-MIDI sound fonts sharing Fluid R3 recordings, rendered with fluidsynth",
        "dedup": "a note is rendered only if the recordings it plays (sf2 sample names, stereo "
                 "halves merged; plus pitch for melodic notes) were not rendered before",
        "drum_map": "GM map (53 ride bell -> cymbal), GS notes 27-34 / 82-87; see "
                    "gm_drum_note_label()", "melodic": "see gm_program_label()",
        "loops": LOOP_INFO}, t0, links=links)


def build_samples_opl3(cache: Path, limit: int | None = None, **_) -> list[dict]:
    font, path = OPL3_FONT
    rows, links, t0 = _build_font_set(cache, "samples_opl3", "opl3",
                                      [(font, path, "CC-BY-SA-4.0 (opl3-soundfont)", {0: 24})], limit)
    return finish(cache, "samples_opl3", rows, {
        "source": "OPL-3 FM sound font (Yamaha YMF262 patches as samples), rendered with fluidsynth",
        "drum_map": "GM map, as samples_fluid", "melodic": "see gm_program_label()",
        "loops": LOOP_INFO}, t0, links=links)


# --------------------------------------------------------------------------- FreePats

def freepats_drum_label(number: int) -> tuple[str, str] | None:
    """GM drum-map number of a FreePats drum patch -> label (25, a snare roll, is skipped)."""
    return None if number == 25 else gm_drum_note_label(number)


def render_timidity(events: list[tuple[float, bytes]], config: Path) -> np.ndarray:
    """MIDI events rendered by timidity with ``config`` (reverb and chorus off), mono at SR."""
    if not shutil.which("timidity"):
        raise SystemExit("timidity missing: apt-get install timidity freepats")
    with tempfile.TemporaryDirectory() as td:
        mid, wav = Path(td) / "render.mid", Path(td) / "render.wav"
        ds.write_midi(mid, events)
        subprocess.run(["nice", "-n", "10", "timidity", "-c", str(config), "-Ow", "--output-mono",
                        "-s", str(SR), "-EFreverb=d", "-EFchorus=d", "--preserve-silence", "-o", str(wav), str(mid)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return ds.load_mono(wav)


# FreePats programs whose recordings are FluidR3's (found by benchmarks/shared_audio.py)
FREEPATS_SHARED_WITH_FLUID = {46}     # harp


def build_samples_freepats(cache: Path, limit: int | None = None, **_) -> list[dict]:
    """Drum patches: the recording in each patch, as is. Melodic patches: notes rendered by
    timidity with the FreePats configuration (their samples are short loops)."""
    t0 = time.time()
    if not FREEPATS_DIR.is_dir():
        raise SystemExit("FreePats missing: apt-get install freepats timidity")
    licence = "GPL-2+ with composition exception (freepats)"
    out_dir = cache / "samples_freepats" / "audio"
    rows, bad = [], []
    for p in sorted((FREEPATS_DIR / "Drum_000").glob("*.pat")):
        lab = freepats_drum_label(int(p.name[:3]))
        if lab is None:
            continue
        try:
            patch = read_patch(p)
        except PatchError as e:
            bad.append(str(e))
            continue
        note_txt = p.with_suffix(".txt")
        for i, s in enumerate(patch.samples):
            path = out_dir / f"drum_{p.stem}_{i}.wav"
            if not path.exists():
                ds.write_wav(path, s.audio, s.rate)
            rows.append(row(path, lab[0], "freepats:drums", "freepats",
                            licence + ("; see " + note_txt.name if note_txt.exists() else ""),
                            lab[1], patch=p.name, gm_note=int(p.name[:3])))
    notes = []
    for p in sorted((FREEPATS_DIR / "Tone_000").glob("*.pat")):
        program = int(p.name[:3])
        lab = gm_program_label(program)
        if lab is None or program in FREEPATS_SHARED_WITH_FLUID:
            continue
        pitches = SYNTH_PROPER_PITCHES if 80 <= program <= 95 else MELODIC_PITCHES[lab[0]]
        for key in pitches:
            hold = seeded_choice(HOLDS, "freepats", program, key)
            path = out_dir / f"{p.stem}_n{key}.wav"
            notes.append(Note(0, program, key, 100, hold, False, path,
                              row(path, lab[0], f"freepats:p{program:03d}", "freepats", licence,
                                  f"{lab[1]}: {p.stem[4:].replace('_', ' ')}", patch=p.name,
                                  gm_program=program, gm_note=key, hold=hold)))
    if limit:
        notes = notes[::max(1, len(notes) // limit)][:limit]
    _render_notes(notes, FREEPATS_CFG, gap=3.5, renderer=render_timidity)
    rows += [n.row for n in notes if n.path.exists()]
    loops = font_loops("freepats", None, "freepats", licence, out_dir, ((0, "freepats:drums", 24),))
    _render_loops(loops, FREEPATS_CFG, renderer=render_timidity)
    rows += [loop.row for loop in loops if loop.path.exists()]
    return finish(cache, "samples_freepats", rows, {
        "source": "Debian freepats: Drum_000 patches extracted as recorded (GUS patch reader "
                  "benchmarks/gus_patch.py), Tone_000 rendered by timidity -c freepats.cfg",
        "loops": LOOP_INFO + " (rendered by timidity)",
        "unreadable": bad}, t0)


# --------------------------------------------------------------------------- synthesised family

# Sounds per class; each class's count is spread evenly over its families (seeds 0..n-1).
SYNTH_COUNTS = {"kick": 200, "snare": 200, "hihat": 180, "clap": 150, "tom": 120, "cymbal": 150,
                "perc": 210, "bass": 210, "synth": 240, "vocal": 200, "fx": 225, "loop": 150}


def synth_plan(counts: dict[str, int] = SYNTH_COUNTS) -> list[tuple[str, int]]:
    """(family, seed) of every sound of the set, in a fixed order."""
    from djml.models import drumsynth

    plan = []
    for label, total in counts.items():
        fams = [f for f, fam in drumsynth.FAMILIES.items() if fam.label == label]
        per = -(-total // len(fams))
        plan += [(f, seed) for f in fams for seed in range(per)]
    return plan


def build_samples_synth(cache: Path, limit: int | None = None, **_) -> list[dict]:
    """The training synthesiser's families (djml.models.drumsynth), one kit per family."""
    from djml.models import drumsynth

    t0 = time.time()
    set_dir = cache / "samples_synth"
    out_dir = set_dir / "audio" / f"v{drumsynth.VERSION}"
    for old in (set_dir / "audio").glob("v*"):        # sounds of an older generator version
        if old != out_dir and old.is_dir():
            shutil.rmtree(old)
    plan = synth_plan()
    if limit:
        plan = plan[::max(1, len(plan) // limit)][:limit]
    rows, made = [], 0
    for i, (family, seed) in enumerate(plan):
        path = out_dir / family / f"{family}_{seed:03d}.wav"
        meta_path = path.with_suffix(".json")
        if not (path.exists() and meta_path.exists()):
            y, meta = drumsynth.generate(family, seed)
            ds.write_wav(path, y, drumsynth.SR)
            meta_path.write_text(json.dumps(meta))
            made += 1
        meta = json.loads(meta_path.read_text())
        extra = {k: meta[k] for k in ("bpm", "bars", "midi") if k in meta}
        rows.append(row(path, meta["label"], f"synth:{family}", "synth",
                        "generated by djml.models.drumsynth (no third-party audio)",
                        meta.get("subtype", ""), family=family, seed=seed, generator_version=drumsynth.VERSION,
                        **extra))
        if (i + 1) % 250 == 0:
            ds.log(f"samples_synth: {i + 1}/{len(plan)} ({made} new, {time.time() - t0:.0f}s)")
    return finish(cache, "samples_synth", rows, {
        "source": "djml.models.drumsynth: numpy drum-machine / FM / subtractive / formant / fx "
                  "voices with random parameters, deterministic per (family, seed)",
        "generator_version": drumsynth.VERSION, "families": sorted({f for f, _ in plan})}, t0,
        merge_kits=False)   # every sound is drawn afresh: nothing is shared


# Every set the sample classifier trains on (the new ones and datasets.py's own).
SAMPLE_SETS = ("samples_hydrogen", "samples_blackpearl", "samples_sonicpi", "samples_freepats",
               "samples_fluid", "samples_opl3", "samples_fx", "samples_synth")


def main(argv: list[str] | None = None) -> int:
    """``datasets.py``'s command line, defaulting to the sample sets."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a in ds.BUILDERS for a in argv):
        argv = [*SAMPLE_SETS, *argv]
    return ds.main(argv)


if __name__ == "__main__":
    sys.exit(main())
