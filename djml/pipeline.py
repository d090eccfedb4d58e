"""Per-file processing stage shared by `djml scan` and the daemon's workers.

``process_file`` runs in a worker process: stat → tags → decode + analyse → stat again.
It never raises for a bad file; every problem becomes ``FileResult.error`` (a reason a
person can act on), so one bad file never stops a scan or kills a worker. The result is
a plain picklable dataclass that the single writer (:mod:`djml.library`) stores.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from djml.tags import Tags, read_tags

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from djml.analysis import Analysis
    from djml.config import Config


# What a file that kills its analysis worker (alone) is reported with, by every executor.
CRASHED = "the analysis worker crashed on this file"


@dataclass(frozen=True)
class FileStat:
    """The cheap fingerprint that lets a rescan skip a file without reading it."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: str | Path) -> "FileStat":
        st = os.stat(path)
        return cls(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, device=st.st_dev)


@dataclass
class FileResult:
    path: str
    stat: FileStat | None
    tags: Tags = field(default_factory=Tags)
    analysis: "Analysis | None" = None
    error: str | None = None


@dataclass(frozen=True)
class Settings:
    """What a worker needs from the config (picklable, no paths to the database).

    ``allowed_roots`` are the real paths a worker may read below (empty: anywhere, for
    files a user names on the command line); ``refused_roots`` are never read (the data
    folder), see :mod:`djml.confine`."""

    sample_max_seconds: float = 30.0
    bpm_range: tuple[float, float] = (70.0, 180.0)
    allowed_roots: tuple[str, ...] = ()
    refused_roots: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: "Config", extra_roots: Iterable[str | os.PathLike] = ()) -> "Settings":
        """Workers may read the configured folders (and ``extra_roots`` a user asked to
        scan), never the data folder."""
        from djml.confine import real_roots

        return cls(sample_max_seconds=config.sample_max_seconds, bpm_range=(config.bpm_min, config.bpm_max),
                   allowed_roots=real_roots([*config.roots, *extra_roots]),
                   refused_roots=real_roots([config.data_dir]))


def process_file(path: str, kind_hint: str | None, settings: Settings) -> FileResult:
    """Analyse one file. ``kind_hint`` comes from the configured folders; without it the
    duration decides (shorter than ``sample_max_seconds`` is a sample). The file is read
    through :func:`djml.confine.opened`: a link out of the configured folders, or a file
    swapped for one, is refused with its reason."""
    from djml.confine import opened

    return _process(path, kind_hint, settings, lambda: opened(path, settings.allowed_roots, settings.refused_roots))


def process_client_file(pid: int, fd: int, suffix: str, kind_hint: str | None, settings: Settings) -> FileResult:
    """Analyse the file a client process of this user holds open as ``fd`` (the daemon
    serving `djml analyze`), read through that descriptor (:func:`djml.confine.opened_by_client`)."""
    from djml.confine import opened_by_client

    source = f"/proc/{int(pid)}/fd/{int(fd)}"
    if not os.path.lexists(source):
        return FileResult(source, None, error="the client holds no such open file")
    return _process(source, kind_hint, settings, lambda: opened_by_client(pid, fd, suffix, settings.refused_roots))


def _process(path: str, kind_hint: str | None, settings: Settings,
             open_source: "Callable[[], AbstractContextManager[str]]") -> FileResult:
    from djml.analysis import AnalysisError, analyze, probe
    from djml.confine import Refused

    try:
        before = FileStat.of(path)
    except FileNotFoundError:
        return FileResult(path, None, error="a link to a file that does not exist" if os.path.islink(path)
                          else "file vanished before it could be read")
    except PermissionError:
        return FileResult(path, None, error="permission denied")
    except OSError as exc:
        return FileResult(path, None, error=f"cannot stat: {exc.strerror or exc}")
    if before.size == 0:
        return FileResult(path, before, error="empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        return FileResult(path, before, error="permission denied")
    try:
        with open_source() as source:
            kind = kind_hint
            if kind is None:
                duration, _, _ = probe(source)
                kind = "sample" if duration < settings.sample_max_seconds else "track"
            analysis = analyze(source, kind, bpm_range=settings.bpm_range)
            tags = read_tags(source)
    except Refused as exc:
        return FileResult(path, before, error=f"refused: {exc}")
    except AnalysisError as exc:
        return FileResult(path, before, error=str(exc))
    except MemoryError:
        return FileResult(path, before, error="out of memory while analysing")
    except PermissionError:
        return FileResult(path, before, error="permission denied")
    except Exception as exc:  # an analyser bug must cost one file, not the whole scan
        return FileResult(path, before, error=f"analysis failed unexpectedly: {type(exc).__name__}: {exc}")
    analysis.path = path
    try:
        after = FileStat.of(path)
    except OSError:
        return FileResult(path, before, error="file vanished while it was being read")
    if after != before:
        return FileResult(path, after, error="file changed while being read (still being copied?)")
    return FileResult(path, after, tags=tags, analysis=analysis)


def warm_up() -> None:
    """Import what :func:`process_file` needs (the analysis stack, ~0.4 s of CPU), run in
    a fresh worker before its first file, so a daemon that sees files arriving has
    workers ready when they have settled. Both pipelines: the analyzer imports each only
    when a file needs it (a one-shot never needs the track's), which a worker that will
    analyse many files should not pay for at its first file."""
    import djml.analysis.analyzer  # noqa: F401 - imported for their side effect: loaded modules
    import djml.analysis.sample  # noqa: F401
    import djml.analysis.track  # noqa: F401
