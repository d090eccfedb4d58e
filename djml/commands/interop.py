"""`djml export`, `djml import`, `djml tags`: talking to rekordbox, Traktor, Serato, Mixxx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from djml.cli import EXIT_PARTIAL
from djml.safetext import display

from .options import filter_options, predicted_options

FORMATS = ("rekordbox", "traktor", "m3u")
OWN_LABEL_HELP = ("Bucket or sample class you gave (or your sample folder's name); with --predicted also "
                  "the model's confident guesses.")


def path_map_option(func: Callable) -> Callable:
    return click.option(
        "--map-path", "map_path", multiple=True, metavar="LIBRARY=FOREIGN",
        help="Rewrite a path prefix between this machine and the DJ computer, e.g. "
             "/srv/music=/Volumes/music (repeatable).",
    )(func)


def _filters(**given):
    from djml import query

    try:
        return query.Filters.from_dict(given)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _path_map(specs: tuple[str, ...]):
    from djml.interop.model import PathMap

    try:
        return PathMap.parse(specs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--map-path") from None


@click.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.argument("out", type=click.Path(path_type=Path))
@filter_options(OWN_LABEL_HELP)
@predicted_options
@path_map_option
@click.option("--relative", is_flag=True, help="m3u: paths relative to each playlist file (USB sticks).")
@click.option("--volume", default="", metavar="NAME",
              help="traktor: the Traktor computer's name for the disk holding '/', e.g. 'Macintosh HD'.")
@click.pass_obj
def export_cmd(state, fmt, out, kind, bpm, energy, key, genre, label, search, predicted, min_confidence,
               map_path, relative, volume) -> None:
    """Export the library (or the items matching the filters) for other DJ software.

    \b
    FORMAT rekordbox  OUT is an .xml file: collection + "djml" playlist folder
                      (buckets, genres, sample classes); also for Serato and Engine DJ.
    FORMAT traktor    OUT is an .nml file: collection + "djml" playlist folder.
    FORMAT m3u        OUT is a folder: one .m3u8 per bucket, genre and sample class.

    BPM, key and genre are your corrections where you made them, else djml's analysis.
    Bucket and sample-class playlists hold what you labelled (and your sample folders'
    names); the model's guesses join them only with --predicted, and only when at least
    --min-confidence sure. Only items whose file is present are exported. Examples:

    \b
      djml export rekordbox ~/djml.xml
      djml export traktor ~/djml.nml --label peak-time --map-path /srv/music=/Volumes/music
      djml export m3u /media/usb/playlists --relative
      djml export m3u ~/playlists --predicted --min-confidence 0.9
    """
    from djml.interop import m3u, rekordbox, traktor
    from djml.interop.collect import collect, group_playlists
    from djml.interop.xmlio import InteropError

    from djml.buckets import names as bucket_names

    filters = _filters(kind=kind, bpm=bpm, energy=energy, key=key, genre=genre, label=label, search=search,
                       predicted=min_confidence if predicted else None)
    path_map = _path_map(map_path)
    config = state.config
    conn = state.reader()
    collected = collect(conn, filters)
    order = bucket_names(conn, config)
    playlists = group_playlists(collected.tracks, order)
    try:
        if fmt == "rekordbox":
            rekordbox.export(collected.tracks, playlists, out, bucket_order=order, path_map=path_map)
        elif fmt == "traktor":
            traktor.export(collected.tracks, playlists, out, bucket_order=order, path_map=path_map,
                           boot_volume=volume)
        else:
            m3u.export(playlists, out, relative=relative, path_map=path_map)
    except (InteropError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Exported {len(collected.tracks)} item(s) and {len(playlists)} playlist(s) to {out}")
    guesses = sum(1 for t in collected.tracks if t.guessed)
    if guesses:
        click.echo(f"{guesses} bucket/class entr(ies) are model guesses (>= {min_confidence:.2f} confidence).")
    if collected.skipped_missing:
        click.echo(f"Skipped {collected.skipped_missing} item(s) whose files are missing.", err=True)


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@path_map_option
@click.option("--match-names", is_flag=True,
              help="Also match by file name when the name is unique in the library (library moved).")
@click.option("--dry-run", is_flag=True, help="Report what would be imported; change nothing.")
@click.option("--no-train", is_flag=True,
              help="Do not re-learn the recommender from the imported sets (djml recommend --train later).")
@click.pass_obj
def import_cmd(state, fmt, files, map_path, match_names, dry_run, no_train) -> None:
    """Import BPM, key, genre and playlists from rekordbox XML, Traktor NML or M3U files.

    Tracks are matched to library items by path. Values that differ from djml's become your
    labels (source "import"); playlists named in the config's [playlist_buckets] label
    their tracks with that bucket; other playlists (and rekordbox/Traktor history) become
    sets the recommender learns from. Re-importing a file replaces its sets, and new sets
    re-learn the recommender's set model and ranking weights right away (as `djml recommend
    --train`; --no-train skips it). Exit code 1 when some entries matched nothing in the
    library.

    \b
    Examples:
      djml import rekordbox ~/rekordbox.xml
      djml import traktor ~/Documents/Native\\ Instruments/Traktor\\ 3.11/History/*.nml
      djml import m3u ~/Music/Playlists/*.m3u8 --map-path /srv/music=/Users/me/Music
    """
    from djml import db
    from djml.interop import m3u, rekordbox, traktor
    from djml.interop.importer import import_collection
    from djml.interop.xmlio import InteropError
    from djml.library import Library

    parser = {"rekordbox": rekordbox.parse, "traktor": traktor.parse, "m3u": m3u.parse}[fmt]
    path_map = _path_map(map_path)
    config = state.config
    parsed = []
    for file in files:  # parse everything first: one bad file changes nothing
        try:
            parsed.append(parser(file, path_map=path_map))
        except InteropError as exc:
            raise click.ClickException(str(exc)) from None
    conn = db.connect_readonly(config.db_path) if dry_run else db.connect(config.db_path)
    library = Library(conn)
    unmatched = sets = 0
    for collection in parsed:
        report = import_collection(library, config, collection, match_names=match_names, dry_run=dry_run)
        _print_report(report, dry_run)
        unmatched += len(report.unmatched) + sum(missing for _, _, missing in report.sets)
        sets += len(report.sets)
    conn.close()
    if sets and not dry_run and not no_train:
        from djml.commands.recommend import train_set_models

        click.echo("Learning from your sets (as `djml recommend --train`) …")
        train_set_models(config)
    if unmatched:
        raise click.exceptions.Exit(EXIT_PARTIAL)


def _print_report(report, dry_run: bool) -> None:
    verb = "would record" if dry_run else "recorded"
    click.echo(f"{report.file}:")
    if report.tracks:
        by_name = f" ({report.matched_by_name} by file name)" if report.matched_by_name else ""
        click.echo(f"  tracks: {report.matched} of {report.tracks} matched{by_name}")
    labels = ", ".join(f"{n} {task}" for task, n in sorted(report.labels.items())) or "no"
    click.echo(f"  {verb} {labels} label(s)")
    for name, entries, missing in report.sets:
        extra = f", {missing} not in library" if missing else ""
        click.echo(f"  set {name!r}: {entries} entries{extra}")
    for name in report.skipped_playlists:
        click.echo(f"  skipped playlist {name}")
    _not_in_library(report.unmatched, "")
    listed = set(report.unmatched)
    for name, paths in report.missing_entries.items():
        _not_in_library([p for p in paths if p not in listed], f" (playlist {name!r})")


def _not_in_library(paths: list[str], where: str, shown: int = 10) -> None:
    """Name what matched nothing (the first ten; the docs promise a list, not a count)."""
    for path in paths[:shown]:
        click.echo(f"  not in library{where}: {display(path)}", err=True)
    if len(paths) > shown:
        click.echo(f"  … and {len(paths) - shown} more not in library{where}", err=True)


@click.group("tags")
def tags() -> None:
    """Write djml's BPM, key, genre and comment into your files' tags — opt-in, with undo.

    Set `tag_template` in the config to also fill the comment (or, with
    tag_template_field = "grouping", the grouping) field, e.g.
    tag_template = "{camelot} · energy {energy} · {bucket}".

    \b
    Examples:
      djml tags write --dry-run
      djml tags history
      djml tags undo
    """


@tags.command("write")
@filter_options(OWN_LABEL_HELP)
@predicted_options
@click.option("--dry-run", is_flag=True, help="Show what would change; touch nothing.")
@click.option("--no-verify", is_flag=True, help="Skip decoding the tagged copy to prove the audio is unchanged.")
@click.pass_obj
def tags_write_cmd(state, kind, bpm, energy, key, genre, label, search, predicted, min_confidence,
                   dry_run, no_verify) -> None:
    """Write BPM, key (ID3 TKEY style: Am, F#), genre and the comment template into the
    tags of the matching files (default: all tracks) in MP3, FLAC, OGG/Opus, M4A, AIFF
    and WAV. ID3 TBPM holds a whole number (the standard); FLAC/Opus keep decimals.

    {bucket} in the template is your own bucket; a model's guess goes into a file only
    with --predicted (and at least --min-confidence), and every such guess is listed.

    Only the tag block changes: each file is tagged as a copy, its audio is checked
    against the library's audio hash, and only then swapped in atomically. Files outside
    your configured folders, or changed since the last scan, are refused. `djml tags undo`
    restores the previous values. Exit code 1 when some files were refused.

    \b
    Examples:
      djml tags write --dry-run
      djml tags write --label peak-time
      djml tags write --predicted --min-confidence 0.9 --dry-run
    """
    from djml import db
    from djml.interop.collect import collect
    from djml.interop.tagwrite import tags_write
    from djml.library import Library

    filters = _filters(kind=kind or "track", bpm=bpm, energy=energy, key=key, genre=genre, label=label,
                       search=search, predicted=min_confidence if predicted else None)
    config = state.config
    conn = db.connect_readonly(config.db_path) if dry_run else db.connect(config.db_path)
    collected = collect(conn, filters)
    outcome = tags_write(Library(conn), config, collected.tracks, dry_run=dry_run, verify=not no_verify)
    guessed = {t.item_id: t.guessed for t in collected.tracks if t.guessed}
    for change in outcome.written:
        fields = ", ".join(f"{name} {old or '∅'} → {new}" for name, (old, new) in change.changes.items())
        guess = "".join(f" [{what} is the model's guess, {p:.2f}]" for what, p in guessed.get(change.item_id, {}).items()
                        if config.tag_template and "{bucket}" in config.tag_template)
        click.echo(f"{'would write' if dry_run else 'wrote'} {display(change.path)}: {display(fields)}{guess}")
    _refused(outcome)
    verb = "would change" if dry_run else "changed"
    click.echo(f"{len(outcome.written)} file(s) {verb}, {outcome.unchanged} already up to date,"
               f" {len(outcome.refused)} refused" + (f"; undo with `djml tags undo` (batch {outcome.batch})"
                                                    if outcome.batch else ""))
    if outcome.refused:
        raise click.exceptions.Exit(EXIT_PARTIAL)


@tags.command("undo")
@click.option("--batch", metavar="ID", help="Undo this batch (see `djml tags history`); default: the newest.")
@click.option("--force", is_flag=True,
              help="Restore djml's previous values even in fields edited since djml wrote them.")
@click.pass_obj
def tags_undo_cmd(state, batch, force) -> None:
    """Restore the tag values a `djml tags write` batch replaced. Fields edited since by
    someone else are left alone and reported (--force restores them anyway); a file
    changed since the last scan is refused until `djml scan` has seen it. Refused files
    stay in the batch: run `djml tags undo` again once the reason is fixed. Exit code 1
    when some files were refused.

    \b
    Examples:
      djml tags undo
      djml tags undo --batch 20261201T101500123456Z
      djml tags undo --force
    """
    from djml import db
    from djml.interop.tagio import TagError
    from djml.interop.tagwrite import tags_undo
    from djml.library import Library

    config = state.config
    try:
        outcome = tags_undo(Library(db.connect(config.db_path)), config, batch, force=force)
    except TagError as exc:
        raise click.ClickException(str(exc)) from None
    for change in outcome.written:
        click.echo(f"restored {display(change.path)}: {', '.join(change.changes)}")
    _refused(outcome)
    click.echo(f"Batch {outcome.batch}: {len(outcome.written)} file(s) restored, {outcome.unchanged} already"
               f" as before, {len(outcome.refused)} refused")
    if outcome.left:
        click.echo(f"{outcome.left} file(s) of batch {outcome.batch} are still to undo; the batch stays open."
                   " Run `djml scan` for files changed since the last scan, then `djml tags undo` again;"
                   " `djml tags undo --force` also restores fields edited since djml wrote them.", err=True)
        raise click.exceptions.Exit(EXIT_PARTIAL)


@tags.command("history")
@click.pass_obj
def tags_history_cmd(state) -> None:
    """List tag-write batches, newest first.

    \b
    Example:
      djml tags history
    """
    from djml.interop.tagwrite import batches

    rows = batches(state.config)
    if not rows:
        click.echo("No tags written yet.")
    for row in rows:
        status = ("  (undone)" if row["undone"] else
                  f"  (partly undone: {row['pending']} still to undo)" if row["pending"] < row["files"] else "")
        click.echo(f"{row['batch']}  {row['files']} file(s){status}")


def _refused(outcome) -> None:
    for path, reason in outcome.refused:
        click.echo(f"refused {display(path)}: {display(reason)}", err=True)
