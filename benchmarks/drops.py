"""Drop files into a watched folder the way a copier finishes them (a rename in is "file
closed") and time each until the daemon reports it added — shared by the daemon and speed
benchmarks so both measure latency the same way."""

from __future__ import annotations

import os
import time
from pathlib import Path


def drop_and_wait(socket: Path, files: list[Path], folder: Path,
                  spacing: float = 0.0) -> tuple[dict[str, float], dict[str, float], int]:
    """Rename ``files`` into ``folder`` at once, or one every ``spacing`` seconds (files
    arriving during a copy); returns (closed_at, added_at, failed), the monotonic times
    per target path and how many failed for good."""
    from djml.client import Client

    closed_at: dict[str, float] = {}
    added_at: dict[str, float] = {}
    failed = 0
    with Client(socket, timeout=None) as client:
        client.subscribe(["item.added", "item.failed"])
        for i, f in enumerate(files):
            if spacing and i:
                time.sleep(spacing)
            target = folder / f.name
            os.replace(f, target)
            closed_at[str(target)] = time.monotonic()
        while len(added_at) + failed < len(files):
            name, data = client.next_event(timeout=600)
            if name == "item.added":
                added_at[data["path"]] = time.monotonic()
            elif data.get("final"):
                failed += 1
    return closed_at, added_at, failed
