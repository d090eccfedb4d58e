"""`djml analyze`: the analysis engine on its own, no library involved."""

from __future__ import annotations

from pathlib import Path

import click

from djml.cli import EXIT_PARTIAL


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["track", "sample", "auto"]), default="auto", show_default=True,
              help="Treat files as tracks or samples; auto decides by duration.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file (errors as {path, error}).")
@click.option("--workers", type=click.IntRange(min=1), help="Analysis processes (default: from config).")
@click.pass_obj
def analyze(state, files: tuple[Path, ...], kind: str, as_json: bool, workers: int | None) -> None:
    """Analyse audio FILES and print BPM (with octave candidates), key (standard, ID3,
    Camelot, Open Key), energy, loudness — and for samples: one-shot or loop, attack,
    decay, brightness, pitch. Nothing is written to the library.

    Exit code 1 if any file could not be analysed (the reason is printed).
    While the daemon runs, its warm workers analyse the files (each opened here and
    handed over as an open file, so it reads nothing you could not), unless --workers
    is given.

    \b
    Examples:
      djml analyze "01 Night Bus.flac"
      djml analyze --kind sample Kicks/*.wav
      djml analyze --json *.mp3 | jq '{path, bpm, camelot}'
    """
    from djml.describe import describe_all
    from djml.pipeline import Settings

    config = state.config
    settings = Settings(sample_max_seconds=config.sample_max_seconds, bpm_range=(config.bpm_min, config.bpm_max))
    paths = [str(f.expanduser().absolute()) for f in files]
    forced = None if kind == "auto" else kind
    by_path = {}
    for row in describe_all(paths, min(workers or config.workers, len(paths)), settings,
                            kind_for=lambda _path: forced, memory_mb=config.worker_memory_mb):
        by_path[row["path"]] = row
    rows = [by_path[p] for p in paths]  # input order, whatever order workers finished in
    if as_json:
        from djml.render import json_lines

        json_lines(rows)
    else:
        from djml.analyze_view import print_table

        print_table(rows)
    if any("error" in row for row in rows):
        raise click.exceptions.Exit(EXIT_PARTIAL)
