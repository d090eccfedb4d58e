"""`djml scan`, `djml ls`, `djml show`: filling and reading the library."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click

from djml.cli import EXIT_PARTIAL, EXIT_USAGE
from djml.query import SORTS

from .options import filter_options


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--workers", type=click.IntRange(min=1), help="Analysis processes (default: from config).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; only the summary.")
@click.option("--cluster", metavar="ADDRESS|local:N",
              help="Analyse on a Dask cluster: a scheduler address (tcp://host:8786) or local:N to start "
                   "N local workers (default: the config's `cluster`, else the local process pool). "
                   "Needs pip install 'djml[cluster]'.")
@click.option("--map-path", "map_paths", multiple=True, metavar="FROM=TO",
              help="With --cluster: files under FROM here are under TO on the workers (repeatable).")
@click.option("--ship-bytes", is_flag=True,
              help="With --cluster: send each file's bytes to the workers instead of its path "
                   "(workers need no access to the music).")
@click.pass_obj
def scan(state, paths: tuple[Path, ...], workers: int | None, quiet: bool, cluster: str | None,
         map_paths: tuple[str, ...], ship_bytes: bool) -> None:
    """Scan PATHS (default: every configured folder) into the library.

    New and changed files are analysed in parallel; unchanged files (same size, mtime and
    inode) are skipped without being read, and renamed files are recognised by inode or
    by their audio content, so labels survive moves. Files that vanished are marked
    missing, never deleted. Exit code 1 when any file failed (reasons are listed).
    While the daemon runs, the scan is queued with it instead.

    \b
    Examples:
      djml scan                          # every configured folder
      djml scan ~/Music/Tracks/2024      # one folder (or file)
      djml scan -q --workers 2           # no progress bar, e.g. from cron
      djml scan --cluster local:2        # try the Dask backend on this machine
      djml scan --cluster tcp://10.0.0.5:8786 --map-path ~/Music=/mnt/music
    """
    from djml import db
    from djml.executors import ClusterError, executor_options, parse_cluster
    from djml.library import Library
    from djml.scan import scan as run_scan

    config = state.config
    if workers:
        config.workers = workers
    try:
        executor = (parse_cluster(cluster, map_paths, ship_bytes) if cluster or map_paths or ship_bytes
                    else executor_options(config))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    targets = list(paths) or config.roots
    if not targets:
        raise click.UsageError(
            "nothing to scan: give folders (djml scan ~/Music) or configure them with djml init"
        )
    from djml.confine import data_dir_refusal
    from djml.safetext import display

    for target in targets:
        if reason := data_dir_refusal(target, config.data_dir):
            raise click.BadParameter(reason, param_hint="PATHS")
        if not target.exists():
            raise click.BadParameter(f"{display(str(target))} does not exist", param_hint="PATHS")
    if (client := _daemon(state)) is not None:
        if cluster or map_paths or ship_bytes:
            raise click.UsageError("the daemon is running and analyses with its own setting (`cluster` in the "
                                   "config); run `djml scan PATHS` without --cluster, or stop the daemon first")
        _scan_via_daemon(client, paths)
        return
    library = Library(db.connect(config.db_path))
    out = _console()
    progress = None if quiet else _progress(out)
    task = None

    def on_total(n: int) -> None:
        nonlocal task
        if progress is not None and n:
            progress.start()
            task = progress.add_task("Analysing", total=n, file="")

    def on_done(outcome: str, path: str) -> None:
        if progress is not None and task is not None:
            progress.update(task, advance=1, file=Path(path).name[:40])

    try:
        summary = run_scan(config, library, targets, on_total=on_total, on_done=on_done, executor=executor)
    except ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if progress is not None:
            progress.stop()
    errors = enrich(out, library, config, summary.stored_ids)
    _print_summary(out, summary)
    from djml.render import safe

    for error in errors:
        out.print(f"  [red]not done[/red] {safe(error)}", markup=True, highlight=False, soft_wrap=True)
    if summary.failed or errors:
        raise click.exceptions.Exit(EXIT_PARTIAL)


def enrich(out, library, config, item_ids: list[int]) -> list[str]:
    """Predict with the active models and update the similarity index for what a scan
    stored, and for every item an interrupted run left without predictions — the same
    step the daemon runs after each analysis (text embeddings are left to the daemon:
    loading the sentence model costs ~10 s). Returns what failed."""
    from djml.models.enrich import after_store, pending

    todo = sorted({*item_ids, *pending(library)})
    if not todo:
        return []
    with out.status(f"Classifying and indexing {len(todo)} item(s) …"):
        return after_store(library, config, todo).errors


def _daemon(state):
    """A connected client when the daemon runs, else None. While it runs, the daemon is
    the only writer, and reads through it give the same rows as reading the file."""
    from djml.client import connect_if_running

    return connect_if_running(state.config)


def _scan_via_daemon(client, paths: tuple[Path, ...]) -> None:
    from djml.client import RemoteError

    try:
        with client:
            summary = client.call("scan", paths=[str(p.resolve()) for p in paths] or None)
    except RemoteError as exc:
        hint = " (the daemon only scans configured folders)" if exc.code == "forbidden" else ""
        raise click.UsageError(f"{exc.message}{hint}") from None
    click.echo(
        f"The daemon is running: queued {summary['queued'] + summary['settling']} file(s) for analysis "
        f"({summary['unchanged']} unchanged, {summary['moved']} moved, {summary['missing']} missing). "
        "Follow progress with `djml status`.", err=True)
    for root in summary.get("paused", []):
        from djml.render import safe

        click.echo(f"Paused {safe(root)}: it looks unmounted or emptied, so its files were not marked missing; "
                   f"`djml scan {safe(root)}` confirms they are gone.", err=True)


def _query_via_daemon(client, filters: dict, failed: bool) -> Iterator[dict]:
    """All matching rows, fetched page by page (each answer stays a modest line) and
    handed on as they come: a small first page, so the first row shows at once."""
    from djml.query import FIRST_PAGE, MAX_PAGE

    with client:
        if failed:
            yield from client.call("failed")
            return
        wanted, done, page = filters.pop("limit"), 0, FIRST_PAGE
        while True:
            size = page if wanted is None else min(page, wanted - done)
            answer = client.call("query", **filters, limit=size, offset=done)
            yield from answer["items"]
            done += len(answer["items"])
            if not answer["more"] or (wanted is not None and done >= wanted):
                return
            page = MAX_PAGE


def _show_via_daemon(client, ref: str) -> dict | None:
    """A path is made absolute here (the daemon has another working directory)."""
    from djml.client import RemoteError, wire_ref

    with client:
        try:
            return client.call("show", ref=wire_ref(ref))
        except RemoteError as exc:
            if exc.code != "not_found":
                raise
    return None


def _console():
    from djml.render import console

    return console(stderr=True)


def _progress(out):
    from djml.progress import scan_progress

    return scan_progress(out)


def _print_summary(out, summary) -> None:
    from djml.render import safe

    parts = [
        f"[green]{summary.new} new[/green]", f"{summary.unchanged} unchanged",
        f"{summary.updated} updated", *([f"{summary.reanalysed} re-analysed (older analyzer)"]
                                         if summary.reanalysed else []),
        f"{summary.moved} moved", f"{summary.copies} copies",
        f"[yellow]{summary.missing} missing[/yellow]",
        f"[red]{len(summary.failed)} failed[/red]" if summary.failed else "0 failed",
    ]
    out.print("Scan finished: " + " · ".join(parts))
    for path, reason in summary.failed:
        out.print(f"  [red]failed[/red] {safe(path)}: {safe(reason)}", markup=True, highlight=False, soft_wrap=True)
    for path, reason in summary.skipped:
        out.print(f"  [yellow]skipped[/yellow] {safe(path)}: {safe(reason)}", markup=True, highlight=False,
                  soft_wrap=True)


@click.command()
@filter_options()
@click.option("--missing", is_flag=True, help="Only items whose files have all vanished.")
@click.option("--failed", is_flag=True, help="List files that could not be analysed, with reasons.")
@click.option("--sort", type=click.Choice(SORTS), default="id", show_default=True,
              help="Order by this column (key: round the Camelot wheel, 1A 1B 2A …; "
                   "name: artist – title, else file name). Empty values always come last.")
@click.option("--desc", is_flag=True, help="Descending order (empty values still last).")
@click.option("--limit", "-n", type=click.IntRange(min=1), help="At most this many rows (the first in sort order).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (for scripts).")
@click.pass_obj
def ls(state, kind, bpm, energy, key, genre, label, search, missing, failed, sort, desc, limit, as_json) -> None:
    """List library items, filtered.

    In a terminal: a table that fits its width. Piped to another program: one line per
    item, tab-separated (id, kind, name, BPM, key, energy, label, genre, path), so names
    never wrap; --json gives every field.

    \b
    Examples:
      djml ls --bpm 128 --key 8A~          # 127.5–128.5 BPM, keys that mix with 8A
      djml ls --kind track --energy 7-9 --sort bpm --desc -n 20
      djml ls --kind sample --label kick
      djml ls --search kick                # tags and file/folder names
      djml ls --search "daft punk" --json | jq .path
      djml ls --failed
    """
    from djml import query

    wanted = {"kind": kind, "bpm": bpm, "energy": energy, "key": key, "genre": genre, "label": label,
              "search": search, "missing": missing, "sort": sort, "descending": desc, "limit": limit}
    try:
        filters = query.Filters.from_dict(wanted)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if (client := _daemon(state)) is not None:
        rows = _query_via_daemon(client, wanted, failed)
    else:
        conn = state.reader()
        rows = iter(query.list_failed(conn)) if failed else query.iter_items(conn, filters)
    if as_json:
        from djml.render import json_lines

        json_lines(rows)
        return
    from djml.render import console, items_table, plain_lines

    out = console()
    if not failed and not out.is_terminal:   # piped: rows stream out as they are read
        count = plain_lines(rows)
        if count:
            click.echo(f"{count} item(s)", err=True)
            return
        rows = []
    rows = list(rows)
    if failed:
        from djml.render import safe

        for row in rows:
            out.print(f"[red]failed[/red] {safe(row['path'])}: {safe(row['error'])}", soft_wrap=True)
        out.print(f"{len(rows)} failed file(s)")
        return
    if not rows:
        filtered = any([kind, bpm, energy, key, genre, label, search, missing])
        out.print("No items match." if filtered else "The library is empty — run `djml scan` "
                  "(or `djml daemon start` to watch your folders).")
        return
    out.print(items_table(rows))
    out.print(f"[dim]{len(rows)} item(s)[/dim]")


@click.command()
@click.argument("ref", metavar="PATH|ID|TEXT")
@click.option("--all", "show_all", is_flag=True, help="Also every raw analysis value (timbre statistics …).")
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON object.")
@click.pass_obj
def show(state, ref: str, show_all: bool, as_json: bool) -> None:
    """Show every stored fact about one item: tags, analysis, locations, labels (and where
    each came from), predictions, vectors and set history.

    REF is an item id, a file path, or words matched against artist, title and file or
    folder names; when several items match, the best is shown and the others are named.

    \b
    Examples:
      djml show 42
      djml show ./Kicks/BD_Hard_01.wav
      djml show "kilo tape night bus"
      djml show DirtyLove --json | jq .analysis.data.bpm_candidates
    """
    from djml import query

    if (client := _daemon(state)) is not None:
        info = _show_via_daemon(client, ref)
    else:
        info = query.show(state.reader(), ref)
    if info is None:
        click.echo(f"djml: no item matches {ref!r} (try `djml ls --search WORDS`)", err=True)
        raise click.exceptions.Exit(EXIT_USAGE)
    if as_json:
        from djml.safetext import dumps

        click.echo(dumps(info, indent=2))
        return
    from djml.render import warn_ambiguous

    warn_ambiguous(info.get("resolved") or {}, ref, "show")
    _print_item(info, show_all)


_DETAILS = (("first beat", "first_beat", "{:.2f} s"), ("rhythm strength", "rhythm_strength", "{:.2f}"),
            ("attack", "attack", "{:.3f} s"), ("decay", "decay", "{:.3f} s"),
            ("brightness", "brightness", "{:.0f} Hz"), ("noisiness", "noisiness", "{:.3f}"),
            ("pitch", "pitch_hz", "{:.1f} Hz"), ("note", "note", "{}"), ("loop tempo", "loop_bpm", "{:.1f} BPM"))
_SOURCES = {"user": "yours", "import": "imported", "folder": "from the folder name", "tag": "from the file's tag"}


def _print_item(info: dict, show_all: bool = False) -> None:
    from rich.table import Table

    from djml.render import console, fmt_bpm, fmt_duration, fmt_loudness, safe

    out = console()
    name = " – ".join(x for x in (info.get("artist"), info.get("title")) if x) or Path(info["path"] or "?").name
    out.print(f"[bold]#{info['id']} {safe(name)}[/bold]  ({info['kind']})")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    analysis = info.get("analysis") or {}
    data = analysis.get("data", {})
    rows = [
        ("file", Path(info["path"]).name if info.get("path") else None),
        ("album", info.get("album")), ("genre", info.get("genre")), ("year", info.get("year")),
        ("length", fmt_duration(info.get("duration"))),
        ("BPM", f"{fmt_bpm(info.get('bpm'), info.get('bpm_ambiguous'))}"
                + (f"  (confidence {info['bpm_confidence']:.2f}, candidates "
                   f"{', '.join(f'{c:.1f}' for c in data.get('bpm_candidates', []))})"
                   if info.get("bpm_confidence") is not None else "")),
        ("key", f"{info['key']} · {info['camelot']} · {info['open_key']} · ID3 {info['key_id3']}"
                + (f"  (confidence {info['key_confidence']:.2f})" if info.get("key_confidence") is not None else "")
         if info.get("key") else None),
        ("energy", f"{info['energy']:.1f} / 10" if info.get("energy") is not None else None),
        ("loudness", fmt_loudness({**data, "loudness": info.get("loudness")})),
        ("sample type", info.get("sample_type")),
        ("label", _label_text(info)),
        *[(title, fmt.format(data[key])) for title, key, fmt in _DETAILS if data.get(key) is not None],
        ("analyzer", f"v{analysis['analyzer_version']} at {analysis['analyzed_at']}" if analysis else "not analysed"),
    ]
    for name_, value in rows:
        if value not in (None, ""):
            facts.add_row(name_, safe(str(value)))
    out.print(facts)
    _print_cues(out, data)
    out.print("[bold]Locations[/bold]")
    for loc in info["locations"]:
        colour = {"ok": "green", "missing": "yellow", "failed": "red"}[loc["status"]]
        out.print(f"  [{colour}]{loc['status']}[/{colour}] {safe(loc['path'])}"
                  + (f" — {safe(loc['error'])}" if loc["error"] else ""),
                  soft_wrap=True)
    if info["labels"]:
        out.print("[bold]Labels[/bold]")
        for lab in info["labels"]:
            undone = " [dim](undone)[/dim]" if lab["undone_at"] else ""
            source = _SOURCES.get(lab["source"], lab["source"])
            out.print(f"  {lab['task']}: {safe(lab['label'])} ({source}, {lab['created_at'][:19]}){undone}")
    if info["predictions"]:
        out.print("[bold]Predictions[/bold]")
        for p in info["predictions"]:
            top = ", ".join(f"{safe(lab)} {conf:.2f}" for lab, conf in p["top"])
            out.print(f"  {p['task']}: {safe(p['label'])} ({p['confidence']:.2f}; {top}) by {p['model_version']}",
                      soft_wrap=True)
    if show_all and data:
        out.print("[bold]Analysis (all values)[/bold]")
        out.print_json(json.dumps(data, default=str))
    elif data.get("timbre"):
        out.print("[dim]Timbre statistics and the raw analysis: djml show … --all[/dim]")
    if info["vectors"]:
        out.print("[bold]Vectors[/bold] " + ", ".join(f"{v['space']}[{v['dim']}]" for v in info["vectors"]))
    if info["sets"]:
        out.print("[bold]In sets[/bold] " + ", ".join(f"{safe(s['name'])} (#{s['position'] + 1})"
                                                      for s in info["sets"]))


def _print_cues(out, data: dict) -> None:
    """Cue points (bar and m:ss.s) and the energy strip with them marked."""
    from djml import strip
    from djml.cues import CUE_LABELS, cues_from_json

    cues = cues_from_json(data.get("cues"))
    if not cues:
        return
    out.print("[bold]Cues[/bold]")
    for cue in cues:
        out.print(f"  {strip.MARKS[cue.kind]} {CUE_LABELS[cue.kind].lower():<12} bar {cue.bar:>4}  {strip.clock(cue.seconds)}",
                  highlight=False)
    line = strip.text(data.get("bar_energy") or [], data.get("bar_energy_step") or 1, cues,
                      max(16, min(96, out.width - 4)))
    if line:
        out.print(f"  {line}", highlight=False)
        out.print(f"  [dim]{strip.legend(cues)}[/dim]", highlight=False)


def _label_text(info: dict) -> str | None:
    """The label in force and where it came from; a model's disagreeing guess is named
    (the folder said kick, the model hears perc)."""
    label, source = info.get("label"), info.get("label_source")
    if not label:
        return None
    if source == "model":
        confidence = info.get("predicted_confidence")
        return f"{label}? (the model's guess{f', {confidence:.2f}' if confidence is not None else ''})"
    text = f"{label} ({_SOURCES.get(source or '', source or '')})"
    guess = info.get("predicted_label")
    if guess and guess != label:
        text += f"; the model hears {guess} ({info.get('predicted_confidence') or 0:.2f})"
    return text
