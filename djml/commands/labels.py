"""`djml label`, `djml unlabel`, `djml buckets`: labelling from the command line."""

from __future__ import annotations


import click

from djml.safetext import display, dumps

from .act import perform

TASKS = click.Choice(["buckets", "samples", "genre", "mood", "bucket", "sample_type"])


@click.command()
@click.argument("ref", metavar="TRACK|SAMPLE")
@click.argument("label")
@click.option("--task", type=TASKS, help="What the label is (default: bucket for a track, sample class for a sample).")
@click.option("--new-bucket", is_flag=True, help="Create the bucket if it does not exist yet (else a typo is an error).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def label(state, ref: str, label: str, task: str | None, new_bucket: bool, as_json: bool) -> None:
    """Label one item: put a track in a bucket, or say what a sample is.

    TRACK|SAMPLE is an item id, a file path, or words that name exactly one item (several
    matches are listed; give the id then). Your label beats any model guess, teaches the
    models (the daemon retrains after `retrain_after` new labels) and can be undone with
    `djml unlabel`. Goes through the daemon when it runs.

    \b
    Examples:
      djml label 42 peak-time
      djml label "kilo tape night bus" warm-up
      djml label ./Samples/unsorted/hit_07.wav clap
      djml label 42 "deep house" --task genre
      djml label 42 after-hours --new-bucket
    """
    from djml.client import wire_ref

    result, _ = perform(state, "label.set", ref=wire_ref(ref), label=label, task=task, create=new_bucket or None)
    if as_json:
        click.echo(dumps(result))
        return
    what = f"#{result['item_id']} {display(result['name'])}"
    if not result["changed"]:
        click.echo(f"{what} already has {result['task']} {result['label']!r}")
        return
    before = f" (was {result['previous']!r})" if result.get("previous") else ""
    created = " — new bucket" if result.get("created_bucket") else ""
    click.echo(f"{what}: {result['task']} {result['label']!r}{before}{created}")
    if result.get("training"):
        click.echo(f"the daemon is retraining the {result['task']} model in the background")


@click.command()
@click.argument("ref", metavar="TRACK|SAMPLE")
@click.option("--task", type=TASKS, help="Which label to undo (default: bucket / sample class).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def unlabel(state, ref: str, task: str | None, as_json: bool) -> None:
    """Undo the newest label of one item (yours, an imported one or a sample folder's name).

    The label stays in the item's history (`djml show` lists it as undone); the label
    before it, if any, is in force again. Works for labels made anywhere: the TUI, `djml
    label`, a CSV import.

    \b
    Examples:
      djml unlabel 42
      djml unlabel "night bus" --task genre
    """
    from djml.client import wire_ref

    result, _ = perform(state, "label.undo", ref=wire_ref(ref), task=task)
    if as_json:
        click.echo(dumps(result))
        return
    now = f"; now {result['label']!r}" if result.get("label") else "; no label now"
    click.echo(f"#{result['item_id']} {display(result['name'])}: undid {result['task']} {result['undone']!r}{now}")


@click.group(invoke_without_command=True)
@click.pass_context
def buckets(ctx: click.Context) -> None:
    """List, create, rename and delete your crate buckets.

    There is one list of buckets: the ones in your config plus every bucket created by a
    label (TUI, `djml label --new-bucket`, `djml feedback import --new-buckets`).

    \b
    Examples:
      djml buckets                      # each bucket with your labels and the model's guesses
      djml buckets create after-hours
      djml buckets rename peak-tme peak-time   # fix a typo (merges into an existing bucket)
      djml buckets delete closing --force      # --force undoes the labels it holds
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(buckets_list)


@buckets.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def buckets_list(state, as_json: bool) -> None:
    """Every bucket, in your order, with how many tracks you put in it and how many the
    model guesses are in it.

    \b
    Examples:
      djml buckets list
      djml buckets list --json | jq -r .name
    """
    rows, _ = perform(state, "buckets.list")
    if as_json:
        for row in rows:
            click.echo(dumps(row))
        return
    if not rows:
        click.echo("No buckets yet: `djml buckets create NAME` or `djml label TRACK NAME --new-bucket`.")
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        where = "" if r["in_config"] else "  (not in config)"
        click.echo(f"{r['name']:<{width}}  {r['labelled']:>4} labelled  {r['predicted']:>4} guessed{where}")


@buckets.command("create")
@click.argument("name")
@click.pass_obj
def buckets_create(state, name: str) -> None:
    """Create a bucket (it appears in the TUI's label keys at once).

    \b
    Example:
      djml buckets create after-hours
    """
    result, _ = perform(state, "buckets.create", name=name)
    click.echo(f"bucket {result['name']!r} {'created' if result['created'] else 'already exists'}")


@buckets.command("rename")
@click.argument("old")
@click.argument("new")
@click.pass_obj
def buckets_rename(state, old: str, new: str) -> None:
    """Rename bucket OLD to NEW: labels (and their history), the model's guesses and the
    config follow. NEW may be an existing bucket: OLD is then merged into it.

    \b
    Examples:
      djml buckets rename peak peak-time
      djml buckets rename peak-tme peak-time     # a typo bucket merged into the real one
    """
    result, via_daemon = perform(state, "buckets.rename", old=old, new=new)
    verb = "merged into" if result["merged"] else "renamed to"
    click.echo(f"bucket {result['old']!r} {verb} {result['new']!r} ({result['labels']} label(s))")
    _retrain_note(state, result, via_daemon)


@buckets.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also when you labelled tracks with it: those labels are undone.")
@click.pass_obj
def buckets_delete(state, name: str, force: bool) -> None:
    """Delete a bucket. One that holds your labels needs --force (the labels are undone,
    kept in the history).

    \b
    Examples:
      djml buckets delete after-hours
      djml buckets delete closing --force
    """
    result, via_daemon = perform(state, "buckets.delete", name=name, force=force or None)
    undone = f"; {result['labels_undone']} label(s) undone" if result["labels_undone"] else ""
    click.echo(f"bucket {result['name']!r} deleted{undone}")
    _retrain_note(state, result, via_daemon)


def _retrain_note(state, result: dict, via_daemon: bool) -> None:
    if result.get("training"):
        click.echo("the daemon is retraining the bucket model to learn the new names")
    elif not via_daemon and state.reader().execute(
            "SELECT 1 FROM models WHERE task = 'bucket' AND active = 1").fetchone():
        click.echo("the bucket model still knows the old name until it is retrained: "
                   "`djml train --task buckets` (the daemon does it by itself)", err=True)
