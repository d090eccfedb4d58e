"""Which configured folders exist, and as which folder: the daemon re-watches a folder
that was deleted and created again, or a drive mounted on its mount point, without a
restart.

Why polling the roots: inotify watches an inode, not a path. A watched folder that is
deleted takes its watch with it, and a drive mounted over an empty mount point hides the
watched folder behind a new one; neither sends an event for what comes next. Comparing
(device, inode) of each root every few seconds is a handful of ``stat`` calls.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECK_SECONDS = 2.0

Identity = tuple[int, int] | None


def identity(root: Path) -> Identity:
    """(device, inode) of a folder; None when it is missing or not a folder."""
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(root) else None


def identities(roots: list[Path]) -> dict[Path, Identity]:
    return {root: identity(root) for root in roots}


def changed(before: dict[Path, Identity], now: dict[Path, Identity]) -> list[Path]:
    """Roots that appeared, vanished or became another folder since ``before``."""
    return [root for root, ident in now.items() if before.get(root, None) != ident or root not in before]
