"""Options several commands share, defined once so `ls`, `export` and `tags write` filter
the library with the same words and the same help."""

from __future__ import annotations

from collections.abc import Callable

import click

BPM_HELP = ("BPM as the listing shows it: 128 is 127.5–128.5 (what a DJ calls 128); a range 120-128 "
            "includes everything shown as 120.0 to 128.0.")
LABEL_HELP = "Bucket or sample class: yours (or your sample folder's name), or the model's guess."
SEARCH_HELP = "Words in artist, title, album, genre, comment or the file and folder names (kick, DirtyLove)."


def filter_options(label_help: str = LABEL_HELP) -> Callable[[Callable], Callable]:
    """--kind --bpm --energy --key --genre --label --search (see :class:`djml.query.Filters`)."""
    options = [
        click.option("--kind", type=click.Choice(["track", "sample"]), help="Only tracks or only samples."),
        click.option("--bpm", metavar="BPM|LOW-HIGH", help=BPM_HELP),
        click.option("--energy", metavar="N|LOW-HIGH", help="Energy 0–10 as shown (7 is 6.5–7.5), or a range 6-8."),
        click.option("--key", metavar="KEY", help="Musical key in any notation: 8A, Am, 'A minor', 1m; "
                     "8A~ also lists every key that mixes with it."),
        click.option("--genre", help="Genre tag contains this text."),
        click.option("--label", help=label_help),
        click.option("--search", "-s", metavar="WORDS", help=SEARCH_HELP),
    ]

    def apply(func: Callable) -> Callable:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


def predicted_options(func: Callable) -> Callable:
    """--predicted / --min-confidence: model guesses only when asked, and only confident ones."""
    func = click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.8, show_default=True,
                        help="With --predicted: the least confidence a guess needs.")(func)
    return click.option("--predicted", is_flag=True,
                        help="Also use the model's guesses (buckets, sample classes) where you gave no label, "
                             "when at least --min-confidence sure. Default: only your own labels.")(func)
