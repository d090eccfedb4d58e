"""Readers for the containers the music benchmark takes its compositions from: Standard MIDI
Files (SMF type 0/1) and Doom WADs (whose ``D_*`` lumps are MIDI files). Pure stdlib.

Only what the benchmark needs is kept: notes, the tempo map, time and key signatures, and the
raw channel messages (to re-emit a section of a piece for rendering). A damaged track ends
where the damage starts instead of failing the whole file: game MIDI files are not always
tidy, and one bad track must not drop a piece silently or crash a build.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from bisect import bisect_right

DRUM_CHANNEL = 9  # General MIDI channel 10


class SmfError(ValueError):
    """The bytes are not a Standard MIDI File this reader understands."""


@dataclass(frozen=True)
class Note:
    start: int      # ticks
    end: int        # ticks
    channel: int
    pitch: int
    velocity: int


@dataclass
class Smf:
    tpq: int                                   # ticks per quarter note
    tempos: list[tuple[int, int]]              # (tick, microseconds per quarter)
    time_signatures: list[tuple[int, int, int]]  # (tick, numerator, denominator)
    key_signatures: list[tuple[int, int, int]]   # (tick, sharps (<0 flats), 1 if minor)
    notes: list[Note]
    channel_events: list[tuple[int, bytes]]    # (tick, status + data), every track, by tick
    end_tick: int = 0
    _tempo_secs: list[float] = field(default_factory=list, repr=False)
    _tempo_ticks: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.tempos or self.tempos[0][0] != 0:
            self.tempos.insert(0, (0, 500000))  # SMF default: 120 quarter notes per minute
        secs = [0.0]
        for (t0, us), (t1, _) in zip(self.tempos, self.tempos[1:]):
            secs.append(secs[-1] + (t1 - t0) * us / 1e6 / self.tpq)
        self._tempo_secs = secs
        self._tempo_ticks = [t for t, _ in self.tempos]

    def seconds(self, tick: int) -> float:
        """Time of ``tick`` in seconds through the tempo map."""
        i = bisect_right(self._tempo_ticks, tick) - 1
        t0, us = self.tempos[i]
        return self._tempo_secs[i] + (tick - t0) * us / 1e6 / self.tpq


def _vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= len(data):
            raise IndexError("truncated variable-length quantity")
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos
    raise IndexError("variable-length quantity longer than 4 bytes")


def _parse_track(data: bytes, track_index: int, out: dict) -> None:
    pos, tick, status = 0, 0, 0
    open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    try:
        while pos < len(data):
            delta, pos = _vlq(data, pos)
            tick += delta
            b = data[pos]
            if b == 0xFF:
                mtype = data[pos + 1]
                length, pos = _vlq(data, pos + 2)
                payload = data[pos:pos + length]
                pos += length
                if mtype == 0x51 and length == 3:
                    out["tempos"].append((tick, int.from_bytes(payload, "big")))
                elif mtype == 0x58 and length >= 2:
                    out["time_signatures"].append((tick, payload[0], 2 ** payload[1]))
                elif mtype == 0x59 and length == 2:
                    sf = payload[0] - 256 if payload[0] > 127 else payload[0]
                    out["key_signatures"].append((tick, sf, payload[1] & 1))
                elif mtype == 0x2F:
                    break
                continue
            if b in (0xF0, 0xF7):
                length, pos = _vlq(data, pos + 1)
                pos += length
                continue
            if b & 0x80:
                status = b
                pos += 1
            elif not status:
                raise IndexError("data byte without a running status")
            kind = status & 0xF0
            n = 1 if kind in (0xC0, 0xD0) else 2
            body = data[pos:pos + n]
            if len(body) < n:
                raise IndexError("truncated channel message")
            pos += n
            ch = status & 0x0F
            out["channel_events"].append((tick, track_index, bytes([status]) + body))
            if kind == 0x90 and body[1] > 0:
                open_notes.setdefault((ch, body[0]), []).append((tick, body[1]))
            elif kind == 0x80 or (kind == 0x90 and body[1] == 0):
                stack = open_notes.get((ch, body[0]))
                if stack:
                    start, vel = stack.pop(0)
                    out["notes"].append(Note(start, max(tick, start + 1), ch, body[0], vel))
    except IndexError:
        pass  # a damaged track ends here; what was read before stays
    for (ch, pitch), stack in open_notes.items():  # notes never released end with the track
        for start, vel in stack:
            out["notes"].append(Note(start, max(tick, start + 1), ch, pitch, vel))
    out["end_tick"] = max(out["end_tick"], tick)


def parse_smf(data: bytes) -> Smf:
    """Parse SMF bytes; raises SmfError for anything that is not a metrical-time SMF."""
    if data[:4] != b"MThd" or len(data) < 14:
        raise SmfError("no MThd header")
    hlen = struct.unpack(">I", data[4:8])[0]
    _fmt, ntrks, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000 or division == 0:
        raise SmfError("SMPTE time division is not supported")
    out: dict = {"tempos": [], "time_signatures": [], "key_signatures": [], "notes": [],
                 "channel_events": [], "end_tick": 0}
    pos, track = 8 + hlen, 0
    while pos + 8 <= len(data) and track < ntrks:
        cid, clen = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + clen]
        pos += 8 + clen
        if cid != b"MTrk":
            continue
        _parse_track(body, track, out)
        track += 1
    if track == 0:
        raise SmfError("no MTrk chunk")
    # meta events of several tracks at one tick: keep the last one read (stable sort)
    for key in ("tempos", "time_signatures", "key_signatures"):
        dedup: dict[int, tuple] = {}
        for ev in sorted(out[key], key=lambda e: e[0]):
            dedup[ev[0]] = ev
        out[key] = list(dedup.values())
    events = sorted(out["channel_events"], key=lambda e: (e[0], e[1]))
    return Smf(tpq=division, tempos=out["tempos"], time_signatures=out["time_signatures"],
               key_signatures=out["key_signatures"],
               notes=sorted(out["notes"], key=lambda n: (n.start, n.pitch)),
               channel_events=[(t, m) for t, _, m in events], end_tick=out["end_tick"])


def read_wad_lumps(data: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of every lump of a Doom IWAD/PWAD: a 12-byte header (magic, lump count,
    directory offset) and a directory of 16-byte entries (offset, size, 8-byte name)."""
    if data[:4] not in (b"IWAD", b"PWAD") or len(data) < 12:
        raise SmfError("not a WAD file")
    count, table = struct.unpack("<ii", data[4:12])
    if count < 0 or table < 12 or table + 16 * count > len(data):
        raise SmfError("WAD directory outside the file")
    lumps = []
    for i in range(count):
        offset, size, raw = struct.unpack("<ii8s", data[table + 16 * i: table + 16 * i + 16])
        name = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        if offset < 0 or size < 0 or offset + size > len(data):
            raise SmfError(f"lump {name} outside the file")
        lumps.append((name, data[offset:offset + size]))
    return lumps


def write_vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def encode_smf(events: list[tuple[int, bytes]], tpq: int = 480, meta: list[tuple[int, bytes]] = ()) -> bytes:
    """A type-0 SMF from (tick, raw message) channel events and (tick, raw meta event) pairs,
    e.g. ``(0, b"\\xff\\x51\\x03" + tempo)``. Used to cut sections and by the tests."""
    merged = sorted([(t, 0, m) for t, m in meta] + [(t, 1, m) for t, m in events],
                    key=lambda e: (e[0], e[1]))
    track, last = bytearray(), 0
    for tick, _, msg in merged:
        track += write_vlq(tick - last) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk"
            + struct.pack(">I", len(track)) + bytes(track))
