"""Writing and editing ``config.toml``: `djml init` writes a commented file; `djml folders
add|remove` and `djml buckets rename|delete` change one setting in the user's file.

Why tomlkit and not a hand-written writer: a hand-made TOML string once produced files the
loader rejected (a bucket name with a newline), and an edit must keep the comments and
layout the user put in their file. Every text goes through tomlkit's escaping; before a
file is replaced, the new text is parsed and validated with :func:`djml.config.from_dict`,
so djml never writes a config it would refuse to load. The replacement is atomic (temp
file, fsync, rename) and keeps the file's mode.

tomlkit is imported only here, and only commands that write the config import this module.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit

from djml.config import Config, ConfigError, default_runtime_dir, from_dict

_HEADER = "djml configuration — see `djml init --help` and the README."
# (key, comment above it) in the order a new file lists them
_LAYOUT: tuple[tuple[str, str], ...] = (
    ("library", "Folders with full tracks (DJ library); `djml folders add --library DIR` adds one."),
    ("samples", "Folders with one-shots and loops (sample packs); `djml folders add --samples DIR`."),
    ("data_dir", "Where the library database, models and similarity index live."),
    ("workers", "Analysis worker processes (default: cores - 1)."),
    ("sample_max_seconds", "Files outside the folders above: shorter than this is a sample, longer a track."),
    ("bpm_min", "BPM folding range for tracks (octave errors are folded into it)."),
    ("bpm_max", ""),
    ("review_threshold", "Predictions below this confidence go to the review queue."),
    ("retrain_after", "Retrain a model after this many new labels."),
    ("retrain_schedule", "The daemon also retrains when new labels exist: weekly, daily, off or cron ('30 4 * * 1')."),
    ("quiet_hours", "No automatic training starts in these local hours ('18-02'; '' = none)."),
    ("drift_threshold", "Say so when new items' features move this far (KL divergence) from a model's training items."),
    ("settle_seconds", "A file must keep the same size and mtime this long before it is analysed."),
    ("polling", "Use a polling watcher (for SMB/NFS mounts where inotify sees nothing)."),
    ("embed_text", "Text embeddings (all-MiniLM-L6-v2, offline) of artist/title/genre for similarity."),
    ("buckets", "Your crate buckets (`djml buckets` lists, renames and deletes them)."),
)


def values(config: Config) -> dict[str, Any]:
    """The settings of ``config`` as TOML values (paths as text)."""
    out: dict[str, Any] = {
        "library": [str(p) for p in config.library], "samples": [str(p) for p in config.samples],
        "data_dir": str(config.data_dir), "workers": config.workers,
        "sample_max_seconds": config.sample_max_seconds, "bpm_min": config.bpm_min, "bpm_max": config.bpm_max,
        "review_threshold": config.review_threshold, "retrain_after": config.retrain_after,
        "retrain_schedule": config.retrain_schedule, "quiet_hours": config.quiet_hours,
        "drift_threshold": config.drift_threshold, "settle_seconds": config.settle_seconds, "polling": config.polling, "embed_text": config.embed_text,
        "buckets": list(config.buckets),
    }
    if config.runtime_dir is not None and config.runtime_dir != default_runtime_dir():
        out["runtime_dir"] = str(config.runtime_dir)
    if config.tag_template is not None:
        out["tag_template"] = config.tag_template
        out["tag_template_field"] = config.tag_template_field
    if config.playlist_buckets:
        out["playlist_buckets"] = dict(config.playlist_buckets)
    return out


def render(config: Config) -> str:
    """A complete, commented config file for ``config``."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(_HEADER))
    settings = values(config)
    for key, comment in _LAYOUT:
        if comment:
            doc.add(tomlkit.comment(comment))
        doc.add(key, _array(settings[key]) if isinstance(settings[key], list) else settings[key])
    if "runtime_dir" in settings:
        doc.add(tomlkit.comment("Where the daemon's socket lives."))
        doc.add("runtime_dir", settings["runtime_dir"])
    if "tag_template" in settings:
        doc.add(tomlkit.comment("`djml tags write` renders this into the comment or grouping tag."))
        doc.add("tag_template", settings["tag_template"])
        doc.add("tag_template_field", settings["tag_template_field"])
    if "playlist_buckets" in settings:  # a table comes after every top-level key
        doc.add(tomlkit.nl())
        doc.add(tomlkit.comment("`djml import`: tracks in these playlists get these buckets."))
        doc.add("playlist_buckets", settings["playlist_buckets"])
    return tomlkit.dumps(doc)


def write(config: Config) -> None:
    """Write ``config`` as a new file (what `djml init` does)."""
    _replace(config.config_path, render(config))


def edit(config: Config, change: Callable[[dict[str, Any]], None]) -> Config:
    """Apply ``change`` to the settings of the user's config file and write it back with its
    comments and layout kept; a missing file is created from ``config``. ``change`` gets a
    plain dict of the file's settings (missing keys filled in from ``config``) and edits it
    in place. Returns the validated new config; ``config`` itself is updated to match."""
    path = config.config_path
    if path.exists():
        text = path.read_text(encoding="utf-8")
        doc = tomlkit.parse(text)
    else:
        doc = tomlkit.parse(render(config))
    before = values(config)
    wanted = {**before, **{k: v for k, v in doc.unwrap().items()}}
    change(wanted)
    for key, value in wanted.items():
        current = doc.get(key)
        if current is not None and _plain(current) == value:
            continue
        if current is None and value == before.get(key):
            continue  # a default the file never mentioned stays unmentioned
        doc[key] = _array(value) if isinstance(value, list) else value
    for key in [k for k in doc if k not in wanted]:
        del doc[key]
    new = _replace(path, tomlkit.dumps(doc))
    for name in ("library", "samples", "buckets", "playlist_buckets"):
        setattr(config, name, getattr(new, name))
    return new


def _validated(path: Path, text: str) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # a tomlkit bug; never write such a file
        raise ConfigError(f"refusing to write a file that is not valid TOML ({exc})", path=path) from None
    return from_dict(raw, path)


def _array(items: list) -> Any:
    """A TOML array, one entry per line once it holds more than one path (easy to edit)."""
    array = tomlkit.array()
    array.extend(items)
    if len(items) > 1:
        array.multiline(True)
    return array


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _replace(path: Path, text: str) -> Config:
    """Validate, then atomically replace ``path`` with ``text``; returns the new config."""
    new = _validated(path, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return new
