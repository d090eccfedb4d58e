"""The temporary copies `djml tags write` and `djml tags undo` make beside the files they tag.

Tags are written to a copy in the same folder (so ``os.replace`` can swap it in
atomically), which means a process killed mid-write leaves the copy behind. Three rules
keep such a leftover from ever becoming part of the library:

- a temporary is named ``.djml-tagwrite-<pid>-<name>`` (the extension is kept, because
  mutagen and the decoders pick the format by it) and the folder walker and the daemon's
  watcher ignore every name :func:`is_temporary` accepts, so a scan never imports one;
- before the copy exists its path is appended to a registry in the data folder, so the
  leftovers of a killed process are found without walking the music folders;
- :func:`sweep` (run when `tags write`/`tags undo`, `djml scan` and the daemon start)
  deletes every registered temporary whose process is gone.

Older djml versions named the copy ``.<stem>.djml-tmp<ext>``; those are ignored too and
removed by :func:`sweep_folder` when their original sits beside them.

Standard library only: the walker imports it.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterable
from pathlib import Path

from djml.private import make_folder

PREFIX = ".djml-tagwrite-"
_CURRENT = re.compile(re.escape(PREFIX) + r"(\d+)-(.+)\Z", re.DOTALL)
_LEGACY = re.compile(r"\.(.+)\.djml-tmp(\.[^.]*)?\Z", re.DOTALL)
REGISTRY_NAME = "tag-temporaries"


def is_temporary(name: str) -> bool:
    """Is this file name (not a path) one of djml's tag-writing copies?"""
    return bool(_CURRENT.match(name) or _LEGACY.match(name))


def temporary_for(target: Path) -> Path:
    """Where the tagged copy of ``target`` is written: same folder, hidden, same extension."""
    return target.with_name(f"{PREFIX}{os.getpid()}-{target.name}")


def registry_path(data_dir: Path) -> Path:
    return data_dir / "tag-history" / REGISTRY_NAME


def register(data_dir: Path, temporary: Path) -> None:
    """Record ``temporary`` (fsynced) before it is created, so a kill cannot hide it."""
    path = registry_path(data_dir)
    make_folder(path.parent)
    line = os.fsencode(str(temporary)) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _owner_alive(name: str) -> bool:
    match = _CURRENT.match(name)
    if match is None:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return False                       # ours, and we are not writing one right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                        # someone else's live process
    return True


def sweep(data_dir: Path) -> list[str]:
    """Delete registered temporaries whose writer is gone; return the paths deleted.

    Called when no tag write of this process is in flight. A temporary of a live `tags
    write` in another process stays (with its registry line)."""
    path = registry_path(data_dir)
    if not path.exists():
        return []
    removed: list[str] = []
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "rb") as f:
            entries = [os.fsdecode(line) for line in f.read().split(b"\n") if line]
        keep = []
        for entry in dict.fromkeys(entries):
            name = os.path.basename(entry)
            if not is_temporary(name) or not os.path.lexists(entry):
                continue                   # swapped in, cleaned up, or not ours: forget it
            if _owner_alive(name):
                keep.append(entry)
                continue
            try:
                os.unlink(entry)
                removed.append(entry)
            except FileNotFoundError:
                pass
            except OSError:
                keep.append(entry)         # e.g. a read-only folder now: try again next time
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"".join(os.fsencode(e) + b"\n" for e in keep))
        os.fsync(fd)
    finally:
        os.close(fd)
    return removed


def sweep_folder(folder: Path) -> list[str]:
    """Delete old-style ``.<stem>.djml-tmp<ext>`` copies whose original is beside them
    and dead-process temporaries of the current style, in one folder (no recursion)."""
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    present = set(names)
    for name in names:
        legacy = _LEGACY.match(name)
        stale = (legacy is not None and f"{legacy.group(1)}{legacy.group(2) or ''}" in present) or (
            _CURRENT.match(name) is not None and not _owner_alive(name))
        if stale:
            try:
                os.unlink(folder / name)
                removed.append(str(folder / name))
            except OSError:
                pass
    return removed


def sweep_folders(folders: Iterable[Path]) -> list[str]:
    return [p for folder in dict.fromkeys(folders) for p in sweep_folder(folder)]
