"""Read Gravis UltraSound patches (.pat, as shipped by FreePats): the header and each
sample's audio and key range.

Why: FreePats drum patches hold one recorded hit each (the General-MIDI drum-map number is
in the file name), so the recording itself is the training one-shot, with no synthesiser
envelope in between. Melodic patches hold short looped samples and are rendered with
timidity instead (a sustained note needs the loop and envelope played).

Layout (little-endian): a 129-byte file header (``GF1PATCH110\\0`` or ``GF1PATCH100\\0``,
``ID#000002\\0``, description, instrument/voice/channel counts, waveform count, master volume,
data size); per instrument a 63-byte header (id, 16-byte name, size, layer count); per layer a
47-byte header (duplicate flag, layer, size, sample count); per sample a 96-byte header
(7-byte name, loop fractions, data size in bytes, loop start/end, sample rate, low/high/root
frequency in milli-Hz, tune, balance, envelope, tremolo, vibrato, mode flags, scale
frequency/factor) followed by its data. Mode bit 0: 16-bit, bit 1: unsigned, bit 2: looped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGICS = (b"GF1PATCH110\0", b"GF1PATCH100\0")
FILE_HEADER = 129
INSTRUMENT_HEADER = 63
LAYER_HEADER = 47
SAMPLE_HEADER = 96
MODE_16BIT, MODE_UNSIGNED, MODE_LOOP = 0x01, 0x02, 0x04


class PatchError(ValueError):
    """The file is not a GUS patch this reader understands (or is truncated)."""


@dataclass(frozen=True)
class PatchSample:
    name: str
    rate: int
    low_hz: float
    high_hz: float
    root_hz: float
    modes: int
    loop_start: int        # in samples
    loop_end: int
    audio: np.ndarray      # float32 in [-1, 1]

    @property
    def looped(self) -> bool:
        return bool(self.modes & MODE_LOOP)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.rate if self.rate else 0.0


@dataclass(frozen=True)
class Patch:
    description: str
    instrument: str
    samples: list[PatchSample]


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _decode(raw: bytes, modes: int) -> np.ndarray:
    if modes & MODE_16BIT:
        x = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2" if modes & MODE_UNSIGNED else "<i2")
        x = x.astype(np.float32)
        return ((x - 32768.0) if modes & MODE_UNSIGNED else x) / 32768.0
    x = np.frombuffer(raw, dtype=np.uint8 if modes & MODE_UNSIGNED else np.int8).astype(np.float32)
    return ((x - 128.0) if modes & MODE_UNSIGNED else x) / 128.0


def read_patch(path: str | Path) -> Patch:
    """Parse a .pat file; raises PatchError on anything malformed (never returns half a patch)."""
    data = Path(path).read_bytes()
    if len(data) < FILE_HEADER or data[:12] not in MAGICS:
        raise PatchError(f"{path}: not a GUS patch (no GF1PATCH header)")
    description = _text(data[22:82])
    n_instruments = data[82]
    if n_instruments > 1:
        raise PatchError(f"{path}: {n_instruments} instruments in one patch are not supported")
    off = FILE_HEADER
    if off + INSTRUMENT_HEADER > len(data):
        raise PatchError(f"{path}: truncated instrument header")
    instrument = _text(data[off + 2: off + 18])
    off += INSTRUMENT_HEADER
    if off + LAYER_HEADER > len(data):
        raise PatchError(f"{path}: truncated layer header")
    n_samples = data[off + 6]
    off += LAYER_HEADER
    samples = []
    for i in range(n_samples):
        if off + SAMPLE_HEADER > len(data):
            raise PatchError(f"{path}: truncated header of sample {i}")
        name, _frac, size, loop_start, loop_end, rate, low, high, root = struct.unpack_from("<7sBIIIHIII", data, off)
        modes = data[off + 55]
        off += SAMPLE_HEADER
        if off + size > len(data):
            raise PatchError(f"{path}: sample {i} needs {size} bytes, {len(data) - off} left")
        width = 2 if modes & MODE_16BIT else 1
        samples.append(PatchSample(_text(name), rate, low / 1000.0, high / 1000.0, root / 1000.0, modes,
                                   loop_start // width, loop_end // width, _decode(data[off: off + size], modes)))
        off += size
    return Patch(description, instrument, samples)

