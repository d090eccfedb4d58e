"""Model backends in one table: name → how to fit, how to predict, which tasks it serves.

A new backend is one new module (``fit(X, y, w, n_classes, *, seed, **params)`` and
``predict(model, X, n_classes)``) plus one line here; `djml train --model`, the trainer's
checks and :class:`djml.models.estimators.Estimator` read this table. Functions are
named as ``module:function`` and imported when used, so listing backends (the CLI's
``--model`` choices) imports neither scikit-learn nor torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

SAMPLES, TRACKS = ("sample_type",), ("bucket", "genre", "mood")


@dataclass(frozen=True)
class Backend:
    fit: str                 # "module:function"
    predict: str             # "module:function"
    tasks: tuple[str, ...]   # the tasks it may be trained for
    help: str

    def fit_fn(self) -> Any:
        return _load(self.fit)

    def predict_fn(self) -> Any:
        return _load(self.predict)


BACKENDS: dict[str, Backend] = {
    "rf": Backend("djml.models.trees:fit_random_forest", "djml.models.trees:predict_proba", SAMPLES + TRACKS,
                  "RandomForest on engineered features (tracks' default: robust with few labels)"),
    "et": Backend("djml.models.trees:fit_extra_trees", "djml.models.trees:predict_proba", SAMPLES,
                  "ExtraTrees (samples' default: best leave-one-kit-out accuracy per second of training)"),
    "hgb": Backend("djml.models.trees:fit_gradient_boosting", "djml.models.trees:predict_proba", SAMPLES,
                   "HistGradientBoosting (compact, ~20x slower to train than et on 2 cores)"),
    "hybrid": Backend("djml.models.cnn:fit_mlp", "djml.models.cnn:predict_proba", TRACKS,
                      "torch MLP over audio vector + text embedding + basic features"),
    "cnn": Backend("djml.models.cnn:fit_cnn", "djml.models.cnn:predict_proba", SAMPLES,
                   "torch CNN on log-mel patches"),
}


def for_task(task: str) -> tuple[str, ...]:
    return tuple(name for name, backend in BACKENDS.items() if task in backend.tasks)


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
