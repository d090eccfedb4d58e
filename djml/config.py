"""Configuration: where the user's music lives, where djml keeps its data, thresholds.

Resolution order for the config file: ``--config FILE`` > ``$DJML_HOME/config.toml`` >
``$XDG_CONFIG_HOME/djml/config.toml`` (``~/.config``). ``DJML_HOME`` isolates
*everything* (config, data, socket) in one folder, which is what tests and the demo use.

Validation is strict and early: a typo in the config is reported once, naming the key
and the file, instead of surfacing later as a confusing failure deep in a scan.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from djml.locate import default_config_path, default_data_dir, default_runtime_dir, resolve, socket_in

DEFAULT_BUCKETS = ("warm-up", "peak-time", "closing")


class ConfigError(Exception):
    """Invalid or unreadable configuration. The CLI prints it and exits with code 2."""

    def __init__(self, message: str, *, path: Path | None = None, key: str | None = None):
        where = f" in {path}" if path else ""
        what = f"{key}: " if key else ""
        super().__init__(f"{what}{message}{where}")
        self.path = path
        self.key = key


def default_workers() -> int:
    """Cores − 1 (at least 1), counting the cores this process may run on (a container or
    ``taskset`` may allow fewer than the machine has), so one stays free for the user."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):   # not Linux
        cores = os.cpu_count() or 2
    return max(1, cores - 1)


@dataclass
class Config:
    """The user's settings. Paths are absolute and expanded."""

    config_path: Path
    data_dir: Path
    library: list[Path] = field(default_factory=list)
    samples: list[Path] = field(default_factory=list)
    workers: int = field(default_factory=default_workers)
    sample_max_seconds: float = 30.0
    bpm_min: float = 70.0
    bpm_max: float = 180.0
    review_threshold: float = 0.5
    retrain_after: int = 20
    settle_seconds: float = 2.0
    polling: bool = False
    # The daemon embeds "artist - title, genre, BPM, key" with all-MiniLM-L6-v2 for text
    # similarity (loading it costs ~10 s and ~450 MB once); false skips it.
    embed_text: bool = True
    # The text model runs in a worker process that exits after this many seconds without
    # an embedding, giving its ~450 MB back (the next embedding loads it again, seconds).
    text_model_idle_seconds: float = 120.0
    # Address-space cap of each analysis worker (RLIMIT_AS), so one file whose analysis
    # explodes fails with "out of memory" instead of taking the machine down. Measured
    # peaks: ~0.3 GB for a 1-hour FLAC, ~0.55 GB for a 5-minute float WAV; 0: no cap.
    worker_memory_mb: int = 2048
    buckets: list[str] = field(default_factory=lambda: list(DEFAULT_BUCKETS))
    runtime_dir: Path | None = None
    # rekordbox/Traktor/M3U playlist name -> bucket: `djml import` labels its tracks.
    playlist_buckets: dict[str, str] = field(default_factory=dict)
    # `djml tags write` renders this into the comment (or grouping) tag; None = leave it.
    tag_template: str | None = None
    tag_template_field: str = "comment"
    # Where analysis runs: None = local process pool; "local:N" or "tcp://host:8786" = a Dask
    # cluster (djml[cluster]); paths rewritten "FROM=TO" for the workers, or bytes shipped.
    cluster: str | None = None
    cluster_map_path: list[str] = field(default_factory=list)
    cluster_ship_bytes: bool = False
    # Models watching themselves (djml.daemon.monitor): when the daemon retrains on its own,
    # when it may not start a training, how much a feature may move before it says so.
    retrain_schedule: str = "weekly"
    quiet_hours: str = ""
    drift_threshold: float = 0.1
    monitor_seconds: float = 300.0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "library.db"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def socket_path(self) -> Path:
        """See :func:`djml.locate.socket_in` (clients find it there without a Config)."""
        return socket_in(self.data_dir, self.runtime_dir)

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "daemon.pid"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "daemon.log"

    @property
    def roots(self) -> list[Path]:
        """Every configured music folder; the daemon and protocol never go outside these."""
        return [*self.library, *self.samples]

    def kind_for(self, path: Path) -> str | None:
        """'sample' or 'track' when a configured folder decides it, else None (ask duration)."""
        for root in self.samples:
            if path.is_relative_to(root):
                return "sample"
        for root in self.library:
            if path.is_relative_to(root):
                return "track"
        return None


# key in TOML -> (attribute, expected python type(s), description for errors)
_SCALARS: dict[str, tuple[str, tuple[type, ...], str]] = {
    "workers": ("workers", (int,), "a whole number >= 1"),
    "sample_max_seconds": ("sample_max_seconds", (int, float), "seconds > 0"),
    "bpm_min": ("bpm_min", (int, float), "a BPM > 0"),
    "bpm_max": ("bpm_max", (int, float), "a BPM > bpm_min"),
    "review_threshold": ("review_threshold", (int, float), "a number between 0 and 1"),
    "retrain_after": ("retrain_after", (int,), "a whole number >= 1"),
    "settle_seconds": ("settle_seconds", (int, float), "seconds >= 0"),
    "polling": ("polling", (bool,), "true or false"),
    "embed_text": ("embed_text", (bool,), "true or false"),
    "text_model_idle_seconds": ("text_model_idle_seconds", (int, float), "seconds >= 0"),
    "cluster_ship_bytes": ("cluster_ship_bytes", (bool,), "true or false"),
    "worker_memory_mb": ("worker_memory_mb", (int,), "megabytes >= 256, or 0 for no cap"),
    "retrain_schedule": ("retrain_schedule", (str,), "weekly, daily, off or a cron line such as '30 4 * * 1'"),
    "quiet_hours": ("quiet_hours", (str,), "hours HH-HH such as '18-02' (or '' for none)"),
    "drift_threshold": ("drift_threshold", (int, float), "a KL divergence > 0 such as 0.1"),
    "monitor_seconds": ("monitor_seconds", (int, float), "seconds > 0 between the daemon's model checks"),
}
_PATH_LISTS = ("library", "samples")
_KNOWN = set(_SCALARS) | set(_PATH_LISTS) | {
    "data_dir", "runtime_dir", "buckets", "playlist_buckets", "tag_template", "tag_template_field",
    "cluster", "cluster_map_path",
}
# Placeholders `tag_template` may use, with example values to check the template at load.
TAG_TEMPLATE_EXAMPLE: dict[str, Any] = {
    "camelot": "8A", "open_key": "1m", "key": "A minor", "key_id3": "Am", "bpm": 126.0,
    "energy": 7, "bucket": "peak-time", "genre": "Techno", "artist": "Artist", "title": "Title",
}
TAG_TEMPLATE_FIELDS = ("comment", "grouping")


def load(path: Path | None = None) -> Config:
    """Read and validate the config. A missing default file gives a usable empty config."""
    explicit = path is not None
    path = Path(path) if path else default_config_path()
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML ({exc})", path=path) from None
        except OSError as exc:
            raise ConfigError(f"cannot read ({exc.strerror})", path=path) from None
    elif explicit:
        raise ConfigError("file does not exist", path=path)
    return from_dict(raw, path)


def from_dict(raw: dict[str, Any], path: Path) -> Config:
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise ConfigError(
            f"unknown setting (known: {', '.join(sorted(_KNOWN))})", path=path, key=unknown[0]
        )
    base = path.parent
    config = Config(
        config_path=path,
        data_dir=_path_value(raw, "data_dir", base, path) or default_data_dir(),
        runtime_dir=_path_value(raw, "runtime_dir", base, path) or default_runtime_dir(),
    )
    for key in _PATH_LISTS:
        value = raw.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError("must be a list of folder paths", path=path, key=key)
        setattr(config, key, [resolve(v, base) for v in value])
    for key, (attr, types, description) in _SCALARS.items():
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise ConfigError(f"must be {description}, got {value!r}", path=path, key=key)
        setattr(config, attr, value)
    if "buckets" in raw:
        buckets = raw["buckets"]
        if not isinstance(buckets, list) or not all(isinstance(b, str) and b.strip() for b in buckets):
            raise ConfigError("must be a list of bucket names", path=path, key="buckets")
        config.buckets = [b.strip() for b in buckets]
    _interop_settings(raw, config, path)
    _cluster_settings(raw, config, path)
    _check_ranges(config, path)
    return config


def _interop_settings(raw: dict[str, Any], config: Config, path: Path) -> None:
    """playlist_buckets (a table: playlist name -> one of `buckets`) and the tag template."""
    mapping = raw.get("playlist_buckets", {})
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in mapping.items()
    ):
        raise ConfigError('must be a table of "playlist name" = "bucket"', path=path, key="playlist_buckets")
    for playlist, bucket in mapping.items():
        if bucket.strip() not in config.buckets:
            raise ConfigError(
                f"{playlist!r} maps to unknown bucket {bucket!r} (buckets: {', '.join(config.buckets)};"
                " add it to `buckets` first)", path=path, key="playlist_buckets")
    config.playlist_buckets = {k: v.strip() for k, v in mapping.items()}
    if "tag_template" in raw:
        template = raw["tag_template"]
        if not isinstance(template, str) or not template.strip():
            raise ConfigError("must be a text template", path=path, key="tag_template")
        try:
            template.format(**TAG_TEMPLATE_EXAMPLE)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"bad template {template!r} ({type(exc).__name__}: {exc}); placeholders:"
                f" {', '.join('{' + k + '}' for k in TAG_TEMPLATE_EXAMPLE)}", path=path, key="tag_template",
            ) from None
        config.tag_template = template
    if "tag_template_field" in raw:
        if raw["tag_template_field"] not in TAG_TEMPLATE_FIELDS:
            raise ConfigError(f"must be one of {', '.join(TAG_TEMPLATE_FIELDS)}, got {raw['tag_template_field']!r}",
                              path=path, key="tag_template_field")
        config.tag_template_field = raw["tag_template_field"]


def _cluster_settings(raw: dict[str, Any], config: Config, path: Path) -> None:
    """``cluster`` and ``cluster_map_path``, checked here so a typo fails at load, not mid-scan."""
    if "cluster" in raw:
        if not isinstance(raw["cluster"], str):
            raise ConfigError('must be an address ("tcp://host:8786") or "local:N"', path=path, key="cluster")
        config.cluster = raw["cluster"].strip() or None
    maps = raw.get("cluster_map_path", [])
    if isinstance(maps, str):
        maps = [maps]
    if not isinstance(maps, list) or not all(isinstance(m, str) for m in maps):
        raise ConfigError('must be a list of "FROM=TO" path prefixes', path=path, key="cluster_map_path")
    config.cluster_map_path = maps
    if not (config.cluster or maps or config.cluster_ship_bytes):
        return                       # the local pool: nothing to check, nothing to import
    from djml.executors import parse_cluster

    try:
        parse_cluster(config.cluster, config.cluster_map_path, config.cluster_ship_bytes)
    except ValueError as exc:
        raise ConfigError(str(exc), path=path, key="cluster") from None


def _check_ranges(config: Config, path: Path) -> None:
    checks = [
        ("workers", config.workers >= 1),
        ("sample_max_seconds", config.sample_max_seconds > 0),
        ("bpm_min", config.bpm_min > 0),
        ("bpm_max", config.bpm_max > config.bpm_min),
        ("review_threshold", 0 <= config.review_threshold <= 1),
        ("retrain_after", config.retrain_after >= 1),
        ("settle_seconds", config.settle_seconds >= 0),
        ("text_model_idle_seconds", config.text_model_idle_seconds >= 0),
        ("worker_memory_mb", config.worker_memory_mb == 0 or config.worker_memory_mb >= 256),
        ("drift_threshold", config.drift_threshold > 0),
        ("monitor_seconds", config.monitor_seconds > 0),
    ]
    from djml.cron import ScheduleError, parse_quiet_hours, parse_schedule

    for key, parse in (("retrain_schedule", parse_schedule), ("quiet_hours", parse_quiet_hours)):
        try:
            parse(getattr(config, key))
        except ScheduleError as exc:
            raise ConfigError(str(exc), path=path, key=key) from None
    for key, ok in checks:
        if not ok:
            description = _SCALARS[key][2]
            raise ConfigError(
                f"must be {description}, got {getattr(config, _SCALARS[key][0])!r}",
                path=path,
                key=key,
            )


def _path_value(raw: dict[str, Any], key: str, base: Path, path: Path) -> Path | None:
    if key not in raw:
        return None
    if not isinstance(raw[key], str) or not raw[key].strip():
        raise ConfigError("must be a folder path", path=path, key=key)
    return resolve(raw[key], base)

