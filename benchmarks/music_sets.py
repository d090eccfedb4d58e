#!/usr/bin/env python3
"""The cross-source benchmark of real compositions: music written by people, with its truth
taken from the files' own tempo / time-signature / key meta events, rendered so it sounds
less like a clean render. Built on demand from installed packages into
``<cache>/music_xsource/`` (``$DJML_BENCH_CACHE`` else ``~/.cache/djml/bench``); nothing is
committed. Rules and counts: benchmarks/README.md, "music_xsource".

Sources (one leave-one-source-out fold each):

* ``freedoom``      the ``D_*`` MIDI lumps of freedoom1.wad / freedoom2.wad
* ``simutrans``     /usr/share/games/simutrans/music/*.mid
* ``freedink``      /usr/share/games/dink/dink/Sound/*.mid
* ``blupi``         /usr/share/planetblupi/music/*.mid (long: several sections per piece)
* ``pianobooster``  /usr/share/doc/pianobooster/courses/**/*.mid[.gz]
* ``hydrogen``      Hydrogen demo songs rendered by ``h2cli``, truth from ``<bpm>``
* ``sonicpi``       Sonic Pi ``loop_*.flac``: whole bars, tempo from the loop length
* ``music21_abc``   music21 ABC tunes with a ``Q:`` tempo mark (none of ``key_music21``'s)
* ``beats``         the ``tempo_key_beats`` set of benchmarks/datasets.py
* ``music21_key``   the ``key_music21`` set (labels that passed the score checks; key only)

Each MIDI section is rendered with two of three sound fonts (FluidR3_GM, MuseScore_General,
OPL-3 FM), each render with its own seeded light processing (EQ tilt,
compression, noise floor, lossy encode). ``piece_id`` keeps every clip of one piece together.

    python benchmarks/music_sets.py                      # build everything (idempotent)
    python benchmarks/music_sets.py --sources freedoom,hydrogen --limit 3

Other code reads the rows with ``load_manifest(sources=None)``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from benchmarks.music_truth import (  # noqa: E402
    BeatLevel,
    Span,
    bar_ticks,
    beat_level,
    bpm_at_beat_level,
    clock_tempo,
    constant_spans,
    key_check,
    key_name,
    pitch_class_time,
    signature_key,
)
from benchmarks.smf import DRUM_CHANNEL, Smf, SmfError, encode_smf, parse_smf, read_wad_lumps  # noqa: E402

SET_NAME = "music_xsource"
SR = 44100
SEED = 21
# name -> path. FluidR3_GS.sf2 is left out: it holds only the GS variation banks (bank 0
# renders silent without FluidR3_GM under it). Red_Zeppelin_4_LV2 is held back: never used.
SOUNDFONTS = {
    "FluidR3_GM": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "MuseScore_General": Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    "OPL3_FM": Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2"),
}
MIDI_SOURCES = {
    "freedoom": ("wad", [Path("/usr/share/games/doom/freedoom1.wad"),
                         Path("/usr/share/games/doom/freedoom2.wad")]),
    "simutrans": ("glob", [Path("/usr/share/games/simutrans/music"), "*.mid"]),
    "freedink": ("glob", [Path("/usr/share/games/dink/dink/Sound"), "*.mid"]),
    "blupi": ("glob", [Path("/usr/share/planetblupi/music"), "*.mid"]),
    "pianobooster": ("glob", [Path("/usr/share/doc/pianobooster/courses"), "**/*.mid*"]),
}
HYDROGEN_SONGS = Path("/usr/share/hydrogen/data/demo_songs")
SONIC_PI_SAMPLES = Path("/usr/share/sonic-pi/samples")
ALL_SOURCES = (*MIDI_SOURCES, "hydrogen", "sonicpi", "music21_abc", "beats", "music21_key")
LONG_CLIP_S = (30.0, 60.0)
SHORT_CLIP_S = (2.0, 30.0)
SHORT_CLIP_SHARE = 0.35          # pieces that also give a short clip
MAX_LONG_CLIPS = {"blupi": 4}    # long pieces are cut into several sections; others 1
RENDERS_PER_LONG_CLIP = 2        # sound fonts per long clip (short clips: 1)
MIN_BPM, MAX_BPM = 40.0, 250.0   # a notated beat outside this is not a tempo anyone plays
GAP_S = 3.0                      # silence between sections in one batched render
BATCH = 16                       # sections per fluidsynth run (the sound font loads once)


def default_cache() -> Path:
    return Path(os.environ.get("DJML_BENCH_CACHE") or Path.home() / ".cache" / "djml" / "bench")


def set_dir(cache: Path | None = None) -> Path:
    return (Path(cache) if cache else default_cache()) / SET_NAME


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the pieces

@dataclass
class Piece:
    source: str
    piece_id: str
    origin: str      # where it came from (file, or wad:lump)
    smf: Smf


def midi_pieces(source: str, where_override: tuple | None = None) -> list[Piece]:
    """Every parsable MIDI piece of one installed source, in a stable order."""
    kind, where = where_override or MIDI_SOURCES[source]
    blobs: list[tuple[str, str, bytes]] = []
    if kind == "wad":
        for wad in where:
            if not wad.exists():
                continue
            for name, data in read_wad_lumps(wad.read_bytes()):
                if name.startswith("D_") and data[:4] == b"MThd":
                    blobs.append((f"{wad.stem}_{name}", f"{wad}:{name}", data))
    else:
        root, pattern = where
        for f in sorted(root.glob(pattern)) if root.exists() else []:
            data = f.read_bytes()
            if f.suffix == ".gz":
                data = gzip.decompress(data)
            stem = re.sub(r"\.mid$", "", f.name.removesuffix(".gz"), flags=re.I)
            rel = f.parent.name if source == "pianobooster" else ""
            blobs.append((f"{rel}_{stem}" if rel else stem, str(f), data))
    pieces, seen = [], set()
    for pid, origin, data in blobs:
        if data in seen:   # the same MIDI shipped twice (pianobooster's two Clair de Lune)
            continue
        seen.add(data)
        try:
            smf = parse_smf(data)
        except SmfError as e:
            log(f"{source}: skip {origin}: {e}")
            continue
        pieces.append(Piece(source, f"{source}:{_slug(pid)}", origin, smf))
    return pieces


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


# --------------------------------------------------------------------------- clips

@dataclass
class Clip:
    """One section of a piece with a single truth; rendered once per sound font."""
    clip_id: str
    source: str
    piece_id: str
    origin: str
    start_tick: int
    end_tick: int
    start_s: float
    duration: float
    bars: int
    bpm: float | None      # None: the file's tempo is a converter's clock (clock_tempo)
    beat_level: str
    meter: str
    time_signature: str
    meter_default: bool
    key: str | None
    mode: str | None
    key_check: dict = field(default_factory=dict)
    kind: str = "long"


def _onset_bars(smf: Smf, start: int, bar: int, n_bars: int) -> int:
    """How many of ``n_bars`` bars from ``start`` contain at least one note onset."""
    hit = set()
    for n in smf.notes:
        if start <= n.start < start + bar * n_bars:
            hit.add((n.start - start) // bar)
    return len(hit)


def clip_candidates(piece: Piece, min_s: float) -> list[tuple[Span, BeatLevel, int]]:
    """(span, beat level, first bar line) of every span that can give a clip of ``min_s``:
    one tempo, a time signature with a beat level, a plausible BPM and notes."""
    out = []
    smf = piece.smf
    for span in constant_spans(smf):
        level = beat_level(*span.time_signature)
        if level is None:
            continue
        bpm = bpm_at_beat_level(span.us_per_quarter, level)
        if not MIN_BPM <= bpm <= MAX_BPM:
            continue
        onsets = [n.start for n in smf.notes if span.start <= n.start < span.end]
        if not onsets:
            continue
        bar = bar_ticks(smf.tpq, span.time_signature)
        anchor = span.time_signature_tick
        first = anchor + ((onsets[0] - anchor) // bar) * bar
        if first < span.start:
            first += bar
        if smf.seconds(span.end) - smf.seconds(first) >= min_s:
            out.append((span, level, first))
    return out


def plan_piece_clips(piece: Piece, rng: random.Random) -> list[Clip]:
    """Long clips (30–60 s, several for long pieces, spread over the piece) and, for some
    pieces, one short clip (2–30 s, a whole number of bars). Each clip spans whole bars of
    one constant span and has note onsets in at least 80 % of its bars."""
    smf = piece.smf
    clock = clock_tempo(smf)   # clips are still cut (for key and the sample sets), without a tempo
    clips: list[Clip] = []
    n_long = MAX_LONG_CLIPS.get(piece.source, 1)
    long_cands = clip_candidates(piece, LONG_CLIP_S[0])
    slots: list[tuple[Span, BeatLevel, int, float]] = []
    for span, level, first in long_cands:
        slots.append((span, level, first, smf.seconds(span.end) - smf.seconds(first)))
    total = sum(s[3] for s in slots)
    wanted_long = []
    if slots:
        # spread the long clips over the available time
        for i in range(n_long):
            pos = total * (i + 0.5) / n_long if n_long > 1 else 0.0
            wanted_long.append((pos, rng.uniform(*LONG_CLIP_S)))
    used: list[tuple[int, int]] = []

    def make(span: Span, level: BeatLevel, first: int, offset_s: float, dur: float,
             kind: str) -> Clip | None:
        bar = bar_ticks(smf.tpq, span.time_signature)
        bar_s = smf.seconds(first + bar) - smf.seconds(first)
        start = first + int(offset_s // bar_s) * bar
        n_bars = max(1, int(round(dur / bar_s)))
        while n_bars > 1 and start + n_bars * bar > span.end:
            n_bars -= 1
        end = start + n_bars * bar
        if end > span.end or any(a < end and start < b for a, b in used):
            return None
        length = smf.seconds(end) - smf.seconds(start)
        lo = SHORT_CLIP_S[0] if kind == "short" else LONG_CLIP_S[0] * 0.9
        hi = SHORT_CLIP_S[1] if kind == "short" else LONG_CLIP_S[1] + bar_s
        if not lo <= length <= hi:
            return None
        if _onset_bars(smf, start, bar, n_bars) < 0.8 * n_bars:
            return None
        key = mode = None
        check: dict = {}
        if span.key_signature is not None:
            tonic, mode_ = signature_key(*span.key_signature)
            kc = key_check(pitch_class_time(smf, start, end), tonic, mode_)
            check = {"signature": f"{key_name(tonic)} {mode_}", **asdict(kc)}
            if kc.ok:
                key, mode = key_name(tonic), mode_
        used.append((start, end))
        num, den = span.time_signature
        idx = len(clips)
        return Clip(f"{piece.piece_id.replace(':', '_')}_{kind[0]}{idx}", piece.source,
                    piece.piece_id, piece.origin, start, end, round(smf.seconds(start), 4),
                    round(length, 4), n_bars,
                    None if clock else round(bpm_at_beat_level(span.us_per_quarter, level), 3), level.name,
                    level.meter, f"{num}/{den}", span.meter_default, key, mode, check, kind)

    for pos, dur in wanted_long:
        acc = 0.0
        for span, level, first, avail in slots:
            if pos < acc + avail or (span, level, first, avail) == slots[-1]:
                off = min(max(0.0, pos - acc), max(0.0, avail - dur))
                c = make(span, level, first, off, dur, "long")
                if c is None:  # not enough room here: try the span's start
                    c = make(span, level, first, 0.0, dur, "long")
                if c:
                    clips.append(c)
                break
            acc += avail
    if rng.random() < SHORT_CLIP_SHARE or not clips:
        short_cands = clip_candidates(piece, SHORT_CLIP_S[0])
        if short_cands:
            span, level, first = short_cands[rng.randrange(len(short_cands))]
            bar = bar_ticks(smf.tpq, span.time_signature)
            bar_s = smf.seconds(first + bar) - smf.seconds(first)
            n_bars = rng.choice((1, 2, 4, 8, 16))
            while n_bars > 1 and n_bars * bar_s > SHORT_CLIP_S[1]:
                n_bars //= 2
            avail_bars = int((smf.seconds(span.end) - smf.seconds(first)) // bar_s)
            for _ in range(6):
                off_bars = rng.randrange(max(1, avail_bars - n_bars + 1))
                c = make(span, level, first, off_bars * bar_s + 1e-6, n_bars * bar_s, "short")
                if c:
                    clips.append(c)
                    break
    return clips


# --------------------------------------------------------------------------- MIDI sections

RESET = [bytes([0xB0 | ch, cc, 0]) for ch in range(16) for cc in (120, 123, 121)]


def section_events(smf: Smf, start: int, end: int) -> list[tuple[int, bytes]]:
    """The channel messages of [start, end) re-timed to start at tick 0, preceded by the
    state the piece had at ``start`` (last program, controllers, pitch bend per channel),
    with every note still sounding at ``end`` released there. Notes begun before ``start``
    are left out."""
    state: dict[tuple, bytes] = {}
    out: list[tuple[int, bytes]] = []
    sounding: set[tuple[int, int]] = set()
    for tick, msg in smf.channel_events:
        kind, ch = msg[0] & 0xF0, msg[0] & 0x0F
        if tick < start:
            if kind == 0xC0:
                state[(ch, "program")] = msg
            elif kind == 0xB0 and msg[1] not in (120, 121, 123):
                state[(ch, "cc", msg[1])] = msg
            elif kind == 0xE0:
                state[(ch, "bend")] = msg
            continue
        if tick >= end:
            break
        if kind == 0x90 and msg[2] > 0:
            sounding.add((ch, msg[1]))
        elif kind == 0x80 or kind == 0x90:
            if (ch, msg[1]) not in sounding:
                continue  # the release of a note left out
            sounding.discard((ch, msg[1]))
        out.append((tick - start, msg))
    # bank select before program change, as a synthesiser expects
    pre = sorted(state.values(), key=lambda m: (m[0] & 0x0F, (m[0] & 0xF0) == 0xC0))
    tail = [(end - start, bytes([0x80 | ch, p, 0])) for ch, p in sorted(sounding)]
    return [(0, m) for m in pre] + out + tail


def batch_smf(sections: list[tuple[Smf, int, int, int]]) -> tuple[bytes, list[float]]:
    """One SMF holding several sections (smf, start, end, us per quarter) one after the
    other with GAP_S of silence and a full controller reset between them; returns the bytes
    and each section's start in seconds. Ticks are rescaled to 960 per quarter."""
    tpq = 960
    events, meta, starts = [], [], []
    seconds = 0.5                       # lead-in at the SMF default tempo
    cursor = int(round(seconds * 1e6 / 500000 * tpq))
    meta.append((0, b"\xff\x51\x03" + (500000).to_bytes(3, "big")))
    for smf, start, end, us in sections:
        events += [(cursor, m) for m in RESET]
        meta.append((cursor, b"\xff\x51\x03" + us.to_bytes(3, "big")))
        starts.append(seconds)
        scale = tpq / smf.tpq
        body = section_events(smf, start, end)
        events += [(cursor + int(round(t * scale)) + 1, m) for t, m in body]
        length_ticks = int(round((end - start) * scale)) + 1
        gap_ticks = int(round(GAP_S * 1e6 / us * tpq))
        seconds += (length_ticks + gap_ticks) * us / 1e6 / tpq
        starts[-1] += 1 * us / 1e6 / tpq   # the section's events sit one tick in
        cursor += length_ticks + gap_ticks
    events += [(cursor, m) for m in RESET]
    return encode_smf(events, tpq=tpq, meta=meta), starts


# --------------------------------------------------------------------------- processing

@dataclass
class Processing:
    tilt_db_per_octave: float
    compress_ratio: float        # 1 = off
    compress_threshold_db: float
    noise_db: float              # noise floor level (dBFS)
    gain_db: float
    codec: str                   # mp3 / ogg / wav
    bitrate: str                 # "128k", "q4", ""

    @classmethod
    def draw(cls, rng: random.Random) -> "Processing":
        codec = rng.choices(("mp3", "ogg", "wav"), weights=(0.45, 0.35, 0.2))[0]
        bitrate = {"mp3": rng.choice(("128k", "160k", "192k", "256k")),
                   "ogg": rng.choice(("q3", "q4", "q6")), "wav": ""}[codec]
        compress = rng.random() < 0.7
        return cls(round(rng.uniform(-1.5, 1.5), 2), round(rng.uniform(2.0, 4.0), 2) if compress else 1.0,
                   round(rng.uniform(-22.0, -10.0), 1), round(rng.uniform(-66.0, -42.0), 1),
                   round(rng.uniform(-6.0, -0.5), 1), codec, bitrate)

    def describe(self) -> str:
        parts = [f"tilt {self.tilt_db_per_octave:+.1f} dB/oct"]
        if self.compress_ratio > 1:
            parts.append(f"comp {self.compress_ratio:.1f}:1 @ {self.compress_threshold_db:.0f} dB")
        parts.append(f"noise {self.noise_db:.0f} dBFS")
        parts.append(f"{self.codec} {self.bitrate}".strip())
        return ", ".join(parts)


def process_audio(y, proc: Processing, rng_seed: int):
    """EQ tilt (frequency-domain, pivot 1 kHz), an RMS compressor, a noise floor and a
    peak gain, applied to a (n, channels) float array. The lossy codec is ``encode``'s."""
    import numpy as np
    from scipy import fft as sfft
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    n = y.shape[0]
    m = sfft.next_fast_len(n, real=True)   # an arbitrary clip length can cost 5x the FFT time
    spec = sfft.rfft(y, n=m, axis=0)
    f = np.maximum(sfft.rfftfreq(m, 1.0 / SR), 20.0)
    spec *= (10 ** (proc.tilt_db_per_octave * np.log2(f / 1000.0) / 20.0))[:, None]
    y = sfft.irfft(spec, n=m, axis=0)[:n]
    peak = float(np.max(np.abs(y))) or 1.0
    y /= peak
    if proc.compress_ratio > 1:
        win = int(0.05 * SR)
        power = np.mean(y ** 2, axis=1)
        c = np.concatenate([[0.0], np.cumsum(power)])
        idx = np.arange(n)
        lo, hi = np.maximum(0, idx - win // 2), np.minimum(n, idx + win // 2 + 1)
        rms_db = 10 * np.log10(np.maximum((c[hi] - c[lo]) / (hi - lo), 1e-12))
        over = np.maximum(0.0, rms_db - proc.compress_threshold_db)
        y *= (10 ** (-over * (1 - 1 / proc.compress_ratio) / 20.0))[:, None]
        y /= float(np.max(np.abs(y))) or 1.0
    rng = np.random.default_rng(rng_seed)
    noise = rng.standard_normal(y.shape, dtype=np.float32).astype(np.float64)
    # pink-ish: integrate white noise a little (one-pole low-pass) and mix
    noise = 0.5 * noise + 0.5 * np.cumsum(noise, axis=0) * 0.02
    noise -= noise.mean(axis=0)
    noise /= float(np.sqrt(np.mean(noise ** 2))) or 1.0
    y += noise * 10 ** (proc.noise_db / 20.0)
    y *= 10 ** (proc.gain_db / 20.0) / max(1.0, float(np.max(np.abs(y))))
    return y.astype(np.float32)


def encode(y, path: Path, proc: Processing) -> None:
    """Write ``y`` to ``path`` (suffix = codec) through a temporary WAV and ffmpeg; the final
    name appears only when the file is complete."""
    import soundfile as sf
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        wav = Path(td) / "in.wav"
        sf.write(str(wav), y, SR, subtype="PCM_16")
        tmp = path.with_name(path.stem + ".part" + path.suffix)
        if proc.codec == "wav":
            shutil.copyfile(wav, tmp)
        else:
            args = (["-c:a", "libmp3lame", "-b:a", proc.bitrate] if proc.codec == "mp3"
                    else ["-c:a", "libvorbis", "-q:a", proc.bitrate.lstrip("q")])
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
                            "-i", str(wav), *args, str(tmp)], check=True)
        tmp.replace(path)


# --------------------------------------------------------------------------- rendering

@dataclass
class RenderJob:
    soundfont: str
    items: list[dict]    # {"clip": Clip-as-dict, "path": str, "processing": dict, "seed": int}


def _load_piece(source: str, origin: str) -> Smf:
    if source == "freedoom":
        wad, lump = origin.rsplit(":", 1)
        data = dict(read_wad_lumps(Path(wad).read_bytes()))[lump]
    else:
        data = Path(origin).read_bytes()
        if origin.endswith(".gz"):
            data = gzip.decompress(data)
    return parse_smf(data)


def at_least_nice(level: int = 10) -> None:
    """Raise this process's niceness to ``level`` (children inherit it). Relative ``nice``
    calls stacked on an already niced parent end at 19, where a loaded machine starves the
    job; an absolute floor does not."""
    try:
        current = os.nice(0)
        if current < level:
            os.nice(level - current)
    except OSError:
        pass


def _worker_init() -> None:
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[v] = "1"
    at_least_nice()


def render_job(job: RenderJob) -> list[str]:
    """Render one batch of MIDI sections with one sound font, process and encode each.
    Items whose file appeared since the batch was planned (another build of the same cache)
    are skipped."""
    import soundfile as sf
    job = RenderJob(job.soundfont, [it for it in job.items if not Path(it["path"]).exists()])
    if not job.items:
        return []
    smfs: dict[str, Smf] = {}
    sections = []
    for it in job.items:
        c = it["clip"]
        if c["origin"] not in smfs:
            smfs[c["origin"]] = _load_piece(c["source"], c["origin"])
        smf = smfs[c["origin"]]
        us = next(us for t, us in reversed(smf.tempos) if t <= c["start_tick"])
        sections.append((smf, c["start_tick"], c["end_tick"], us))
    data, starts = batch_smf(sections)
    done = []
    with tempfile.TemporaryDirectory() as td:
        mid, wav = Path(td) / "batch.mid", Path(td) / "batch.wav"
        mid.write_bytes(data)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(SR),
                        "-F", str(wav), str(SOUNDFONTS[job.soundfont]), str(mid)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        audio, _ = sf.read(str(wav), dtype="float32", always_2d=True)
    for it, st in zip(job.items, starts):
        a = int(round(st * SR))
        seg = audio[a: a + int(round(it["clip"]["duration"] * SR))]
        if seg.size == 0 or float(abs(seg).max()) < 1e-4:
            log(f"silent render: {it['path']}")
            continue
        proc = Processing(**it["processing"])
        encode(process_audio(seg, proc, it["seed"]), Path(it["path"]), proc)
        done.append(it["path"])
    return done


def _row(clip: Clip, path: Path, soundfont: str, proc: Processing) -> dict:
    return {"path": str(path), "source": clip.source, "piece_id": clip.piece_id,
            "bpm": clip.bpm, "beat_level": clip.beat_level, "meter": clip.meter,
            "key": clip.key, "mode": clip.mode, "duration": clip.duration,
            "soundfont": soundfont, "processing": proc.describe(),
            "clip_id": clip.clip_id, "kind": clip.kind, "origin": clip.origin,
            "start_s": clip.start_s, "bars": clip.bars, "time_signature": clip.time_signature,
            "meter_default": clip.meter_default, "key_check": clip.key_check}


def plan_midi_source(source: str, out_dir: Path, limit: int | None,
                     where: tuple | None = None) -> tuple[list[dict], list[tuple[int, str, dict]]]:
    pieces = midi_pieces(source, where)
    pieces = pieces[:limit] if limit else pieces
    rows, pending = [], []
    fonts = [f for f, p in SOUNDFONTS.items() if p.exists()]
    if len(fonts) < 2:
        raise SystemExit("need two sound fonts: apt-get install fluid-soundfont-gm fluid-soundfont-gs "
                         "musescore-general-soundfont opl3-soundfont")
    for piece in pieces:
        rng = random.Random(f"{SEED}:{piece.piece_id}")
        for clip in plan_piece_clips(piece, rng):
            n = RENDERS_PER_LONG_CLIP if clip.kind == "long" else 1
            for render_pass, font in enumerate(rng.sample(fonts, n)):
                proc = Processing.draw(rng)
                seed = rng.randrange(2**31)   # drawn whether or not the file exists: the plan never depends on the cache
                path = out_dir / "audio" / source / f"{clip.clip_id}_{font}.{proc.codec}"
                rows.append(_row(clip, path, font, proc))
                if not path.exists():
                    pending.append((render_pass, font, {"clip": asdict(clip), "path": str(path),
                                                        "processing": asdict(proc), "seed": seed}))
    return rows, pending


def render_jobs_for(pending: list[tuple[int, str, dict]]) -> list[RenderJob]:
    """Batches of one sound font each, every clip's first render before any second one, so
    a build that is stopped early still covers every clip once."""
    jobs = []
    for render_pass in sorted({p for p, _, _ in pending}):
        for font in SOUNDFONTS:
            items = [it for p, f, it in pending if p == render_pass and f == font]
            for i in range(0, len(items), BATCH):
                jobs.append(RenderJob(font, items[i:i + BATCH]))
    return jobs


# --------------------------------------------------------------------------- Hydrogen songs

def hydrogen_songs() -> list[tuple[Path, float, float]]:
    """(song, bpm, swing) of every demo song; Hydrogen's <bpm> counts quarter notes and
    every demo pattern is 192 ticks (4 quarters of 48): 4/4 throughout."""
    out = []
    for f in sorted(HYDROGEN_SONGS.glob("*.h2song")) if HYDROGEN_SONGS.exists() else []:
        root = ET.parse(f).getroot()
        sizes = {p.findtext("size") for p in root.iter("pattern")}
        if sizes - {"192"} or root.find(".//BPMTimeLine/newBPM") is not None:
            log(f"hydrogen: skip {f.name}: patterns not all 4/4 or a tempo change")
            continue
        out.append((f, float(root.findtext("bpm")), float(root.findtext("swing_factor") or 0)))
    return out


def build_hydrogen(out_dir: Path, limit: int | None) -> list[dict]:
    import soundfile as sf
    rows = []
    if not shutil.which("h2cli"):
        log("hydrogen: h2cli missing (apt-get install hydrogen)")
        return rows
    for song, bpm, swing in hydrogen_songs()[:limit] if limit else hydrogen_songs():
        pid = f"hydrogen:{_slug(song.stem)}"
        rng = random.Random(f"{SEED}:{pid}")
        full = out_dir / "render" / f"{song.stem}.wav"
        if not full.exists():
            full.parent.mkdir(parents=True, exist_ok=True)
            tmp = full.with_suffix(".part.wav")
            subprocess.run(["h2cli", "-s", str(song), "-o", str(tmp)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=900)
            tmp.replace(full)
        info = sf.info(str(full))
        bar_s = 4 * 60.0 / bpm
        total_bars = int(info.duration // bar_s)
        plan = [("long", int(round(rng.uniform(*LONG_CLIP_S) / bar_s))) for _ in range(2)]
        if rng.random() < 0.6:
            plan.append(("short", rng.choice((1, 2, 4, 8))))
        for i, (kind, n_bars) in enumerate(plan):
            n_bars = min(n_bars, total_bars)
            if n_bars < 1:
                continue
            start_bar = rng.randrange(max(1, total_bars - n_bars + 1))
            proc = Processing.draw(rng)
            seed = rng.randrange(2**31)   # drawn whether or not the file exists (see plan_midi_source)
            clip = Clip(f"hydrogen_{_slug(song.stem)}_{kind[0]}{i}", "hydrogen", pid, str(song), 0, 0,
                        round(start_bar * bar_s, 4), round(n_bars * bar_s, 4), n_bars, bpm, "quarter",
                        "duple", "4/4", False, None, None, {"swing": swing},
                        "short" if n_bars * bar_s <= SHORT_CLIP_S[1] else "long")  # a short song
            path = out_dir / "audio" / "hydrogen" / f"{clip.clip_id}.{proc.codec}"
            if not path.exists():
                y, _ = sf.read(str(full), dtype="float32", always_2d=True,
                               start=int(clip.start_s * SR), frames=int(clip.duration * SR))
                encode(process_audio(y, proc, seed), path, proc)
            rows.append(_row(clip, path, "hydrogen kit", proc))
    return rows


# --------------------------------------------------------------------------- Sonic Pi loops

# Bars per loop: every Sonic Pi loop is a whole number of 4/4 bars; the count is the one
# that puts the tempo in [SONIC_PI_BPM_RANGE) (an octave, so the count is unique: the beat
# level of this source is a convention, which Accuracy2 forgives) and it is checked against
# the onsets (``bar_count_check``): the loop's onset envelope, which repeats with the loop,
# must correlate with itself at that count's beat positions (>= PULSE_MIN) better than at
# the beat positions of one bar more, one bar less, or 3/2 as many beats. Loops that fail
# (no steady pulse, or a count the onsets contradict) are left out; scores are recorded.
SONIC_PI_BPM_RANGE = (80.0, 160.0)
PULSE_MIN = 0.03


def loop_bars(duration: float, beats_per_bar: int = 4) -> int | None:
    lo, hi = SONIC_PI_BPM_RANGE
    for bars in (1, 2, 4, 8, 16, 32):
        bpm = bars * beats_per_bar * 60.0 / duration
        if lo <= bpm < hi:
            return bars
    return None


def onset_envelope(y, sr: int, hop: int = 256, nfft: int = 1024):
    """Spectral flux (log magnitude rises summed over bins), mean removed; frames per s."""
    import numpy as np
    if y.ndim > 1:
        y = y.mean(axis=1)
    if len(y) < 2 * nfft:
        return np.zeros(0), sr / hop
    frames = 1 + (len(y) - nfft) // hop
    win = np.hanning(nfft)
    mag = np.abs(np.fft.rfft(np.stack([y[i * hop:i * hop + nfft] * win for i in range(frames)]), axis=1))
    flux = np.maximum(0.0, np.diff(np.log1p(100 * mag), axis=0)).sum(axis=1)
    return flux - flux.mean(), sr / hop


def pulse_score(envelope, fps: float, duration: float, beats: float) -> float:
    """Mean circular autocorrelation (normalised) of the envelope at the lags of ``beats``
    equal beats over the loop: high when the onsets repeat at that beat period."""
    import numpy as np
    n = len(envelope)
    if n < 4 or not np.any(envelope):
        return 0.0
    spec = np.fft.rfft(envelope)
    r = np.fft.irfft(spec * np.conj(spec), n=n)
    r /= r[0]
    nb = int(round(beats))
    lags = [k * duration / nb * fps for k in range(1, nb)]
    return float(np.mean(np.interp(lags, np.arange(n), r))) if lags else 0.0


def bar_count_check(envelope, fps: float, duration: float, bars: int) -> tuple[bool, dict]:
    alts = {"bars-1": 4 * bars - 4, "bars+1": 4 * bars + 4, "x3/2": 6 * bars} if bars > 1 else \
        {"3 beats": 3, "5 beats": 5, "x3/2": 6}
    score = pulse_score(envelope, fps, duration, 4 * bars)
    alt = {k: round(pulse_score(envelope, fps, duration, v), 3) for k, v in alts.items()}
    ok = score >= PULSE_MIN and all(score > v for v in alt.values())
    return ok, {"pulse": round(score, 3), "alternatives": alt}


def build_sonicpi(out_dir: Path, limit: int | None) -> list[dict]:
    import soundfile as sf
    rows = []
    loops = sorted(SONIC_PI_SAMPLES.glob("loop_*.flac")) if SONIC_PI_SAMPLES.exists() else []
    for f in loops[:limit] if limit else loops:
        y, sr = sf.read(str(f), dtype="float32", always_2d=True)
        dur = len(y) / sr
        bars = loop_bars(dur)
        if bars is None:
            continue
        bpm = bars * 4 * 60.0 / dur
        ok, check = bar_count_check(*onset_envelope(y, sr), dur, bars)
        if not ok:
            log(f"sonicpi: skip {f.name}: {bars} bars at {bpm:.1f} BPM do not fit the onsets {check}")
            continue
        clip = Clip(f"sonicpi_{f.stem}", "sonicpi", f"sonicpi:{f.stem}", str(f), 0, 0, 0.0,
                    round(dur, 4), bars, round(bpm, 4), "quarter", "duple", "4/4", True, None, None,
                    check, "short" if dur <= SHORT_CLIP_S[1] else "long")
        row = _row(clip, f, "recording", Processing(0.0, 1.0, 0.0, -120.0, 0.0, "flac", ""))
        row["processing"] = "none (the shipped loop)"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- existing sets

def rows_from_datasets(source: str, cache: Path) -> list[dict]:
    """The ``beats`` and ``music21_key`` sources: rows of benchmarks/datasets.py's sets in
    this manifest's shape (built there if missing)."""
    from benchmarks import datasets
    if source == "beats":
        out = []
        for r in datasets.ensure("tempo_key_beats", cache):
            k = int(r["key"])
            out.append({"path": r["path"], "source": "beats", "piece_id": f"beats:{r['id'] if 'id' in r else Path(r['path']).stem}",
                        "bpm": float(r["bpm"]), "beat_level": "quarter", "meter": "duple",
                        "key": key_name(k % 12), "mode": "minor" if k >= 12 else "major",
                        "duration": 30.0, "soundfont": f"hydrogen kit {r.get('kit', '')}".strip(),
                        "processing": "none", "kind": "long", "style": r.get("style")})
        return out
    out = []
    for r in datasets.ensure("key_music21", cache):
        if not int(r["label_verified"]):
            continue   # label not confirmed by the notes (final = tonic, >= 90 % in scale)
        k = int(r["key"])
        out.append({"path": r["path"], "source": "music21_key", "piece_id": f"music21:{r['corpus_file']}:{r['abc_index']}",
                    "bpm": None, "beat_level": None, "meter": None,
                    "key": key_name(k % 12), "mode": "minor" if k >= 12 else "major",
                    "duration": None, "soundfont": r.get("soundfont"), "processing": "none",
                    "kind": "long"})
    return out


# --------------------------------------------------------------------------- manifest

def manifest_path(cache: Path | None = None) -> Path:
    return set_dir(cache) / "manifest.jsonl"


def load_manifest(sources: list[str] | tuple[str, ...] | None = None,
                  cache: Path | None = None) -> list[dict]:
    """Rows of the built benchmark (only files that exist), optionally of some sources.
    Raises FileNotFoundError with the build command when the set was never built."""
    p = manifest_path(cache)
    if not p.exists():
        raise FileNotFoundError(f"{p} missing: run python benchmarks/music_sets.py")
    rows = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    if sources is not None:
        unknown = set(sources) - set(ALL_SOURCES)
        if unknown:
            raise ValueError(f"unknown sources {sorted(unknown)}; choose from {ALL_SOURCES}")
        rows = [r for r in rows if r["source"] in set(sources)]
    return [r for r in rows if Path(r["path"]).exists()]


def write_manifest(cache: Path, rows: list[dict]) -> Path:
    """Replace the rows of the sources in ``rows``; keep the other sources' rows."""
    p = manifest_path(cache)
    p.parent.mkdir(parents=True, exist_ok=True)
    built = {r["source"] for r in rows}
    old = []
    if p.exists():
        old = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    keep = [r for r in old if r["source"] not in built]
    tmp = p.with_suffix(".part")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in keep + rows))
    tmp.replace(p)
    return p


def build(sources: list[str], cache: Path, limit: int | None = None, jobs: int = 2,
          render: bool = True) -> dict[str, int]:
    out_dir = set_dir(cache)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    all_rows: list[dict] = []
    pending: list[tuple[int, str, dict]] = []
    for source in sources:
        t0 = time.time()
        if source in MIDI_SOURCES:
            rows, todo = plan_midi_source(source, out_dir, limit)
            pending += todo
        elif source == "hydrogen":
            rows = build_hydrogen(out_dir, limit)
        elif source == "sonicpi":
            rows = build_sonicpi(out_dir, limit)
        elif source == "music21_abc":
            from benchmarks.music21_tempo import key_music21_pieces, write_tunes
            midi_dir = out_dir / "midi" / "music21_abc"
            write_tunes(midi_dir, key_music21_pieces(cache), limit)
            rows, todo = plan_midi_source(source, out_dir, limit, ("glob", [midi_dir, "*.mid"]))
            pending += todo
        else:
            rows = rows_from_datasets(source, cache)
        all_rows += rows
        log(f"{source}: {len(rows)} rows planned ({time.time() - t0:.1f}s)")
    render_jobs = render_jobs_for(pending) if render else []
    if render_jobs:
        t0 = time.time()
        n_items = sum(len(j.items) for j in render_jobs)
        log(f"rendering {n_items} MIDI clips in {len(render_jobs)} batches on {jobs} processes")
        with ProcessPoolExecutor(max_workers=max(1, min(2, jobs)), initializer=_worker_init) as ex:
            done = 0
            for paths in ex.map(render_job, render_jobs):
                done += len(paths)
                log(f"  {done}/{n_items} rendered ({time.time() - t0:.0f}s)")
                # the finished part is usable at once: rows whose file exists
                write_manifest(cache, [r for r in all_rows if Path(r["path"]).exists()])
    rows = [r for r in all_rows if Path(r["path"]).exists()]
    for r in rows:
        counts[r["source"]] = counts.get(r["source"], 0) + 1
    write_manifest(cache, rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", default=",".join(ALL_SOURCES), help="comma list of sources")
    ap.add_argument("--cache", type=Path, default=None, help="bench cache folder")
    ap.add_argument("--limit", type=int, default=None, help="at most N pieces per source (smoke)")
    ap.add_argument("--jobs", type=int, default=2, help="render processes (at most 2)")
    ap.add_argument("--no-render", action="store_true",
                    help="render nothing: write the manifest of the clips already rendered")
    args = ap.parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    bad = [s for s in sources if s not in ALL_SOURCES]
    if bad:
        ap.error(f"unknown source(s) {bad}; choose from {ALL_SOURCES}")
    cache = args.cache or default_cache()
    at_least_nice()
    t0 = time.time()
    counts = build(sources, cache, args.limit, args.jobs, render=not args.no_render)
    rows = load_manifest(cache=cache)
    print(f"{manifest_path(cache)}: {len(rows)} rows in {time.time() - t0:.0f}s")
    for s in ALL_SOURCES:
        sr = [r for r in rows if r["source"] == s]
        if sr:
            print(f"  {s:14s} {len(sr):4d} clips  {len({r['piece_id'] for r in sr}):3d} pieces  "
                  f"tempo {sum(r['bpm'] is not None for r in sr):4d}  key {sum(r['key'] is not None for r in sr):4d}")
    del counts
    return 0


if __name__ == "__main__":
    sys.exit(main())
