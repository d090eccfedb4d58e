"""Accuracy figures with their n and 95 % interval, in plain Python.

Apart from :mod:`djml.models.evaluate` (numpy) so that `djml models stats`, `models history`
and the TUI can show intervals without importing numpy.
"""

from __future__ import annotations

import math
from typing import Any


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of an accuracy of ``correct`` of ``n``: honest for the
    5–50 held-out labels a personal library gives (3 of 10 right is "11–60 %", not "30 %"),
    where the normal approximation would leave [0, 1]."""
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if correct == 0 else lo), (1.0 if correct == n else hi)


def figure(metrics: dict[str, Any], metadata: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The accuracy a model version is shown with, always with its n and 95 % interval:
    held-out accuracy on the user's labels for personal versions, leave-one-kit-out
    accuracy over the training set for the shipped model. None when it has no figure."""
    metadata = metadata or {}
    if isinstance(metrics.get("holdout_accuracy"), (int, float)) and metrics.get("n_holdout"):
        what, acc, n = "held-out", float(metrics["holdout_accuracy"]), int(metrics["n_holdout"])
    elif isinstance(metrics.get("loko_accuracy"), (int, float)) and metadata.get("n_train"):
        what, acc, n = "leave-one-kit-out", float(metrics["loko_accuracy"]), int(metadata["n_train"])
    else:
        return None
    held_out = what == "held-out"
    correct = int(metrics.get("holdout_correct", round(acc * n))) if held_out else round(acc * n)
    lo, hi = (metrics.get("holdout_interval") if held_out else None) or wilson(correct, n)
    return {"what": what, "accuracy": acc, "correct": correct, "n": n, "low": float(lo), "high": float(hi)}


def figure_text(fig: dict[str, Any] | None) -> str:
    """'held-out 83% (5/6, 95% CI 44–97%)'."""
    if fig is None:
        return "no figure"
    return (f"{fig['what']} {100 * fig['accuracy']:.0f}% ({fig['correct']}/{fig['n']},"
            f" 95% CI {100 * fig['low']:.0f}–{100 * fig['high']:.0f}%)")
