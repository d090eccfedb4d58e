"""Decode any supported file once: hash the PCM, downmix, resample, stream blocks.

Why one pass: reading the file is the most expensive single step for compressed
formats, so identity (audio hash), level statistics and the analysis signal all come
from the same read. Blocks keep memory bounded for multi-hour DJ mixes.

The audio hash is blake2b(digest_size=16) over the PCM quantised to little-endian
int16 at the native rate, channels interleaved, then the sample rate and channel
count. Tags and containers are not part of it, so WAV and FLAC of the same audio
hash identically and re-tagging never changes identity (lossy re-encodes do).

Readers: libsndfile (soundfile) for everything it knows; 16-bit FLAC through dr_flac
(the optional miniaudio wheel) when installed, ~0.1 s faster per 5-minute track and
bit-identical (FLAC is lossless); audioread/ffmpeg for M4A/AAC.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soundfile as sf
import soxr

from djml.analysis import native
from djml.analysis.errors import AnalysisError
from djml.analysis.loudness import Loudness, LoudnessMeter
from djml.limits import header_problem

ANALYSIS_SR = 22050
BLOCK_FRAMES = 1 << 18          # native frames per read (~6 s at 44.1 kHz): few, big calls
_TRUNCATION_TOLERANCE = 0.02    # compressed formats only know their length approximately
_UNKNOWN_LENGTH = 2**63 - 1     # libsndfile's frame count when the header has none (SF_COUNT_MAX)


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
        info = sf.info(os.fsencode(path))    # bytes: a file name need not be UTF-8
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        return _probe_fallback(path, exc)
    except OSError as exc:
        raise _open_error(path, exc) from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AnalysisError("no audio frames")
    if info.frames == _UNKNOWN_LENGTH:
        # a FLAC written to a pipe (streaming encoders) has no length in its header, and
        # libsndfile fails mid-read on it; every step here plans by the length
        raise AnalysisError("length unknown (FLAC streamed without a total in its header): "
                            "re-encode it, e.g. flac -d then flac, or ffmpeg -i IN OUT.flac")
    if problem := header_problem(info.samplerate, info.channels, info.frames):
        raise AnalysisError(problem)
    return AudioInfo(info.frames / info.samplerate, info.samplerate, info.channels, info.frames)


def _probe_fallback(path: str, exc: Exception) -> AudioInfo:
    """M4A/AAC and other formats libsndfile lacks: ask audioread (ffmpeg) if present."""
    if not _maybe_ffmpeg_format(path):
        raise _open_error(path, exc) from None
    with _audioread_open(path) as f:
        frames = int(round(f.duration * f.samplerate))
        if frames <= 0:
            raise AnalysisError("no audio frames")
        if problem := header_problem(f.samplerate, f.channels, frames):
            raise AnalysisError(problem)
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
    and ``frames`` at the native rate (for RMS loudness over all channels); with
    ``measure_loudness``, :meth:`loudness` (BS.1770 over every channel at the native rate).
    """

    def __init__(self, path: str | os.PathLike, target_sr: int = ANALYSIS_SR, *,
                 measure_loudness: bool = False) -> None:
        _keep_heap()
        self.path = os.fspath(path)
        self.info = probe(self.path)
        self.target_sr = target_sr
        self.frames = 0
        self.peak = 0.0
        self.sum_squares = 0.0
        self.audio_hash = ""
        self._buffers: dict[str, np.ndarray] = {}
        self._meter = LoudnessMeter(self.info.sample_rate, self.info.channels) if measure_loudness else None
        # reads of whole meter rows: the meter then measures each block in place
        self._block_frames = BLOCK_FRAMES // self._meter.row * self._meter.row if self._meter else BLOCK_FRAMES

    def loudness(self) -> Loudness:
        """Integrated loudness, loudness range and true peak (after iterating)."""
        if self._meter is None:
            raise ValueError("Decoder(measure_loudness=False) measured no loudness")
        return self._meter.result(self.peak)

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
        as before for the same audio. Level statistics are gathered in :meth:`_mono`.
        The PCM array is a reused buffer: valid until the next block is requested."""
        try:
            f = sf.SoundFile(os.fsencode(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as exc:
            yield from self._audioread_blocks(exc)
            return
        with f:
            if "(should be" in f.extra_info:
                raise AnalysisError("truncated or corrupt audio: file shorter than its header says")
            native16 = f.subtype == "PCM_16"
            if native16 and f.format == "FLAC":
                handle = _drflac_open(self.path, (f.samplerate, f.channels, f.frames))
                if handle is not None:
                    f.close()
                    yield from self._drflac_blocks(*handle)
                    return
            # reused buffers (see _scratch) and our own count of the frames left:
            # soundfile would stop at the declared length too, but via a tell() per call
            buf = np.empty((self._block_frames, f.channels), dtype="int16" if native16 else "float32")
            remaining = f.frames
            while True:
                try:
                    block = f.read(min(self._block_frames, remaining), out=buf)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    raise AnalysisError(f"truncated or corrupt audio: {exc}".rstrip(". ")) from None
                except OSError as exc:
                    raise _io_error(exc) from None
                if len(block) == 0:
                    break
                remaining -= len(block)
                if native16:
                    yield block, self._mono(block)
                else:
                    yield self._quantise(block), self._mono(block)
        self._check_length(f.frames)

    def _drflac_blocks(self, lib, ffi, flac) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # noqa: ANN001
        """16-bit FLAC through dr_flac (miniaudio): lossless, so bit-identical PCM to
        libsndfile, in ~0.3 s instead of ~0.45 s per 5-minute stereo track (libsndfile
        spends a third of its FLAC time in a per-sample copy loop).

        dr_flac skips a frame that fails its CRC where libsndfile stops with an error, and
        would read past a STREAMINFO length that libsndfile stops at; so reads stop at
        the declared length and any shortfall is reported as corrupt, like libsndfile."""
        try:
            total = int(flac.totalPCMFrameCount)
            buf = np.empty((self._block_frames, int(flac.channels)), dtype=np.int16)
            ptr = ffi.cast("ma_dr_flac_int16 *", ffi.from_buffer(buf))
            decoded = 0
            while decoded < total:
                got = int(lib.ma_dr_flac_read_pcm_frames_s16(flac, min(self._block_frames, total - decoded), ptr))
                if got <= 0:
                    break
                decoded += got
                block = buf[:got]
                yield block, self._mono(block)
        finally:
            lib.ma_dr_flac_close(flac)
        if decoded != total:
            raise AnalysisError(f"truncated or corrupt audio: decoded {decoded / self.info.sample_rate:.1f} s "
                                f"of {total / self.info.sample_rate:.1f} s")

    def _mono(self, block: np.ndarray) -> np.ndarray:
        """float32 mean of the channels of an int16 or float32 block; updates peak and
        sum_squares (all channels), and feeds the loudness meter the interleaved float
        block. At most one conversion pass (none for float32), a BLAS dot over the
        interleaved samples, then the channel mix in C (``djml_mix``) or, where it is not
        built, one numpy add per extra channel: no 2-D reductions along the short channel
        axis, which numpy runs slowly."""
        scale = np.float32(1 / 32768) if block.dtype == np.int16 else np.float32(1)
        self.peak = max(self.peak, float(block.max()) * scale, -float(block.min()) * scale)
        f = block
        if block.dtype != np.float32:
            f = self._scratch("float", block, np.float32)
            f[...] = block
        flat = f.reshape(-1)
        energy = float(np.dot(flat, flat))
        if not math.isfinite(energy):   # only float files can hold NaN or inf samples
            raise AnalysisError("corrupt audio: the file holds NaN, infinite or absurdly large sample values")
        self.sum_squares += energy * float(scale) ** 2
        if self._meter is not None:
            self._meter.add(f, float(scale))
        factor = scale / np.float32(f.shape[1])
        loops = native.library()
        if loops is not None and f.shape[1] > 1 and f.flags.c_contiguous:
            mono = np.empty(len(f), np.float32)
            loops.djml_mix(f.ctypes.data, len(f), f.shape[1], factor, mono.ctypes.data)
            return mono
        mono = f[:, 0].copy() if f.shape[1] == 1 else np.add(f[:, 0], f[:, 1])
        for c in range(2, f.shape[1]):
            mono += f[:, c]
        mono *= factor
        return mono

    def _quantise(self, block: np.ndarray) -> np.ndarray:
        """float [-1, 1) -> int16 as round(x * 32768), clipped (in scratch buffers)."""
        q = np.multiply(block, np.float32(32768.0), out=self._scratch("quantise", block, np.float32))
        np.rint(q, out=q)
        np.clip(q, -32768, 32767, out=q)
        pcm = self._scratch("pcm", block, np.dtype("<i2"))
        pcm[...] = q
        return pcm

    def _scratch(self, name: str, like: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
        """A reused buffer shaped like ``like``, valid until the next block: MB-sized
        temporaries per block are what makes the heap churn (see _keep_heap), and where
        _keep_heap cannot act (not glibc) each fresh one costs page faults."""
        buf = self._buffers.get(name)
        if buf is None or len(buf) < len(like) or buf.shape[1:] != like.shape[1:]:
            buf = self._buffers[name] = np.empty((max(BLOCK_FRAMES, len(like)),) + like.shape[1:], dtype)
        return buf[: len(like)]

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


_heap_kept = False


def _keep_heap() -> None:
    """Keep freed memory in the process heap instead of handing it back to the kernel
    (glibc only; once per process, on the first Decoder).

    Why: every block of the analysis allocates and frees a few MB of temporaries (PCM,
    spectra). glibc's adaptive thresholds return such blocks to the kernel (mmap/munmap
    or heap trimming) depending on the heap's layout, and touching the fresh pages again
    costs a page fault per 4 KB: 10k-50k faults, 0.05-0.2 s per 5-minute track, varying
    from run to run. With a fixed 32 MB mmap threshold and 64 MB trim threshold the
    same heap pages are reused (~0 faults per track); a worker keeps at most ~64 MB of
    free heap it would otherwise have returned."""
    global _heap_kept
    if _heap_kept or not sys.platform.startswith("linux"):
        return
    _heap_kept = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):      # not glibc (e.g. musl has no mallopt)
        return
    mallopt(-3, 32 << 20)   # M_MMAP_THRESHOLD: blocks below 32 MB come from the heap
    mallopt(-1, 64 << 20)   # M_TRIM_THRESHOLD: trim the heap top only beyond 64 MB free


def flac_decoder() -> str:
    """Which decoder reads 16-bit FLAC in this install (benchmarks print it)."""
    miniaudio = _drflac()
    if miniaudio is not None:
        return f"dr_flac (miniaudio {miniaudio.__version__})"
    return f"libsndfile {sf.__libsndfile_version__}"


@lru_cache(maxsize=1)
def _drflac():  # noqa: ANN202 - the miniaudio module, or None
    """miniaudio when it is installed with dr_flac and usable here (not on Windows, where
    paths are not bytes), else None: then libsndfile reads FLAC too."""
    if sys.platform == "win32":
        return None
    try:
        import miniaudio
    except ImportError:
        return None
    return miniaudio if hasattr(miniaudio.lib, "ma_dr_flac_open_file") else None


def _drflac_open(path: str, expect: tuple[int, int, int]):  # noqa: ANN202 - miniaudio's cffi objects
    """(lib, ffi, handle) for a 16-bit FLAC whose (rate, channels, frames) agree with
    libsndfile's ``expect``, or None to use libsndfile (no dr_flac, unknown length, any
    disagreement)."""
    miniaudio = _drflac()
    if miniaudio is None:
        return None
    lib, ffi = miniaudio.lib, miniaudio.ffi
    flac = lib.ma_dr_flac_open_file(os.fsencode(path), ffi.NULL)
    if flac == ffi.NULL:
        return None
    if flac.bitsPerSample != 16 or (flac.sampleRate, flac.channels, flac.totalPCMFrameCount) != expect:
        lib.ma_dr_flac_close(flac)
        return None
    return lib, ffi, flac


def _io_error(exc: OSError) -> AnalysisError:
    if exc.errno == errno.ENOENT:
        return AnalysisError("file vanished")
    return AnalysisError(f"cannot read file: {exc.strerror or exc}")


def decode_mono(path: str | os.PathLike, target_sr: int = ANALYSIS_SR, *,
                measure_loudness: bool = False) -> tuple[np.ndarray, Decoder]:
    """Whole file as one mono array (for short samples), plus the finished decoder."""
    decoder = Decoder(path, target_sr, measure_loudness=measure_loudness)
    parts = list(decoder.blocks())
    return np.concatenate(parts) if parts else np.zeros(0, np.float32), decoder
