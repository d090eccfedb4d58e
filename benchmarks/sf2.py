"""Read SoundFont 2 (.sf2) and SoundFont 3 (.sf3, Ogg Vorbis samples) files: presets,
instruments, their key/velocity zones and the sample headers, and decode a sample's audio.

Why: the sample sets need to know *which recording* a preset plays for a note, not only
what it sounds like rendered. Multi-sampled kits (AVL Black Pearl) name their hits only
in the sample headers ("36-Pearl22Kick-3"), and General-MIDI kit variants (Standard 1..7,
Room 1..7) re-use most of their samples, so deduplicating by sample identity keeps one
file per recording instead of eight renders of the same hi-hat.

Format (SoundFont 2.04 spec): a RIFF ``sfbk`` with LIST ``INFO``, LIST ``sdta`` (``smpl``:
16-bit PCM, or in sf3 concatenated Ogg Vorbis streams) and LIST ``pdta`` (the hydra:
``phdr pbag pmod pgen inst ibag imod igen shdr``). A preset's zones point at instruments
(generator 41), an instrument's zones at samples (generator 53); key range (43) and
velocity range (44) restrict both; the first zone without that pointer is the global zone.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GEN_KEY_RANGE = 43
GEN_VEL_RANGE = 44
GEN_INSTRUMENT = 41
GEN_SAMPLE_ID = 53
SAMPLE_TYPE_VORBIS = 0x10   # sf3: the sample is an Ogg Vorbis stream (byte offsets)
SAMPLE_TYPE_ROM = 0x8000


class SoundFontError(ValueError):
    """The file is not a SoundFont this reader understands."""


@dataclass(frozen=True)
class Sample:
    index: int
    name: str
    start: int
    end: int
    loop_start: int
    loop_end: int
    rate: int
    root_key: int
    correction: int
    link: int
    kind: int

    @property
    def seconds(self) -> float:
        """Length in seconds (PCM only: a Vorbis sample's offsets are bytes)."""
        return (self.end - self.start) / self.rate if self.rate and not self.kind & SAMPLE_TYPE_VORBIS else 0.0


@dataclass
class Zone:
    key_range: tuple[int, int] = (0, 127)
    vel_range: tuple[int, int] = (0, 127)
    target: int | None = None          # instrument index (preset zone) / sample index (instrument zone)
    generators: dict[int, int] = field(default_factory=dict)

    def covers(self, key: int, velocity: int) -> bool:
        return self.key_range[0] <= key <= self.key_range[1] and self.vel_range[0] <= velocity <= self.vel_range[1]


@dataclass
class Instrument:
    name: str
    zones: list[Zone]


@dataclass
class Preset:
    name: str
    program: int
    bank: int
    zones: list[Zone]


def _chunks(data: bytes, off: int, end: int):
    """(id, data offset, size) of each RIFF chunk in data[off:end].

    Odd-sized chunks are followed by a pad byte in the spec; some sf3 writers leave it out,
    so the pad is skipped only when a chunk id does not start right after the data."""
    while off + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, off)
        yield cid, off + 8, size
        nxt = off + 8 + size
        if size & 1 and not data[nxt:nxt + 4].isalnum():
            nxt += 1
        off = nxt


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _zones(bags: list[tuple[int, int]], gens: list[tuple[int, int]], first: int, last: int,
           target_gen: int) -> list[Zone]:
    """Zones first..last-1 of a bag list; a global zone's generators are merged into the rest."""
    zones, global_gens = [], {}
    for b in range(first, last):
        g0, g1 = bags[b][0], bags[b + 1][0]
        zone = Zone()
        for oper, amount in gens[g0:g1]:
            if oper == GEN_KEY_RANGE:
                zone.key_range = (amount & 0xFF, amount >> 8)
            elif oper == GEN_VEL_RANGE:
                zone.vel_range = (amount & 0xFF, amount >> 8)
            elif oper == target_gen:
                zone.target = amount
            else:
                zone.generators[oper] = amount
        if zone.target is None:
            if b == first:
                global_gens = zone.generators
            continue
        zone.generators = {**global_gens, **zone.generators}
        zones.append(zone)
    return zones


class SoundFont:
    """A parsed SoundFont; sample audio is read from the file on demand."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        data = self.path.read_bytes()
        if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
            raise SoundFontError(f"{self.path}: not a SoundFont (no RIFF sfbk header)")
        parts: dict[str, tuple[int, int]] = {}
        for cid, off, size in _chunks(data, 12, len(data)):
            if cid == b"LIST":
                for sid, soff, ssize in _chunks(data, off + 4, min(off + size, len(data))):
                    parts[sid.decode("latin-1")] = (soff, ssize)
        missing = {"phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr", "smpl"} - parts.keys()
        if missing:
            raise SoundFontError(f"{self.path}: missing chunks {sorted(missing)}")
        self._data = data
        self.info = {k: _name(data[o:o + s]) for k, (o, s) in parts.items()
                     if k in ("INAM", "ICOP", "IENG", "ICMT", "isng")}
        self._smpl = parts["smpl"]

        def table(name: str, fmt: str) -> list[tuple]:
            off, size = parts[name]
            n = struct.calcsize(fmt)
            return [struct.unpack_from(fmt, data, off + i * n) for i in range(size // n)]

        self.samples = [Sample(i, _name(r[0]), *r[1:]) for i, r in enumerate(table("shdr", "<20sIIIIIBbHH"))][:-1]
        igens = table("igen", "<HH")
        ibags = table("ibag", "<HH")
        inst = table("inst", "<20sH")
        self.instruments = [Instrument(_name(inst[i][0]), _zones(ibags, igens, inst[i][1], inst[i + 1][1], GEN_SAMPLE_ID))
                            for i in range(len(inst) - 1)]
        pgens = table("pgen", "<HH")
        pbags = table("pbag", "<HH")
        phdr = table("phdr", "<20sHHHIII")
        self.presets = [Preset(_name(phdr[i][0]), phdr[i][1], phdr[i][2],
                               _zones(pbags, pgens, phdr[i][3], phdr[i + 1][3], GEN_INSTRUMENT))
                        for i in range(len(phdr) - 1)]

    @property
    def compressed(self) -> bool:
        return any(s.kind & SAMPLE_TYPE_VORBIS for s in self.samples)

    def preset(self, bank: int, program: int) -> Preset | None:
        return next((p for p in self.presets if p.bank == bank and p.program == program), None)

    def sounding_samples(self, preset: Preset, key: int, velocity: int) -> list[Sample]:
        """The samples a note-on of ``key`` at ``velocity`` starts (every layer)."""
        out = []
        for pz in preset.zones:
            if not pz.covers(key, velocity) or pz.target is None or pz.target >= len(self.instruments):
                continue
            for iz in self.instruments[pz.target].zones:
                if iz.covers(key, velocity) and iz.target is not None and iz.target < len(self.samples):
                    out.append(self.samples[iz.target])
        return out

    def audio(self, sample: Sample) -> np.ndarray:
        """The sample's recording as float32 in [-1, 1] (mono; stereo pairs are two samples)."""
        off, size = self._smpl
        if sample.kind & SAMPLE_TYPE_VORBIS:
            import soundfile as sf

            raw = self._data[off + sample.start: off + sample.end]
            y, _ = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
            return y.mean(axis=1)
        a, b = off + 2 * sample.start, off + 2 * sample.end
        if a < off or b > off + size or b <= a:
            raise SoundFontError(f"{self.path}: sample {sample.name!r} lies outside the smpl chunk")
        return np.frombuffer(self._data, dtype="<i2", count=(b - a) // 2, offset=a).astype(np.float32) / 32768.0
