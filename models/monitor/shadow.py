"""Shadow evaluation: a retrained model and the active one predict the same held-out labels
of the user's (labels the active model never trained on, none of which the candidate
trained on), and the candidate is activated only if it is not significantly worse there.

"Significantly worse" is the one-sided exact McNemar test at 5 % that training has always
used (:func:`djml.models.service.p_worse`); a rejected candidate is kept, marked
``rejected`` with these figures, and `djml models compare` shows both on the same items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# A retrain is rejected only when it is *significantly* worse than the active model on the
# labels neither trained on: one-sided exact McNemar test (Dietterich 1998) at the usual 5 %.
# "Fewer right on 5-10 held-out labels" alone rejected 30-40 % of retrains on generated
# beats (pure noise: the new model has more labels) and froze the queue on a stale model.
REJECT_P = 0.05
MIN_COMPARE = 5   # fewer shared held-out labels than this: too few to judge, no rejection


def p_worse(y_true: Sequence[str], before: Sequence[str], after: Sequence[str]) -> float:
    """One-sided exact McNemar p-value of "the new model is worse than the old one": the
    chance of at least this many old-only-right items among the items exactly one of the
    two got right, if both were equally good (a fair coin)."""
    only_before = sum(1 for t, b, a in zip(y_true, before, after) if b == t and a != t)
    n = only_before + sum(1 for t, b, a in zip(y_true, before, after) if a == t and b != t)
    return sum(math.comb(n, i) for i in range(only_before, n + 1)) / 2**n


def evaluate(item_ids: Sequence[int], y_true: Sequence[str], active: Sequence[str], candidate: Sequence[str],
             active_version: str) -> dict[str, Any]:
    """The figures of one shadow evaluation and its decision (training stores them in the
    candidate's metrics)."""
    n = len(y_true)
    before = sum(1 for t, b in zip(y_true, active) if t == b)
    after = sum(1 for t, a in zip(y_true, candidate) if t == a)
    p = p_worse(y_true, active, candidate)
    judged = n >= MIN_COMPARE
    return {"before_version": active_version, "compared_on": n, "before_correct": before, "after_correct": after,
            "before_accuracy": before / n if n else float("nan"), "after_accuracy": after / n if n else float("nan"),
            "p_worse": p, "shadow_items": [int(i) for i in item_ids],
            "shadow_decision": "reject" if judged and p < REJECT_P else "activate"}


def summary(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The shadow figures of a version's metrics (None when it was not compared)."""
    if not metrics.get("before_version") or "p_worse" not in metrics:
        return None
    return {k: metrics.get(k) for k in ("before_version", "compared_on", "before_correct", "after_correct",
                                        "p_worse", "shadow_items")} | {"rejected": bool(metrics.get("rejected"))}


def text(shadow: dict[str, Any], name: str = "the new model", other: str | None = None) -> str:
    """'on the same 12 labels: active 10, new 7 (one-sided McNemar p = 0.031) → rejected'."""
    verdict = "rejected" if shadow["rejected"] else "activated"
    return (f"on the same {shadow['compared_on']} held-out labels {other or shadow['before_version']} got"
            f" {shadow['before_correct']}, {name} {shadow['after_correct']}"
            f" (one-sided McNemar p = {shadow['p_worse']:.3f}) → {verdict}")
