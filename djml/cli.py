"""The `djml` command line.

Commands live in small modules under :mod:`djml.commands` and are imported only when
used, so `djml --help` and one-shots like `djml ls` never pay for torch, librosa or
sentence-transformers; the click group itself is :mod:`djml.commands.group`, and while a
daemon runs `djml ls` and `djml recommend` are answered without loading click at all
(:mod:`djml.oneshot`). Exit codes are the same everywhere:

    0  success
    1  the command ran but some items failed (e.g. unreadable files during a scan)
    2  usage or configuration error (bad option, invalid config, no library yet)
"""

from __future__ import annotations

import sys
from pathlib import Path

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing: CLI one-shots import this
if TYPE_CHECKING:
    from typing import Any

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2

# name -> (module under djml.commands, attribute, one-line help shown by `djml --help`).
# Help text lives here so listing commands imports none of their modules.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("setup", "init", "Create the config: which folders hold tracks and samples."),
    "demo": ("setup", "demo", "Generate a demo library (no network), scan it and show results."),
    "scan": ("library", "scan", "Scan folders into the library (analyses new and changed files)."),
    "ls": ("library", "ls", "List items with filters (BPM, key, kind, genre, text search)."),
    "show": ("library", "show", "Show every stored fact about one item."),
    "label": ("labels", "label", "Label one item (bucket, sample class, genre, mood)."),
    "unlabel": ("labels", "unlabel", "Undo the newest label of one item."),
    "buckets": ("labels", "buckets", "List, create, rename and delete your crate buckets."),
    "folders": ("folders", "folders", "List, add or remove the folders djml watches."),
    "analyze": ("analyze", "analyze", "Analyse audio files without touching the library."),
    "status": ("daemon", "status", "Queue, throughput, failures, models and library counts."),
    "daemon": ("daemon", "daemon", "Run, start, stop or check the background daemon."),
    "export": ("interop", "export_cmd", "Export to rekordbox XML, Traktor NML or M3U8 playlists."),
    "import": ("interop", "import_cmd", "Import BPM, key, genre, playlists and history from DJ software."),
    "tags": ("interop", "tags", "Write BPM, key, genre and a comment into the files' tags (with undo)."),
    "recommend": ("recommend", "recommend", "Suggest the next track (or similar samples), with reasons."),
    "tui": ("tui", "tui", "Open the terminal UI: review queue, library, recommendations, status."),
    "review": ("tui", "review", "Label unsure items, most useful first (the TUI's review queue)."),
    "train": ("models", "train", "Train a model (samples, buckets, genre, mood) from your labels."),
    "evaluate": ("models", "evaluate", "Cross-validate a model on your labels (or the recommender)."),
    "models": ("models", "models", "List, activate, roll back, compare and delete model versions."),
    "predict": ("models", "predict", "Predict one item now; --debug explains why."),
    "import-labels": ("models", "import_labels", "Import training labels from a CSV (all rows or none)."),
    "feedback": ("models", "feedback", "Import label corrections from a CSV (track_id,correct_bucket)."),
    "export-predictions": ("models", "export_predictions", "Write predictions (e.g. unsure ones) as CSV."),
}


class State:
    """Per-invocation state: the config is loaded lazily, once."""

    library_path: Path | None = None

    def __init__(self, config_path: Path | None):
        self.config_path = config_path
        self._config = None

    @property
    def config(self):
        if self._config is None:
            from djml import config

            self._config = config.load(self.config_path)
            State.library_path = self._config.db_path   # named in a damaged-library message
        return self._config

    def reader(self):
        """A read-only library connection. Once a config exists (`djml init` ran) a missing
        library is created empty, so `status` or `ls` right after init report an empty
        library instead of an error; without a config they say to run `djml init`."""
        from djml import db

        return db.connect_readonly(self.config.db_path, create=self.config.config_path.exists())


def main() -> None:
    """Console entry point: a daemon's one-shot answer when it can give one, else the click
    command, with known errors turned into one clear line and exit code 2."""
    from djml.oneshot import run
    from djml.safetext import escape_streams

    escape_streams()
    code = run(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    _click_main()


def _click_main() -> None:
    import sqlite3

    import click

    from djml.commands.group import cli
    from djml.config import ConfigError
    from djml.errors import DatabaseError

    try:
        # Without standalone mode click returns the code of click.exceptions.Exit.
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (ConfigError, DatabaseError) as exc:
        click.echo(f"djml: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except sqlite3.Error as exc:   # damaged library, full disk: one line, what was kept, what to do
        from djml.config import default_data_dir
        from djml.db import explain

        click.echo(f"djml: {explain(exc, State.library_path or default_data_dir() / 'library.db')}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()  # `djml ls | head` is not an error
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def __getattr__(name: str) -> Any:
    """``djml.cli.cli`` (the click group) and ``LazyGroup``, loaded with click when asked."""
    if name in ("cli", "LazyGroup"):
        from djml.commands import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
