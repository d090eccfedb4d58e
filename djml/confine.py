"""Read only what djml may read: files inside the configured folders.

A symbolic link inside a watched folder can point anywhere (``passwd.wav`` → /etc/passwd),
and anyone who can write into a shared music folder can swap a checked file for such a
link between the check and the read. So a file is (1) resolved and checked against the
allowed folders, (2) opened, and (3) checked again through the open descriptor: what is
read is exactly the file that passed. Readers that want a path (libsndfile, dr_flac,
ffmpeg in a subprocess, mutagen) get a private alias that names the open descriptor, with
the original extension, so they can neither follow a swapped link nor trip over a file
name that is not valid UTF-8.

Links are followed when they stay inside an allowed folder (a sample folder linked into
the library is fine). The data folder is never read as audio, even inside a music folder.
Standard library only.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from djml.safetext import display

_HAS_PROC_FD = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}")
_aliases = itertools.count()
_alias_dir: str | None = None


class Refused(Exception):
    """The path may not be read; the message says why, for a person."""


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def real_roots(folders: Sequence[str | os.PathLike]) -> tuple[str, ...]:
    return tuple(os.path.realpath(os.fspath(f)) for f in folders)


def check(path: str, allowed: Sequence[str], refused: Sequence[str] = ()) -> str:
    """The real path of ``path`` if it may be read, else :class:`Refused`.

    ``allowed`` and ``refused`` are real paths (:func:`real_roots`); an empty ``allowed``
    allows everything outside ``refused`` (files a user named on the command line)."""
    real = os.path.realpath(path)
    if any(under(real, r) for r in refused):
        raise Refused("inside djml's data folder, not music")
    if allowed and not any(under(real, r) for r in allowed):
        if real != os.path.abspath(path):
            raise Refused(f"a link to {display(real)}, outside the configured folders")
        raise Refused("outside the configured folders")
    return real


def data_dir_refusal(path: str | os.PathLike, data_dir: str | os.PathLike) -> str | None:
    """Why ``path`` may not be scanned or retried, if it lies in djml's data folder (the
    library database, models and index are not music: a daemon once decoded its own
    database as audio); None for any other path."""
    real, data = os.path.realpath(os.fspath(path)), os.path.realpath(os.fspath(data_dir))
    if not under(real, data):
        return None
    return (f"{display(os.fspath(path))} is inside djml's data folder ({display(data)}), which holds the"
            " library database, models and index, not music")


@contextmanager
def opened(path: str, allowed: Sequence[str], refused: Sequence[str] = ()) -> Iterator[str]:
    """Check ``path``, open it, check the open file, and yield a path readers may use that
    names exactly that open file (see the module docstring)."""
    real = check(path, allowed, refused)
    try:
        # O_NONBLOCK: a FIFO named like audio must not hang the reader; O_NOFOLLOW: the
        # resolved path has no link left, so one appearing now is a swap.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", None):
            raise Refused("the file was replaced by a link while being checked") from None
        raise
    with _checked_alias(fd, path, allowed, refused) as alias:   # a folder swapped in between
        yield alias or real


@contextmanager
def opened_by_client(pid: int, fd: int, suffix: str, refused: Sequence[str] = ()) -> Iterator[str]:
    """The file another process of this user holds open as ``fd`` (a `djml analyze` client
    of the daemon), opened through that descriptor, never through a name the client sent:
    what is read is exactly what the client could open itself. ``suffix`` names the format
    for readers that go by extension. Linux only (/proc); elsewhere Refused."""
    if not _HAS_PROC_FD:
        raise Refused("reading a client's open file needs /proc (Linux)")
    try:
        own = os.open(f"/proc/{int(pid)}/fd/{int(fd)}", os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise Refused("the client holds no such open file") from None
    with _checked_alias(own, "x" + suffix, (), refused) as alias:
        yield alias or ""


@contextmanager
def _checked_alias(fd: int, name: str, allowed: Sequence[str], refused: Sequence[str]) -> Iterator[str | None]:
    """Owns ``fd``: refuses what is not a regular file or (by what the descriptor names now)
    lies outside ``allowed`` or inside ``refused``; yields an alias named like ``name``
    (None without /proc); removes the alias and closes ``fd`` afterwards."""
    alias = None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused("not a regular file")
        if _HAS_PROC_FD:
            check(os.readlink(f"/proc/self/fd/{fd}"), allowed, refused)
            alias = _alias(fd, name)
        yield alias
    finally:
        if alias is not None:
            try:
                os.unlink(alias)
            except OSError:
                pass
        os.close(fd)


def _alias(fd: int, path: str) -> str:
    """A symlink to /proc/<pid>/fd/<fd> (valid in child processes too) named like ``path``."""
    global _alias_dir
    if _alias_dir is None or not os.path.isdir(_alias_dir):
        _alias_dir = tempfile.mkdtemp(prefix="djml-read-")        # 0700, this process only
        atexit.register(shutil.rmtree, _alias_dir, True)
    match = _EXTENSION.fullmatch(os.path.splitext(path)[1])
    alias = os.path.join(_alias_dir, f"{next(_aliases)}{match.group() if match else ''}")
    os.symlink(f"/proc/{os.getpid()}/fd/{fd}", alias)
    return alias
