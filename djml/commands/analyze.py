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
        _print_table(rows)
    if any("error" in row for row in rows):
        raise click.exceptions.Exit(EXIT_PARTIAL)


def _print_table(rows: list[dict]) -> None:
    """One block per file: the name with kind, length and loudness, then the findings on an
    indented line wrapped at word boundaries, so 80 columns read as well as 200 (a
    nine-column table shredded every cell at 80). A failure is one line with the full path."""
    import textwrap

    from rich.text import Text

    from djml.render import console, fmt_bpm, fmt_duration, fmt_loudness
    from djml.safetext import display

    out = console()
    for r in rows:
        if "error" in r:
            line = Text("error ", style="red")
            line.append(f"{display(r['path'])}: {display(r['error'])}")
            out.print(line, soft_wrap=True)
            continue
        head = Text(display(Path(r["path"]).name), style="bold")
        head.append(f"  {r['kind']} · {fmt_duration(r.get('duration'))}", style="dim")
        if (level := fmt_loudness(r)) is not None:
            head.append(f" · {level}", style="dim")
        out.print(head, soft_wrap=True)
        facts = []
        if r.get("bpm") is not None:
            candidates = ", ".join(f"{c:.0f}" for c in (r.get("bpm_candidates") or [])[:3])
            detail = "; ".join(x for x in (f"confidence {r['bpm_confidence']:.2f}" if r.get("bpm_confidence")
                                           is not None else "", f"candidates {candidates}" if candidates else "") if x)
            facts.append(f"BPM {fmt_bpm(r['bpm'], r.get('bpm_ambiguous'))}" + (f" ({detail})" if detail else ""))
        if r.get("key"):
            facts.append(f"key {r['key']} · {r['camelot']} · {r.get('open_key') or ''} · ID3 {r.get('key_id3') or ''}"
                         + (f" ({r['key_confidence']:.2f})" if r.get("key_confidence") is not None else ""))
        if r.get("energy") is not None:
            facts.append(f"energy {r['energy']:.1f}")
        if r["kind"] == "sample":
            facts.append(" · ".join(str(x) for x in (r.get("sample_type"), r.get("note"),
                                                     f"loop at {r['loop_bpm']:.1f} BPM" if r.get("loop_bpm") else None,
                                                     f"attack {r['attack']:.3f} s" if r.get("attack") is not None else None,
                                                     f"decay {r['decay']:.2f} s" if r.get("decay") is not None else None)
                                if x))
        text = "   ".join(f for f in facts if f) or "no tempo or key found"
        out.print(textwrap.fill(text, width=max(40, out.width), initial_indent="  ", subsequent_indent="  "),
                  markup=False, soft_wrap=True)
