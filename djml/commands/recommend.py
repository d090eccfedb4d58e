"""`djml recommend`: what to play after a track (or samples like a sample), with reasons."""

from __future__ import annotations

import click

from djml.cli import EXIT_USAGE
from djml.safetext import display


@click.command()
@click.argument("ref", metavar="TRACK", required=False)
@click.option("-n", "n", type=click.IntRange(1, 200), default=10, show_default=True, help="How many suggestions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with features and reasons.")
@click.option("--bpm-tolerance", type=click.FloatRange(0, 50, min_open=True), default=6.0, show_default=True,
              help="Allowed tempo change in percent (half and double time count too).")
@click.option("--key", "key_mode", type=click.Choice(["strict", "relaxed", "any"]), default="relaxed",
              show_default=True,
              help="strict: same key, ±1, relative; relaxed: also +2, diagonal, +1 semitone; any: no key filter.")
@click.option("--energy", type=click.Choice(["up", "down", "steady"]), help="Energy direction to move in.")
@click.option("--accept", "accept", type=int, metavar="ID",
              help="Record that you played item ID after TRACK (teaches the ranker) and exit.")
@click.option("--train", is_flag=True,
              help="Re-learn the set model and the ranking weights from your sets (loads torch) and exit.")
@click.pass_obj
def recommend(state, ref, n, as_json, bpm_tolerance, key_mode, energy, accept, train) -> None:
    """Suggest what to play after TRACK (an item id, a file path, or artist/title words).

    Every suggestion is mixable under the filters (tempo within --bpm-tolerance, key per
    --key, --energy direction) and comes with its reasons, e.g.
    "8A → 9A (+1, compatible) · 124 → 126 BPM (+1.6%) · timbre similarity 0.91 ·
    followed it in 3 of your sets". Ranking mixes sound similarity, your sets (transitions,
    co-occurrence, a learned set model) and compatibility; --train learns its weights from
    your sets and --accept feedback refines them. For a sample, lists similar samples.
    Uses the daemon when it runs.

    \b
    Examples:
      djml recommend "daft punk around the world"
      djml recommend 42 --key strict --energy up -n 5
      djml recommend 42 --accept 57
      djml recommend --train
    """
    options = {"n": n, "bpm_tolerance": bpm_tolerance, "key_mode": key_mode, "energy": energy}
    if train:
        train_set_models(state)
        return
    if ref is None:
        raise click.UsageError("give a TRACK (item id, file path or artist/title words)")
    if accept is not None:
        _accept(state, ref, accept, options)
        return
    answer = _ask_daemon(state.config, ref, options)
    if answer is None:
        answer = _local(state, ref, options)
    from djml.recommend_view import print_answer, print_json
    from djml.render import warn_ambiguous

    warn_ambiguous(answer["seed"].get("resolved") or {}, ref, "recommend")
    (print_json if as_json else print_answer)(answer)


def _ask_daemon(config, ref: str, options: dict) -> dict | None:
    """The daemon's answer, or None when no daemon runs (then we read the files ourselves)."""
    from djml.client import RemoteError, connect_if_running, wire_ref

    client = connect_if_running(config, timeout=30.0)
    if client is None:
        return None
    with client:
        try:
            return client.call("recommend", ref=wire_ref(ref), options=options)
        except RemoteError as exc:
            _fail(exc.message)


def _local(state, ref: str, options: dict) -> dict:
    """Read the library here, with the reference as the daemon receives it (an id as a
    number), so both paths say the same, also when nothing matches."""
    from djml.client import wire_ref
    from djml.procs import one_blas_thread

    one_blas_thread()   # before numpy loads (djml.models.recommend imports it)
    from djml.models.recommend import RecommendError, recommend_result

    conn = state.reader()
    try:
        return recommend_result(conn, state.config, wire_ref(ref), **options)
    except RecommendError as exc:
        _fail(str(exc))
    finally:
        conn.close()


def _accept(state, ref: str, accepted: int, options: dict) -> None:
    """The ``recommend.accept`` action: by the daemon when it runs (it is the writer)."""
    from djml.client import wire_ref

    from .act import perform

    result, via_daemon = perform(state, "recommend.accept", ref=wire_ref(ref), item_id=accepted, options=options)
    skipped = result["skipped"]
    click.echo(f"Recorded: #{result['accepted']} after #{result['seed']}"
               + (f" ({skipped} higher-ranked suggestion(s) counted as skipped)" if skipped else "")
               + (" (via the daemon)." if via_daemon else "."))


def train_set_models(state) -> None:
    """Fit the set model and the ranking weights on every set in the library and say what
    was learned (``djml recommend --train``)."""
    from .act import perform

    result, _ = perform(state, "recommend.train", show_progress=True)
    print_set_models(result)


def print_set_models(result: dict) -> None:
    """What :func:`djml.models.actions.train_set_models` learned (also after `djml import`)."""
    model, weights = result["set_model"], result["weights"]
    if model["trained"]:
        click.echo(f"Set model: learned from {model['sets']} sets ({model['items']} tracks) → {model['path']}")
    else:
        click.echo(f"Set model not trained: {model['reason']} (found {model['sets']}).")
    if weights["trained"]:
        changed = ", ".join(f"{f} {w:.2f}" for f, w in weights["weights"].items())
        click.echo(f"Ranking weights: {weights['pairs']} choices from {weights['cases']} transitions → {changed}")
    else:
        click.echo(f"Ranking weights not learned: {weights['reason']} (found {weights['sets']}).")


def _fail(message: str) -> None:
    click.echo(f"djml: {display(message)}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)
