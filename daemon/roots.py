"""Which configured folders exist, and as which folder: the daemon re-watches a folder
that was deleted and created again, or a drive mounted on its mount point, without a
restart.

Why polling the roots: inotify watches an inode, not a path. A watched folder that is
deleted takes its watch with it, and a drive mounted over an empty mount point hides the
watched folder behind a new one; neither sends an event for what comes next. Comparing
(device, inode) of each root every few seconds is a handful of ``stat`` calls.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

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


class RootWatch:
    """Which roots changed identity since the last poll, and which are paused.

    A root is *paused* when its files cannot be judged (it looks unmounted or emptied, see
    :func:`djml.scan.unmounted_reason`, or the folder itself was deleted): its files are
    not marked missing and `djml status` says why, until a scan finds it back."""

    def __init__(self, seen: dict[Path, Identity]) -> None:
        self.seen = seen
        self.paused: dict[str, str] = {}
        self._lost: set[str] = set()    # deleted while watched: watch again when back

    def lost(self, root: str) -> None:
        self.paused[root] = "the folder was deleted or its drive removed"
        self._lost.add(root)
        log.warning("%s vanished: paused until it is back", root)

    def poll(self, now: dict[Path, Identity]) -> list[Path]:
        """Roots to watch again: changed identity, or lost and back (a re-created folder
        may get the deleted one's inode number back)."""
        moved = changed(self.seen, now)
        moved += [root for root, ident in now.items()
                  if str(root) in self._lost and ident is not None and root not in moved]
        self._lost.difference_update(str(root) for root in moved)
        self.seen = now
        return moved

    def note(self, roots: list[Path], paused: dict[str, str]) -> None:
        """A scan judged ``roots``: remember which look unmounted (warned once each)."""
        for root in map(str, roots):
            if root in paused:
                if root not in self.paused:
                    log.warning("paused %s: %s; its files are not marked missing", root, paused[root])
                self.paused[root] = paused[root]
            elif self.paused.pop(root, None) is not None:
                log.info("%s is back: no longer paused", root)

    def warnings(self) -> list[str]:
        return [f"paused {root}: {why}; its files are not marked missing until it is back"
                for root, why in sorted(self.paused.items())]
