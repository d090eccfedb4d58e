"""Adding and removing watched folders: `djml folders add|remove`, and the daemon's
``folders.*`` methods (which then watch and scan the new folder at once).

Only the ``library``/``samples`` lists of config.toml change, through
:func:`djml.configfile.edit`, so the rest of the user's file (comments included) stays as
it is. Removing a folder stops watching it; its items, labels and history stay in the
library (a folder unplugged by mistake costs nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from djml.errors import ActionError

if TYPE_CHECKING:
    from djml.config import Config

KINDS = {"library": "track", "samples": "sample"}


def listing(config: "Config") -> dict[str, Any]:
    return {kind: [{"path": str(p), "exists": p.is_dir()} for p in getattr(config, kind)] for kind in KINDS}


def _file_paths(config: "Config", values: list[str]) -> list[Path]:
    """The folders a config list names, resolved the way :mod:`djml.config` reads them."""
    base = config.config_path.parent
    out = []
    for value in values:
        p = Path(value).expanduser()
        out.append((p if p.is_absolute() else base / p).resolve())
    return out


def add(config: "Config", path: str, kind: str = "library") -> dict[str, Any]:
    """Add ``path`` (absolute) to the ``kind`` folders ("library" = tracks, "samples")."""
    from djml import configfile

    if kind not in KINDS:
        raise ActionError("invalid_params", f"kind must be library or samples, got {kind!r}")
    folder = Path(path).expanduser()
    if not folder.is_absolute():
        raise ActionError("invalid_params", f"give an absolute folder path, got {path!r}")
    folder = folder.resolve()
    if not folder.is_dir():
        raise ActionError("not_found", f"{folder} is not a folder")
    data = config.data_dir.resolve()
    if folder == data or folder.is_relative_to(data):
        raise ActionError("invalid_params", f"{folder} is djml's own data folder")
    for other_kind in KINDS:
        for known in getattr(config, other_kind):
            if folder == known:
                where = "already" if other_kind == kind else f"already a {other_kind} folder;"
                raise ActionError("invalid_params", f"{folder} is {where} watched"
                                                    + ("" if other_kind == kind else " remove it first"))
            if other_kind == kind and folder.is_relative_to(known):
                raise ActionError("invalid_params", f"{folder} is inside {known}, which is already watched")

    def change(settings: dict[str, Any]) -> None:
        inside = [v for v, p in zip(settings[kind], _file_paths(config, settings[kind])) if p.is_relative_to(folder)]
        settings[kind] = [v for v in settings[kind] if v not in inside] + [str(folder)]

    absorbed = [str(p) for p in getattr(config, kind) if p.is_relative_to(folder)]
    configfile.edit(config, change)
    return {"path": str(folder), "kind": kind, "replaced": absorbed, "config": str(config.config_path)}


def remove(config: "Config", path: str) -> dict[str, Any]:
    """Stop watching ``path`` (a configured library or samples folder)."""
    from djml import configfile

    folder = Path(path).expanduser()
    wanted = folder.resolve() if folder.is_absolute() else None
    for kind in KINDS:
        for known in getattr(config, kind):
            if known == wanted or str(known) == path:
                def change(settings: dict[str, Any], kind: str = kind, known: Path = known) -> None:
                    settings[kind] = [v for v, p in zip(settings[kind], _file_paths(config, settings[kind]))
                                      if p != known]
                configfile.edit(config, change)
                return {"path": str(known), "kind": kind, "config": str(config.config_path)}
    configured = [str(p) for kind in KINDS for p in getattr(config, kind)]
    raise ActionError("not_found", f"{path} is not a watched folder (watched: {', '.join(configured) or 'none'})")
