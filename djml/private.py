"""Folders and files only their owner may read: the library names every file a person
owns, the log and the tag journals too. Other local users must not read them.

The rules (docs/daemon.md, "Permissions"):

- what djml creates is private from the first moment: folders 0700, files 0600
  (independent of the umask);
- djml's own files (``library.db`` and its ``-wal``/``-shm``, ``daemon.log``) are made
  0600 when found more open: they are djml's whatever folder they are in;
- an existing folder is changed only when it is djml's by name: the default data folder
  (``$XDG_DATA_HOME/djml`` or ``$DJML_HOME/data``). A folder the user configured
  (``data_dir``, ``runtime_dir``) keeps its mode: for the socket, a shared ``runtime_dir``
  (``/tmp``, mode 1777) gets a private sub-folder ``djml-<uid>`` instead.

Standard library only: every CLI one-shot that opens the library imports this.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


class NotPrivate(Exception):
    """A folder djml must use is not safe (owned by someone else, a link); says why."""


def make_folder(path: Path) -> bool:
    """Create ``path`` (and missing parents, with the usual mode) if it is missing; the
    folder itself is 0700. Returns True when it was created now."""
    path = Path(path)
    if path.is_dir():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=FOLDER_MODE)
    except FileExistsError:
        return False
    os.chmod(path, FOLDER_MODE)        # mkdir's mode is masked by the umask
    return True


def tighten(path: Path, mode: int) -> None:
    """Take group/other permissions away from ``path`` if it is ours and has any."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(st.st_mode) & mode)


def own_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if missing, else make it 0600 (a djml file)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    except FileExistsError:
        tighten(path, FILE_MODE)


def open_log(path: Path):
    """``path`` opened for appending in binary, 0600 (created so, or tightened)."""
    own_file(path)
    return open(path, "ab")


def library_files(db_path: Path, *, own_folder: bool) -> None:
    """Before SQLite opens ``db_path``: its folder exists (0700 if created now, or made
    0700 when ``own_folder`` says it is djml's by name), and the database file and its
    WAL/shared-memory files are 0600 (SQLite gives new -wal/-shm files the database's mode)."""
    db_path = Path(db_path)
    created = make_folder(db_path.parent)
    if own_folder and not created:
        tighten(db_path.parent, FOLDER_MODE)
    own_file(db_path)
    for suffix in ("-wal", "-shm"):
        tighten(db_path.with_name(db_path.name + suffix), FILE_MODE)


def socket_folder(runtime_dir: Path) -> Path:
    """The folder for the socket under a configured ``runtime_dir``: the folder itself
    when it is missing (djml creates it 0700) or already private to this user, else a
    private sub-folder ``djml-<uid>`` (a shared folder such as /tmp is never changed).

    Pure look-up (no creation), so the daemon and every client agree on the path."""
    try:
        st = os.stat(runtime_dir)
    except FileNotFoundError:
        return runtime_dir
    if st.st_uid == os.getuid() and not stat.S_IMODE(st.st_mode) & 0o077:
        return runtime_dir
    return runtime_dir / f"djml-{os.getuid()}"


def prepare_socket_folder(folder: Path) -> None:
    """Make sure the socket's folder exists and only this user can enter it.

    A folder created now is 0700. An existing private sub-folder (``djml-<uid>``) must be
    a real folder of this user with mode 0700: someone else may have made it first in a
    shared /tmp to catch the socket, so anything else is refused, never "fixed". Any
    other existing folder is left as it is (the socket itself is 0600)."""
    folder = Path(folder)
    if make_folder(folder):
        return
    if folder.name != f"djml-{os.getuid()}":
        return
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise NotPrivate(f"{folder} is not a folder (a link?); remove it so djml can make its own")
    if st.st_uid != os.getuid():
        raise NotPrivate(f"{folder} belongs to another user (uid {st.st_uid}); remove it so djml can make its own")
    if stat.S_IMODE(st.st_mode) != FOLDER_MODE:
        raise NotPrivate(f"{folder} has mode {stat.S_IMODE(st.st_mode):o}, not 700; remove it or chmod 700 it")
