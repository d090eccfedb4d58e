"""The DJ-software formats djml reads and writes, in one table.

A new format is one new module with ``parse(path, *, path_map)`` and ``export(...)`` plus
one line here (its adapter to :class:`ExportRequest`); `djml export` and `djml import`
take their choices and their code from this table, so no command grows an ``if/elif``.
Modules are imported when a format is used (listing the names imports none of them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djml.interop.model import ExportTrack, ForeignCollection, PathMap

Playlists = list[tuple[str, str, list["ExportTrack"]]]


@dataclass(frozen=True)
class ExportRequest:
    """Everything an exporter may use; each format takes what it needs."""

    tracks: list["ExportTrack"]
    playlists: Playlists
    out: Path
    bucket_order: list[str]
    path_map: "PathMap"
    relative: bool = False     # m3u: paths relative to each playlist
    volume: str = ""           # traktor: the disk name of "/" on the Traktor computer


@dataclass(frozen=True)
class Format:
    module: str                                # djml.interop.<name>: parse() and export()
    export_with: Callable[[Any, ExportRequest], Any]   # (the module, the request): its export() call

    def parse(self, path: Path, *, path_map: "PathMap | None" = None) -> "ForeignCollection":
        return importlib.import_module(self.module).parse(path, path_map=path_map)

    def export(self, request: ExportRequest) -> Any:
        return self.export_with(importlib.import_module(self.module), request)


FORMATS: dict[str, Format] = {
    "rekordbox": Format("djml.interop.rekordbox",
                        lambda m, r: m.export(r.tracks, r.playlists, r.out, bucket_order=r.bucket_order,
                                              path_map=r.path_map)),
    "traktor": Format("djml.interop.traktor",
                      lambda m, r: m.export(r.tracks, r.playlists, r.out, bucket_order=r.bucket_order,
                                            path_map=r.path_map, boot_volume=r.volume)),
    "m3u": Format("djml.interop.m3u",
                  lambda m, r: m.export(r.playlists, r.out, relative=r.relative, path_map=r.path_map)),
}
