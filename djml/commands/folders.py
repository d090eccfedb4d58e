"""`djml folders`: which folders djml watches, and adding or removing one."""

from __future__ import annotations

from pathlib import Path

import click

from djml.safetext import display, dumps

from .act import perform


@click.group(invoke_without_command=True)
@click.pass_context
def folders(ctx: click.Context) -> None:
    """List, add or remove the folders djml scans and the daemon watches.

    Changes only the `library`/`samples` lists in your config file (comments and other
    settings stay as they are). A running daemon starts watching a new folder at once
    and queues its files; a removed folder's items, labels and history stay in the
    library.

    \b
    Examples:
      djml folders
      djml folders add ~/Music/Tracks
      djml folders add --samples ~/Music/Samples/Vengeance
      djml folders remove /media/old-usb/Music
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(folders_list)


@folders.command("list")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@click.pass_obj
def folders_list(state, as_json: bool) -> None:
    """The configured track and sample folders (and whether each exists).

    \b
    Example:
      djml folders list --json | jq -r '.library[].path'
    """
    result, _ = perform(state, "folders.list")
    if as_json:
        click.echo(dumps(result))
        return
    for kind, title in (("library", "tracks"), ("samples", "samples")):
        click.echo(f"{title}:")
        for entry in result[kind] or [{"path": "(none)", "exists": True}]:
            click.echo(f"  {display(entry['path'])}" + ("" if entry["exists"] else "  (missing: not mounted or deleted?)"))


@folders.command("add")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--samples", "kind", flag_value="samples", help="A folder of one-shots and loops.")
@click.option("--library", "kind", flag_value="library", default=True, help="A folder of full tracks (default).")
@click.pass_obj
def folders_add(state, path: Path, kind: str) -> None:
    """Watch PATH as a track folder (or, with --samples, a sample folder).

    \b
    Examples:
      djml folders add ~/Music/Tracks
      djml folders add --samples ~/Music/Samples/Vengeance
    """
    result, via_daemon = perform(state, "folders.add", path=str(path.expanduser().absolute()), kind=kind)
    click.echo(f"added {display(result['path'])} ({'samples' if kind == 'samples' else 'tracks'}) to {result['config']}")
    for old in result.get("replaced", []):
        click.echo(f"  it contains {display(old)}, which is no longer listed on its own")
    scan = result.get("scan")
    if scan is not None:
        click.echo(f"the daemon is watching it and queued {scan['queued'] + scan['settling']} file(s)")
    elif not via_daemon:
        click.echo("run `djml scan` to analyse it (or `djml daemon start` to keep watching)")


@folders.command("remove")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def folders_remove(state, path: Path) -> None:
    """Stop watching PATH (its items and labels stay in the library).

    \b
    Example:
      djml folders remove /media/old-usb/Music
    """
    result, _ = perform(state, "folders.remove", path=str(path.expanduser().absolute()))
    click.echo(f"removed {display(result['path'])} from {result['config']}; its items stay in the library")
