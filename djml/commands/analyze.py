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
    """
    from djml.pipeline import Settings
    from djml.scan import analyse_all

    config = state.config
    settings = Settings(sample_max_seconds=config.sample_max_seconds, bpm_range=(config.bpm_min, config.bpm_max))
    paths = [str(f.expanduser().absolute()) for f in files]
    forced = None if kind == "auto" else kind
    by_path = {}
    for result in analyse_all(paths, min(workers or config.workers, len(paths)), settings,
                              kind_for=lambda _path: forced):
        by_path[result.path] = result
    results = [by_path[p] for p in paths]  # input order, whatever order workers finished in
    rows = [{"path": r.path, "error": r.error} if r.error else r.analysis.to_dict() for r in results]
    if as_json:
        from djml.render import json_lines

        json_lines(rows)
    else:
        _print_table(rows)
    if any("error" in row for row in rows):
        raise click.exceptions.Exit(EXIT_PARTIAL)


def _print_table(rows: list[dict]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from djml.render import console, fmt_bpm, fmt_duration

    table = Table(header_style="bold")
    for column in ("file", "kind", "length", "BPM", "candidates", "key", "energy", "loudness", "sample"):
        table.add_column(column)
    errors = []
    for r in rows:
        name = Path(r["path"]).name
        if "error" in r:  # the reason goes below the table: a narrow cell would shred it
            table.add_row(name, "[red]error[/red]", *["—"] * 7)
            errors.append((r["path"], r["error"]))
            continue
        sample = ""
        if r["kind"] == "sample":
            sample = f"{r.get('sample_type')}"
            if r.get("note"):
                sample += f" · {r['note']}"
            if r.get("loop_bpm"):
                sample += f" · {r['loop_bpm']:.1f} BPM"
        key = f"{r['key']} ({r['camelot']}, {r['key_confidence']:.2f})" if r.get("key") else "—"
        table.add_row(
            name, r["kind"], fmt_duration(r.get("duration")),
            fmt_bpm(r.get("bpm"), r.get("bpm_ambiguous")) + (f" ({r['bpm_confidence']:.2f})" if r.get("bpm_confidence") is not None else ""),
            ", ".join(f"{c:.0f}" for c in r.get("bpm_candidates") or []),
            key,
            f"{r['energy']:.1f}" if r.get("energy") is not None else "—",
            f"{r['loudness']:.1f} dB" if r.get("loudness") is not None else "—",
            sample,
        )
    console().print(table)
    for path, error in errors:
        console().print(f"[red]error[/red] {escape(path)}: {escape(error)}", soft_wrap=True)
