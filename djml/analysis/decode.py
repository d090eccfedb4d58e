"""Decode any supported file once: hash the PCM, downmix, resample, stream blocks.

Why one pass: reading the file is the most expensive single step for compressed
formats, so identity (audio hash), level statistics and the analysis signal all come
from the same read. Blocks keep memory bounded for multi-hour DJ mixes.

The audio hash is blake2b(digest_size=16) over the PCM quantised to little-endian
int16 at the native rate, channels interleaved, then the sample rate and channel
count. Tags and containers are not part of it, so WAV and FLAC of the same audio
hash identically and re-tagging never changes identity (lossy re-encodes do).
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from djml.analysis.errors import AnalysisError

ANALYSIS_SR = 22050
BLOCK_FRAMES = 1 << 18          # native frames per read (~6 s at 44.1 kHz): few, big calls
_TRUNCATION_TOLERANCE = 0.02    # compressed formats only know their length approximately


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    sample_rate: int
    channels: int
    frames: int


def _check_path(path: str) -> None:
    """Turn filesystem problems into AnalysisError before any decoder sees the path."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AnalysisError("file vanished") from None
    except PermissionError:
        raise AnalysisError("permission denied") from None
    except OSError as exc:
        raise AnalysisError(f"cannot read file: {exc.strerror or exc}") from None
    if not os.path.isfile(path):
        raise AnalysisError("not a regular file")
    if st.st_size == 0:
        raise AnalysisError("empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AnalysisError("permission denied")


def _open_error(path: str, exc: Exception) -> AnalysisError:
    if not os.path.exists(path):
        return AnalysisError("file vanished")
    message = str(exc)
    if "lost sync" in message or "truncat" in message.lower():
        return AnalysisError(f"truncated or corrupt audio: {message.split(':')[-1].strip()}")
    return AnalysisError("not an audio file (unknown format)")


def probe(path: str | os.PathLike) -> AudioInfo:
    """Duration, rate and channels from the header only (cheap)."""
    path = os.fspath(path)
    _check_path(path)
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        return _probe_fallback(path, exc)
    except OSError as exc:
        raise _open_error(path, exc) from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AnalysisError("no audio frames")
    return AudioInfo(info.frames / info.samplerate, info.samplerate, info.channels, info.frames)


def _probe_fallback(path: str, exc: Exception) -> AudioInfo:
    """M4A/AAC and other formats libsndfile lacks: ask audioread (ffmpeg) if present."""
    if not _maybe_ffmpeg_format(path):
        raise _open_error(path, exc) from None
    with _audioread_open(path) as f:
        frames = int(round(f.duration * f.samplerate))
        if frames <= 0:
            raise AnalysisError("no audio frames")
        return AudioInfo(f.duration, f.samplerate, f.channels, frames)


def _maybe_ffmpeg_format(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in (".m4a", ".mp4", ".aac", ".alac", ".wma", ".opus", ".webm")


def _audioread_open(path: str):  # noqa: ANN202 - audioread has no public types
    try:
        import audioread
    except ImportError:
        raise AnalysisError("unsupported format (install ffmpeg to read it)") from None
    try:
        return audioread.audio_open(path, backends=audioread.available_backends())
    except audioread.NoBackendError:
        raise AnalysisError("unsupported format (install ffmpeg to read it)") from None
    except (audioread.DecodeError, OSError, EOFError) as exc:
        raise AnalysisError(f"truncated or corrupt audio: {exc}") from None


class Decoder:
    """Iterate mono float32 blocks at ``target_sr``; statistics are ready after iteration.

    Attributes filled while iterating: ``audio_hash``, ``peak`` (linear), ``sum_squares``
    and ``frames`` at the native rate (for RMS loudness over all channels).
    """

    def __init__(self, path: str | os.PathLike, target_sr: int = ANALYSIS_SR) -> None:
        self.path = os.fspath(path)
        self.info = probe(self.path)
        self.target_sr = target_sr
        self.frames = 0
        self.peak = 0.0
        self.sum_squares = 0.0
        self.audio_hash = ""

    def blocks(self) -> Iterator[np.ndarray]:
        digest = hashlib.blake2b(digest_size=16)
        resampler = None
        if self.info.sample_rate != self.target_sr:
            resampler = soxr.ResampleStream(self.info.sample_rate, self.target_sr, 1, dtype="float32",
                                            quality="MQ")
        for pcm, mono in self._native_blocks():
            digest.update(pcm)                       # buffer protocol: no copy
            self.frames += len(pcm)
            yield resampler.resample_chunk(mono) if resampler else mono
        if resampler is not None:
            yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if self.frames == 0:
            raise AnalysisError("no audio frames")
        digest.update(f"|{self.info.sample_rate}|{self.info.channels}".encode())
        self.audio_hash = digest.hexdigest()

    @property
    def duration(self) -> float:
        return self.frames / self.info.sample_rate

    def _native_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(int16 interleaved PCM for the hash, float32 mono) per block.

        16-bit sources are read as int16 (exact and fastest); everything else (24-bit,
        float, MP3/Vorbis) is read as float and quantised, which gives the same hash bytes
        as before for the same audio. Level statistics are gathered in :meth:`_mono`."""
        try:
            f = sf.SoundFile(self.path)
        except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as exc:
            yield from self._audioread_blocks(exc)
            return
        with f:
            if "(should be" in f.extra_info:
                raise AnalysisError("truncated or corrupt audio: file shorter than its header says")
            native16 = f.subtype == "PCM_16"
            while True:
                try:
                    block = f.read(BLOCK_FRAMES, dtype="int16" if native16 else "float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    raise AnalysisError(f"truncated or corrupt audio: {exc}".rstrip(". ")) from None
                except OSError as exc:
                    raise _io_error(exc) from None
                if len(block) == 0:
                    break
                if native16:
                    yield block, self._mono(block)
                else:
                    yield _quantise(block), self._mono(block)
        self._check_length(f.frames)

    def _mono(self, block: np.ndarray) -> np.ndarray:
        """float32 mean of the channels of an int16 or float block; updates peak and
        sum_squares (all channels). One conversion pass, a BLAS dot over the interleaved
        samples, then one add per extra channel: no 2-D reductions along the short
        channel axis, which numpy runs slowly."""
        scale = np.float32(1 / 32768) if block.dtype == np.int16 else np.float32(1)
        self.peak = max(self.peak, float(block.max()) * scale, -float(block.min()) * scale)
        f = block.astype(np.float32)
        flat = f.reshape(-1)
        self.sum_squares += float(np.dot(flat, flat)) * float(scale) ** 2
        mono = f[:, 0].copy()
        for c in range(1, f.shape[1]):
            mono += f[:, c]
        mono *= scale / np.float32(f.shape[1])
        return mono

    def _check_length(self, declared: int) -> None:
        missing = declared - self.frames
        if missing > max(_TRUNCATION_TOLERANCE * declared, 0.25 * self.info.sample_rate):
            raise AnalysisError(
                f"truncated or corrupt audio: decoded {self.frames / self.info.sample_rate:.1f} s "
                f"of {declared / self.info.sample_rate:.1f} s")

    def _audioread_blocks(self, exc: Exception) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not _maybe_ffmpeg_format(self.path):
            raise _open_error(self.path, exc) from None
        import audioread

        with _audioread_open(self.path) as f:
            channels = f.channels
            try:
                for buf in f:
                    pcm = np.frombuffer(buf, dtype="<i2").reshape(-1, channels)
                    yield pcm, self._mono(pcm)
            except (audioread.DecodeError, OSError) as err:
                raise AnalysisError(f"truncated or corrupt audio: {err}") from None


def _quantise(block: np.ndarray) -> np.ndarray:
    """float [-1, 1) -> int16 as round(x * 32768), clipped (in place on a scratch copy)."""
    q = block * np.float32(32768.0)
    np.rint(q, out=q)
    np.clip(q, -32768, 32767, out=q)
    return q.astype("<i2")


def _io_error(exc: OSError) -> AnalysisError:
    if exc.errno == errno.ENOENT:
        return AnalysisError("file vanished")
    return AnalysisError(f"cannot read file: {exc.strerror or exc}")


def decode_mono(path: str | os.PathLike, target_sr: int = ANALYSIS_SR) -> tuple[np.ndarray, Decoder]:
    """Whole file as one mono array (for short samples), plus the finished decoder."""
    decoder = Decoder(path, target_sr)
    parts = list(decoder.blocks())
    return np.concatenate(parts) if parts else np.zeros(0, np.float32), decoder
