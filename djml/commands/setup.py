"""`djml init` and `djml demo`: getting a new user from nothing to a working library."""

from __future__ import annotations

from pathlib import Path

import click

from djml.cli import EXIT_PARTIAL


def _folder(path: Path) -> Path:
    return path.expanduser().resolve()


@click.command()
@click.option("--library", "-l", "library", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder with full tracks (repeatable).")
@click.option("--samples", "-s", "samples", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder with one-shots and loops (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the database, models and index live (default: $XDG_DATA_HOME/djml).")
@click.option("--workers", type=click.IntRange(min=1), help="Analysis processes (default: cores - 1).")
@click.option("--bucket", "buckets", multiple=True,
              help="Your crate buckets (repeatable; default: warm-up, peak-time, closing).")
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@click.pass_obj
def init(state, library, samples, data_dir, workers, buckets, force) -> None:
    """Write the config file: your track and sample folders, data dir and buckets.

    \b
    Example:
      djml init --library ~/Music/Tracks --samples ~/Music/Samples
    """
    from djml import config as cfg
    from djml import configfile

    path = state.config_path or cfg.default_config_path()
    if path.exists() and not force:
        raise click.UsageError(f"{path} already exists (use --force to overwrite, or edit it)")
    for folder in (*library, *samples):
        if not folder.expanduser().is_dir():
            raise click.BadParameter(f"{folder} is not a folder", param_hint="--library/--samples")
    config = cfg.Config(
        config_path=path,
        data_dir=_folder(data_dir) if data_dir else cfg.default_data_dir(),
        library=[_folder(p) for p in library],
        samples=[_folder(p) for p in samples],
        runtime_dir=cfg.default_runtime_dir(),
    )
    if workers:
        config.workers = workers
    if buckets:
        from djml.errors import ActionError
        from djml.tasks import clean_label

        try:
            config.buckets = list(dict.fromkeys(clean_label(b, "a bucket name") for b in buckets))
        except ActionError as exc:
            raise click.BadParameter(exc.message, param_hint="--bucket") from None
    configfile.write(config)
    click.echo(f"Wrote {path}")
    click.echo(f"  library: {', '.join(map(str, config.library)) or '(none)'}")
    click.echo(f"  samples: {', '.join(map(str, config.samples)) or '(none)'}")
    click.echo(f"  data:    {config.data_dir}")
    click.echo("Next: `djml scan` to analyse everything, or `djml daemon start` to keep watching.")


@click.command()
@click.option("--dir", "target", type=click.Path(file_okay=False, path_type=Path),
              help="Where to generate the demo music (default: demo-music beside the demo's data).")
@click.option("--tracks", default=12, show_default=True, type=click.IntRange(1, 200), help="How many tracks.")
@click.option("--no-scan", is_flag=True, help="Only generate the files.")
@click.option("--into-my-library", is_flag=True,
              help="Add the demo to the library of your current config (default: the demo gets its own).")
@click.pass_obj
def demo(state, target, tracks, no_scan, into_my_library) -> None:
    """Generate a demo library and scan it: synthesised tracks at known BPM and key and a
    sample pack of one-shots, made on this machine (no network, no user files).

    Your own library is left alone: when your config already names music folders, the
    demo gets a home of its own, `djml-demo` beside your data folder (its config, library
    and music, laid out like a DJML_HOME), and says how to look at it. Where no config
    exists yet (a fresh DJML_HOME, as `make demo` uses) it sets that one up for the demo;
    --into-my-library adds the demo to your library instead.

    \b
    Examples:
      djml demo                         # its own folder; then export DJML_HOME=… as printed
      DJML_HOME=/tmp/try djml demo --tracks 4
    """
    from djml import configfile, db
    from djml.commands.library import enrich
    from djml.demo import generate
    from djml.library import Library
    from djml.render import console
    from djml.scan import scan as run_scan

    out = console(stderr=True)
    config, own_home = _demo_config(state, into_my_library, _folder(target) if target else None)
    root = _folder(target) if target else config.data_dir.parent / "demo-music"
    if own_home is not None:
        out.print(f"Your config names music folders already: the demo gets its own home, {own_home}",
                  soft_wrap=True)
    out.print(f"Generating demo music in {root} …", soft_wrap=True)
    made = generate(root, tracks=tracks)
    out.print(f"  {len(made.tracks)} tracks in {made.library}, {made.samples} samples in {made.sample_dir}",
              soft_wrap=True)
    if not config.config_path.exists():
        config.library, config.samples = [made.library], [made.sample_dir]
        configfile.write(config)
        out.print(f"Wrote config {config.config_path}", soft_wrap=True)
    if no_scan:
        return
    from djml.client import connect_if_running

    client = connect_if_running(config)
    if client is not None:   # the daemon is the writer: it analyses the demo, we wait for it
        with client, out.status("The daemon is analysing the demo library …"):
            failed = _demo_via_daemon(client, config, made)
        out.print(f"Analysed by the daemon (pid {client.server.get('pid')}): {failed} failed")
    else:
        library = Library(db.connect(config.db_path))
        with out.status("Analysing the demo library …"):
            summary = run_scan(config, library, [made.library, made.sample_dir])
        enrich(out, library, config, summary.stored_ids)
        failed = len(summary.failed)
        out.print(f"Scanned: {summary.new} new, {summary.unchanged} unchanged, {failed} failed")
    conn = db.connect_readonly(config.db_path)
    console().print(_truth_table(conn, made.tracks))
    console().print(_unsorted_table(conn, made.unsorted))
    if own_home is not None:
        out.print(f"The demo has its own library; to explore it:  export DJML_HOME={own_home}", soft_wrap=True)
    out.print("Try: djml ls --bpm 120-128 · djml ls --key 8A · djml show 1 · djml recommend 3\n"
              "     djml daemon start && djml review   (label what the models are unsure about)")
    if failed:
        raise click.exceptions.Exit(EXIT_PARTIAL)


DEMO_WAIT_SECONDS = 600.0


def _demo_via_daemon(client, config, made) -> int:
    """Have the running daemon analyse the demo (its folders are added to the config when
    they are not watched yet: that is what --into-my-library asks for); wait until every
    demo file is stored and the unsorted samples are classified. Returns the failures."""
    import time

    from djml.client import RemoteError

    folders = ((made.library, "library"), (made.sample_dir, "samples"))
    try:
        for folder, kind in folders:
            if any(folder.resolve().is_relative_to(root.resolve()) for root in config.roots):
                client.call("scan", paths=[str(folder.resolve())])
            else:
                client.call("folders.add", path=str(folder.resolve()), kind=kind)
        wanted = [str(t.path.resolve()) for t in made.tracks] + [str(p.resolve()) for p, _ in made.unsorted]
        deadline = time.monotonic() + DEMO_WAIT_SECONDS
        while time.monotonic() < deadline:
            queue = client.call("status")["queue"]
            if not (queue["queued"] or queue["running"] or queue["settling"]) and _classified(client, wanted):
                demo = (str(made.library.resolve()) + "/", str(made.sample_dir.resolve()) + "/")
                return sum(1 for row in client.call("failed") if str(row.get("path", "")).startswith(demo))
            time.sleep(0.3)
    except RemoteError as exc:
        raise click.ClickException(f"the daemon refused the demo: {exc.message}") from None
    raise click.ClickException(f"the daemon did not finish the demo in {DEMO_WAIT_SECONDS:.0f} s (see `djml status`)")


def _classified(client, paths: list[str]) -> bool:
    """Every path stored, and every sample among them predicted (the daemon predicts a
    moment after storing)."""
    from djml.client import RemoteError

    for path in paths:
        try:
            info = client.call("show", ref=path)
        except RemoteError:
            return False
        if info.get("kind") == "sample" and not info.get("predictions"):
            return False
    return True


def _demo_config(state, into_my_library: bool, target: Path | None):
    """(the config the demo uses, its own home folder or None). A config that already
    names music folders other than the demo's is the user's library: the demo then lives
    in a DJML_HOME-style folder of its own (config.toml, data/), unless asked to join it."""
    from djml import config as cfg

    config = state.config
    demo_music = target or config.data_dir.parent / "demo-music"
    users_own = [r for r in config.roots if not r.is_relative_to(demo_music)]
    if into_my_library or not (config.config_path.exists() and users_own):
        return config, None
    home = cfg.default_data_dir().parent / "djml-demo"
    path = home / "config.toml"
    if path.exists():
        return cfg.load(path), home
    return cfg.Config(config_path=path, data_dir=home / "data", runtime_dir=None), home


def _unsorted_table(conn, unsorted):
    """Samples with neutral names in an unsorted folder: what the shipped sample-type model
    (trained on real drum kits, never on these synthesised sounds) makes of them."""
    from rich.table import Table

    from djml import query

    table = Table(title="Unsorted samples: made as → classified by djml", header_style="bold")
    for column in ("file", "made as", "djml says", "confidence", ""):
        table.add_column(column)
    for path, kind in unsorted:
        item_id = query.resolve_item(conn, str(path))
        info = query.show_item(conn, item_id) if item_id else None
        prediction = next((p for p in (info or {}).get("predictions", []) if p["task"] == "sample_type"), None)
        if prediction is None:
            table.add_row(path.name, kind, "[dim]no prediction[/dim]", "", "")
            continue
        ok = "[green]✓[/green]" if prediction["label"] == kind else "[red]✗[/red]"
        table.add_row(path.name, kind, prediction["label"], f"{prediction['confidence']:.2f}", ok)
    return table


def _truth_table(conn, tracks):
    """What the demo was made with next to what djml found: the quickest honest check."""
    from rich.table import Table

    from djml import keys, query
    from djml.render import fmt_bpm

    table = Table(title="Demo tracks: made with → found by djml", header_style="bold")
    for column in ("track", "made", "found", "BPM", "key"):
        table.add_column(column)
    for track in tracks:
        item_id = query.resolve_item(conn, str(track.path))
        info = query.show_item(conn, item_id) if item_id else None
        if info is None:
            table.add_row(track.path.name, "", "[red]not in library[/red]", "", "")
            continue
        bpm_ok = info["bpm"] is not None and abs(info["bpm"] - track.bpm) <= 0.04 * track.bpm
        key_ok = info["camelot"] == keys.camelot(track.key)
        table.add_row(
            f"{info['artist']} – {info['title']}",
            f"{track.bpm:.0f} · {keys.camelot(track.key)}",
            f"{fmt_bpm(info['bpm'], info['bpm_ambiguous'])} · {info['camelot'] or '—'}",
            "[green]✓[/green]" if bpm_ok else "[red]✗[/red]",
            "[green]✓[/green]" if key_ok else "[red]✗[/red]",
        )
    return table
