"""`djml models stats` and `djml models history`: how the models fare and how they got here.

Asked of the daemon when it runs (its answer includes a training running right now),
read from the library directly when not. Imports no numpy, scikit-learn or torch.
"""

from __future__ import annotations

import json
from typing import Any

import click

TASK_CHOICES = click.Choice(["samples", "buckets", "genre", "mood", "sample_type", "bucket"])


def _task(text: str) -> str:
    from djml.models import task_name

    return task_name(text)


def _reader(state):
    return state.reader()


def _answer(state, method: str, task: str | None, as_json: bool) -> dict[str, Any] | None:
    """The answer to render as text (after saying so when there are no models yet), or
    None when it was printed as JSON."""
    result = _ask(state, method, task)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return None
    if not result["tasks"]:
        click.echo("No models yet: label items (djml review) and train (djml train --task buckets).")
    return result


def _ask(state, method: str, task: str | None) -> dict[str, Any]:
    from djml.client import RemoteError, connect_if_running

    task = _task(task) if task else None
    client = connect_if_running(state.config)
    if client is not None:
        with client:
            try:
                return client.call(method, **({"task": task} if task else {}))
            except RemoteError as exc:
                if exc.code != "method_not_found":   # an older daemon: read the library instead
                    raise click.ClickException(exc.message) from None
    if method == "models.stats":
        from djml.models.monitor.acceptance import stats

        return stats(_reader(state), task)
    from djml.models.monitor.history import history

    return history(_reader(state), task)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def rate_text(r: dict[str, Any]) -> str:
    """'17/20 accepted (85%, 95% CI 64–95%)', or 'nothing decided yet'."""
    if not r or not r.get("n"):
        return "nothing decided yet"
    return (f"{r['accepted']}/{r['n']} accepted ({_pct(r['rate'])}, 95% CI {_pct(r['low'])}–{_pct(r['high'])})"
            f", {r['corrected']} corrected")


@click.command("stats")
@click.option("--task", type=TASK_CHOICES)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def models_stats(state, task: str | None, as_json: bool) -> None:
    """How often your labels agreed with the models' predictions, per task.

    A prediction is accepted when your first label on the item (review queue, `djml
    label`, a label or feedback import) is the predicted one, corrected when it is
    another; predictions you have not labelled are left. Shown for the active version
    since it was activated and for the last 30 days, each with a 95% interval, plus how
    many suggested next tracks you took or skipped.

    \b
    Examples:
      djml models stats
      djml models stats --task buckets --json | jq '.tasks[0].last_30_days.rate'
    """
    result = _answer(state, "models.stats", task, as_json)
    if result is None:
        return
    for t in result["tasks"]:
        click.echo(f"{t['task']}: active {t['active_name'] or 'none'} · {t['labels']} labels of yours"
                   f" · {t['left']} prediction(s) left to review")
        click.echo(f"  since activation  {rate_text(t['since_activation'])}")
        click.echo(f"  last {result['window_days']} days      {rate_text(t['last_30_days'])}")
        target = t.get("target")
        if target and t["labels"] >= target["labels"] and t["last_30_days"]["n"]:
            met = (t["last_30_days"]["rate"] or 0) >= target["rate"]
            click.echo(f"  target ≥ {_pct(target['rate'])} accepted with {target['labels']}+ labels:"
                       f" {'met' if met else 'not met'}")
    rec = result.get("recommend")
    if rec and rec["all_time"]["taken"] + rec["all_time"]["skipped"]:
        a = rec["all_time"]
        click.echo(f"recommend: {a['taken']} suggestion(s) taken, {a['skipped']} ranked above them skipped"
                   f" ({_pct(a['rate'])} of suggestions shown up to the pick)")


def _figure(fig: dict[str, Any] | None) -> str:
    if not fig:
        return "–"
    return f"{_pct(fig['accuracy'])} {fig['correct']}/{fig['n']} ({_pct(fig['low'])}–{_pct(fig['high'])})"


def history_lines(result: dict[str, Any]) -> list[str]:
    from djml.models.monitor import shadow
    from djml.tui.widgets.spark import spark

    lines: list[str] = []
    for t in result["tasks"]:
        accuracy = [v["figure"]["accuracy"] if v["figure"] else None for v in t["versions"]]
        accepted = [(v["acceptance"] or {}).get("rate") for v in t["versions"]]
        lines.append(f"{t['task']}  held-out accuracy {spark(accuracy, lo=0.0, hi=1.0) or '–'}"
                     f"  acceptance {spark(accepted, lo=0.0, hi=1.0) or '–'}  (oldest → newest)")
        live = t.get("training")
        if live:
            eta = f", about {live['eta']:.0f} s left" if live.get("eta") is not None else ""
            more = f" ({live['detail']})" if live.get("detail") else ""
            lines.append(f"  training now ({live['reason']}): {live['stage']} {live['step']}/{live['steps']}{more}"
                         f" · {live['elapsed']:.0f} s{eta}")
        lines.append(f"  {'version':<14}{'created':<17}{'held-out':<22}{'accepted':<10}{'drift':<22}reason")
        for v in t["versions"]:
            acc = v["acceptance"] or {}
            drift = v["drift"]
            drift_text = "–" if not drift else (", ".join(drift["labels"] or drift["features"]) if drift["drifted"]
                                                 else f"none ({drift['n_items']} new)")
            flag = "*" if v["active"] else "x" if v["status"] == "rejected" else " "
            lines.append(f"{flag} {v['name']:<14}{v['created_at'][:16]:<17}{_figure(v['figure']):<22}"
                         f"{(_pct(acc.get('rate')) + ' of ' + str(acc['n'])) if acc.get('n') else '–':<10}"
                         f"{drift_text[:21]:<22}{v['reason'] or '–'}")
            if v["shadow"]:
                lines.append(f"      shadow: {shadow.text(v['shadow'])}")
        for run in t["runs"][:5]:
            lines.append(f"  run {run['finished_at'][:16]} {run['status']:<18} {run['reason']}")
    return lines


@click.command("history")
@click.option("--task", type=TASK_CHOICES)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def models_history(state, task: str | None, as_json: bool) -> None:
    """Every version over time: held-out accuracy (n, 95% interval), how often its
    predictions were accepted, drift found against its training items, why it was trained
    and how its shadow evaluation against the active model went; recent training runs and
    a training running now (stage, ETA). * = active, x = rejected.

    \b
    Examples:
      djml models history
      djml models history --task buckets --json | jq '.tasks[0].versions[-1]'
    """
    result = _answer(state, "models.history", task, as_json)
    if result is None or not result["tasks"]:
        return
    for line in history_lines(result):
        click.echo(line)
