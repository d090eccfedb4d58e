"""`djml train`, `evaluate`, `models …`, `import-labels`, `feedback import`,
`export-predictions`, `predict`: the learning side of the CLI.

Training and evaluation import sklearn/torch (they are not quick one-shots); `models list`,
`export-predictions` and the CSV imports stay light (sqlite3 + numpy at most).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from djml.cli import EXIT_USAGE
from djml.models.backends import BACKENDS
from djml.render import model_members

TASK_CHOICES = click.Choice(["samples", "buckets", "genre", "mood", "sample_type", "bucket"])


def _task(text: str) -> str:
    from djml.models import task_name

    return task_name(text)


def _read_only_library(state):
    """Evaluation reads the library (text vectors it computes are not stored: while the
    daemon runs, it is the only writer)."""
    from djml.library import Library

    return Library(state.reader(), readonly=True)


def _reader(state):
    return state.reader()


def _fail(message: str) -> None:
    click.echo(f"djml: {message}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


@click.command()
@click.option("--task", required=True, type=TASK_CHOICES, help="What to learn.")
@click.option("--model", "backend", type=click.Choice(list(BACKENDS)),
              help="; ".join(f"{name}: {b.help}" for name, b in BACKENDS.items()) + ".")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def train(state, task: str, backend: str | None, as_json: bool) -> None:
    """Train a new model version from your labels.

    The new version is compared with the active one on a held-out slice of your labels
    that the active one never trained on; it becomes active unless it is significantly
    worse there (one-sided McNemar test, p < 0.05). A rejected version is kept, marked
    rejected, and the old model stays. Every figure comes with its n and a 95% interval.

    Needs at least 10 labels in at least 2 classes of 3 or more (smaller classes are left
    out and named). With exactly the labels an existing version was trained on, nothing
    new is created. Genres keep the spelling of your tags.

    \b
    Examples:
      djml train --task buckets
      djml train --task samples --model cnn
      djml train --task genre --json | jq .holdout_interval
    """
    from djml.models.service import MIN_COMPARE, MIN_PER_CLASS

    from .act import perform

    result, _ = perform(state, "train", show_progress=not as_json, task=_task(task), model=backend)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    if result.get("left_out"):
        click.echo(f"{result['left_out']} labelled item(s) left out: no analysis from the current analyzer "
                   "yet (the daemon re-analyses them at start; or run `djml scan`)", err=True)
    small = result.get("classes_left_out") or {}
    if small:
        listed = ", ".join(f"{c} ({n})" for c, n in list(small.items())[:8]) + (" …" if len(small) > 8 else "")
        click.echo(f"{len(small)} class(es) with fewer than {MIN_PER_CLASS} labels left out: {listed}", err=True)
    if result["status"] == "not_enough_labels":
        _fail(f"not enough labels to train {result['task']}: {result['labels']} usable label(s) in "
              f"{result['classes']} class(es); need {result['needed']}. Label more in the review queue "
              "(djml review) or with `djml label`.")
    if result["status"] == "unchanged":
        click.echo(f"nothing new to learn: {result['version']} was trained on exactly these "
                   f"{result['n_labels']} labels ({_figure(result)}); no new version"
                   + ("" if result.get("active_version") == result["version"]
                      else f" (it is not active: `djml models activate {result['version']}`)"))
        return
    click.echo(f"{result['status']} {result['version']}: {result['n_labels']} labels in {result['classes']} classes")
    click.echo(f"  {_figure(result)} on labels it did not train on")
    if result.get("before_version"):
        click.echo(f"  on the same {result['compared_on']} labels the previous model ({result['before_version']}) got "
                   f"{result['before_correct']}, the new one {result['after_correct']}"
                   f" (one-sided McNemar p = {result['p_worse']:.3f})")
    else:
        click.echo("  not compared with a previous model (none, or fewer than "
                   f"{MIN_COMPARE} held-out labels it never saw)")
    if result["status"] == "rejected":
        click.echo(f"kept {result['active_version']} active (the new model was significantly worse)")
    else:
        click.echo(f"re-predicted {result.get('predicted', 0)} item(s)")


def _figure(metrics: dict, metadata: dict | None = None) -> str:
    from djml.models.evaluate import figure, figure_text

    return figure_text(figure(metrics, metadata))


@click.command()
@click.option("--task", required=True, type=click.Choice([*TASK_CHOICES.choices, "recommend"]))
@click.option("--model", "backend", type=click.Choice(list(BACKENDS)), help="Model type to evaluate.")
@click.option("--cv", "folds", type=click.IntRange(min=2), default=5, show_default=True, help="Folds.")
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True, help="List length (recommend).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write all metrics as JSON.")
@click.option("--cluster", metavar="ADDRESS|local:N", help="Run the CV folds as tasks on a Dask cluster.")
@click.pass_obj
def evaluate(state, task: str, backend: str | None, folds: int, k: int, out: Path | None,
             cluster: str | None) -> None:
    """Cross-validate a model type on your labels: accuracy, macro-F1, per-class
    precision/recall, confusion matrix, k-fold mean ± std. `--task recommend` scores the
    recommender on your sets (held-out next track).

    \b
    Examples:
      djml evaluate --task buckets --cv 5
      djml evaluate --task samples --model et --out samples.json
      djml evaluate --task recommend -k 10
      djml evaluate --task samples --cluster local:2   # folds as Dask tasks
    """
    if task == "recommend":
        from djml.models.recommend_eval import evaluate_recommendations

        result = evaluate_recommendations(_reader(state), state.config, k)
        click.echo(result.get("table", ""))
    else:
        from djml.models.crossval import cross_validate_task
        from djml.models.evaluate import run_folds_here

        run_folds = run_folds_here
        if cluster:
            from djml.cluster import fold_runner
            from djml.executors import parse_cluster

            try:
                run_folds = fold_runner(parse_cluster(cluster))
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
        from djml.executors import ClusterError

        try:
            result = cross_validate_task(_read_only_library(state), _task(task), backend, folds, run_folds)
        except ClusterError as exc:
            raise click.ClickException(str(exc)) from None
        if "error" in result:
            _fail(result["error"])
        _print_report(result)
    if out:
        if task != "recommend":   # the dashboard's figures too: versions, acceptance, drift, runs
            from djml.models.monitor.acceptance import stats
            from djml.models.monitor.history import history

            result["history"] = history(_reader(state), _task(task))["tasks"]
            result["acceptance"] = stats(_reader(state), _task(task))["tasks"]
        out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        click.echo(f"wrote {out}")


def _print_report(r: dict) -> None:
    click.echo(f"{r['task']} / {r['backend']}: {r['n']} labelled items, {r['folds']}-fold CV")
    click.echo(f"accuracy {r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}   "
               f"macro-F1 {r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f}")
    click.echo(f"{'class':<16}{'precision':>10}{'recall':>8}{'f1':>7}{'n':>6}")
    for c, s in r["per_class"].items():
        click.echo(f"{c[:15]:<16}{s['precision']:>10.2f}{s['recall']:>8.2f}{s['f1']:>7.2f}{s['support']:>6}")
    classes, m = r["confusion"]["classes"], r["confusion"]["matrix"]
    click.echo("confusion (rows true, columns predicted):")
    width = max(6, max(len(c[:10]) for c in classes) + 1)
    click.echo(" " * 12 + "".join(f"{c[:10]:>{width}}" for c in classes))
    for c, row in zip(classes, m):
        click.echo(f"{c[:11]:<12}" + "".join(f"{v:>{width}}" for v in row))


@click.group()
def models() -> None:
    """List, activate, roll back, compare and delete model versions.

    \b
    Examples:
      djml models list --task buckets
      djml models compare bucket-2026… bucket-2026…
      djml models rollback buckets
      djml models activate sample_type-shipped-…
      djml models stats                  # how often predictions were accepted
      djml models history --task buckets # versions over time, drift, retrain reasons
    """


def _monitor_commands() -> None:
    """`models stats` and `models history` live in djml.commands.monitor."""
    from djml.commands.monitor import models_history, models_stats

    models.add_command(models_stats)
    models.add_command(models_history)


_monitor_commands()


@models.command("list")
@click.option("--task", type=TASK_CHOICES)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def models_list(state, task: str | None, as_json: bool) -> None:
    """Every model version, newest first; * marks the active one per task.

    Each accuracy comes with the number of items it was measured on and a 95% interval
    (a held-out slice of your labels is often 5–20 items: 3 of 10 right is anything from
    11% to 60%). `djml models compare A B` scores two versions on the same labels.

    \b
    Examples:
      djml models list
      djml models list --task buckets --json | jq '.[0].metrics'
    """
    from djml.models import registry

    rows = registry.list_models(_reader(state), _task(task) if task else None)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("No models yet. The shipped sample model is registered when samples are first"
                   " predicted; train buckets with `djml train --task buckets`.")
        return
    members = [model_members(m["estimator"], m["metadata"]) for m in rows]
    width = max(7, *map(len, members))   # a blend's members are longer than an estimator name
    for m, made_of in zip(rows, members):
        metrics = m["metrics"]
        flags = "  rejected" if metrics.get("rejected") else ""
        trained = (f"{m['metadata'].get('n_train', '?')} kit samples" if m["path"].startswith(registry.PACKAGE_PREFIX)
                   else f"{metrics.get('n_labels', '?')} labels")
        click.echo(f"{'*' if m['active'] else ' '} {m['version']:<46} {m['task']:<12} {made_of:<{width}}"
                   f" {_figure(metrics, m['metadata']):<42} {trained}  {m['created_at'][:16]}{flags}")
    click.echo("Each figure is measured on different items; `djml models compare A B` scores two versions "
               "on the same ones.", err=True)


@models.command("activate")
@click.argument("version")
@click.pass_obj
def models_activate(state, version: str) -> None:
    """Make VERSION the active model of its task.

    \b
    Example:
      djml models activate "$(djml models list --json | jq -r '.[1].version')"
    """
    from .act import perform

    row, _ = perform(state, "models.activate", version=version)
    click.echo(f"active {row['task']} model: {row['version']}")


@models.command("rollback")
@click.argument("task", type=TASK_CHOICES)
@click.pass_obj
def models_rollback(state, task: str) -> None:
    """Re-activate the version before the active one (skipping rejected ones).

    \b
    Example:
      djml models rollback buckets
    """
    from .act import perform

    row, _ = perform(state, "models.rollback", task=_task(task))
    click.echo(f"rolled back: active {row['task']} model is now {row['version']}")


@models.command("delete")
@click.argument("version")
@click.pass_obj
def models_delete(state, version: str) -> None:
    """Delete an inactive VERSION (its file and its predictions).

    \b
    Example:
      djml models delete bucket-20261201T101500000000-1a2b3c4d
    """
    from .act import perform

    perform(state, "models.delete", version=version)
    click.echo(f"deleted {version}")


@models.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def models_compare(state, a: str, b: str, as_json: bool) -> None:
    """Compare versions A and B on the same labelled items (McNemar exact test).

    Items are your own labels that neither version trained on (when there are at least
    5; else all of them, and the note says so); a p-value below 0.05 means the accuracy
    difference is unlikely to be chance.

    \b
    Example:
      djml models compare sample_type-shipped-7927e09e sample_type-20261201T…
    """
    from djml.models import registry
    from djml.models.crossval import compare_versions

    try:
        result = compare_versions(_read_only_library(state), a, b)
    except registry.RegistryError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    if result["n"] == 0:
        _fail("no labelled items both models can predict")
    from djml.models.evaluate import wilson

    n = result["n"]
    parts = []
    for side in ("a", "b"):
        k = round(result[f"accuracy_{side}"] * n)
        lo, hi = wilson(k, n)
        parts.append(f"{side.upper()} {k}/{n} ({_pct(result[f'accuracy_{side}'])}, 95% CI {100 * lo:.0f}–{100 * hi:.0f}%)")
    click.echo(f"{' vs '.join(parts)} {result['note']}")
    if result.get("shadow"):
        click.echo(f"at training time: {result['shadow']}")
    click.echo(f"only A right {result['only_a_correct']}, only B right {result['only_b_correct']};"
               f" McNemar p = {result['p_value']:.4f}" + ("" if result["p_value"] < 0.05 else
                                                          " (the difference may well be chance)"))


def _import(state, file: Path, task: str | None, correction: bool, new_buckets: bool) -> None:
    """The CSV is read here (the daemon reads no file outside the configured folders)
    and checked and stored by the ``labels.import`` action: by the daemon when it runs."""
    from djml.models.feedback import read_csv_text

    from .act import perform

    text, error = read_csv_text(file)
    if error is not None:
        _fail(error)
    result, via_daemon = perform(state, "labels.import", text=text, file=str(file), task=_task(task) if task else None,
                                 new_buckets=new_buckets or None, correction=correction or None)
    if result["errors"]:
        for e in result["errors"]:
            click.echo(f"  {e}", err=True)
        _fail(f"{file}: {len(result['errors'])} problem(s); nothing was imported")
    known = result["rows"] - result["imported"]
    click.echo(f"imported {result['imported']} label(s) for {', '.join(result['tasks'])}"
               + (f"; {known} already in force" if known else ""))
    for t, fresh in result["fresh"].items():
        if fresh >= state.config.retrain_after:
            click.echo(f"{fresh} new {t} labels since the last training: "
                       + ("the daemon is retraining" if via_daemon else f"run `djml train --task {t}`"
                                                                        " (the daemon does it automatically)"))


@click.command("import-labels")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task", type=TASK_CHOICES, help="Task for a plain 'label' column.")
@click.option("--new-buckets", is_flag=True, help="Allow buckets that do not exist yet (they are created).")
@click.pass_obj
def import_labels(state, file: Path, task: str | None, new_buckets: bool) -> None:
    """Import training labels from a CSV (columns: track_id|item_id|path and
    bucket|sample_type|genre|mood|label[,task]). Every row is checked first; one bad
    row imports nothing. A bucket that does not exist is an error (with the closest
    name) unless --new-buckets.

    \b
    Examples:
      djml import-labels labels.csv
      djml import-labels crates.csv --task buckets --new-buckets
    """
    _import(state, file, task, False, new_buckets)


@click.group()
def feedback() -> None:
    """Corrections to the models' labels.

    \b
    Example:
      djml feedback import corrections.csv     # track_id,correct_bucket
    """


@feedback.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task", type=TASK_CHOICES, default="buckets", show_default=True,
              help="Task for a plain 'label' column.")
@click.option("--new-buckets", is_flag=True, help="Allow buckets that do not exist yet (they are created).")
@click.pass_obj
def feedback_import(state, file: Path, task: str, new_buckets: bool) -> None:
    """Import corrections from a CSV: `track_id,correct_bucket` or `path,bucket` (or any
    column set import-labels accepts). All rows or none; errors name the line. A bucket
    that does not exist (a typo such as peak-tme) is an error naming the closest bucket,
    unless --new-buckets. Undo a correction with `djml unlabel TRACK`.

    \b
    Examples:
      djml feedback import corrections.csv
      djml feedback import new-crates.csv --new-buckets
    """
    _import(state, file, task, True, new_buckets)


@click.command("export-predictions")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--task", type=TASK_CHOICES, help="Only this task.")
@click.option("--unsure", is_flag=True, help="Only unsure predictions (the review queue's material).")
@click.option("--below", type=click.FloatRange(0, 1), help="Only predictions with confidence below this.")
@click.pass_obj
def export_predictions(state, file: Path, task: str | None, unsure: bool, below: float | None) -> None:
    """Write predictions as CSV: path, artist, title, task, label, confidence, unsure,
    model_version, predicted_at ('-' as FILE writes to stdout).

    \b
    Examples:
      djml export-predictions unsure.csv --unsure
      djml export-predictions - --task buckets --below 0.6 | column -s, -t
    """
    conn = _reader(state)
    where, params = [], []
    if task:
        where.append("p.task = ?")
        params.append(_task(task))
    if unsure:
        where.append("p.unsure = 1")
    if below is not None:
        where.append("p.confidence < ?")
        params.append(below)
    sql = ("SELECT (SELECT l.path FROM locations l WHERE l.item_id = i.id ORDER BY l.status = 'ok' DESC, l.id LIMIT 1)"
           " AS path, i.artist, i.title, p.task, p.label, p.confidence, p.unsure, p.model_version, p.predicted_at"
           " FROM predictions p JOIN items i ON i.id = p.item_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.confidence, i.id")
    rows = conn.execute(sql, params).fetchall()
    handle = sys.stdout if str(file) == "-" else open(file, "w", newline="", encoding="utf-8")
    try:
        w = csv.writer(handle)
        w.writerow(["path", "artist", "title", "task", "label", "confidence", "unsure", "model_version", "predicted_at"])
        for r in rows:
            w.writerow([r["path"], r["artist"] or "", r["title"] or "", r["task"], r["label"],
                        f"{r['confidence']:.4f}", r["unsure"], r["model_version"], r["predicted_at"]])
    finally:
        if handle is not sys.stdout:
            handle.close()
    if handle is not sys.stdout:
        click.echo(f"wrote {len(rows)} prediction(s) to {file}", err=True)


@click.command()
@click.argument("ref", metavar="PATH|ID|TEXT")
@click.option("--task", type=TASK_CHOICES, help="Only this task (default: every task of the item's kind).")
@click.option("--debug", is_flag=True, help="Explain: top feature contributions and nearest labelled items.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def predict(state, ref: str, task: str | None, debug: bool, as_json: bool) -> None:
    """Predict one item now with the active models (and store the prediction).

    \b
    Examples:
      djml predict 42
      djml predict ./Samples/unsorted/hit_07.wav --debug
    """
    from djml.client import wire_ref
    from djml.render import warn_ambiguous

    from .act import perform

    answer, _ = perform(state, "predict", ref=wire_ref(ref), task=_task(task) if task else None,
                        debug=debug or None)
    if not as_json:
        warn_ambiguous(answer["resolved"], ref, "predict")
    results = answer["predictions"]
    if as_json:
        click.echo(json.dumps(results, indent=2, default=str))
        return
    for r in results:
        if r["label"] is None:
            click.echo(f"{r['task']}: no prediction ({'; '.join(r['reasons'])}){' — ' + r['error'] if r.get('error') else ''}")
            continue
        top = ", ".join(f"{lab} {p:.2f}" for lab, p in r["top"])
        flag = f"  UNSURE: {'; '.join(r['reasons'])}" if r["unsure"] else ""
        click.echo(f"{r['task']}: {r['label']} ({top}) by {r['model_version']}{flag}")
        for line in r.get("debug", {}).get("lines", []):
            click.echo(f"    {line}")
