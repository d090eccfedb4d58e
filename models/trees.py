"""The scikit-learn tree ensembles as model backends (:mod:`djml.models.backends`):
RandomForest, ExtraTrees and HistGradientBoosting, each balanced by class and on one core
(the daemon shares the machine with the analysis workers)."""

from __future__ import annotations

from typing import Any

import numpy as np


def fit_random_forest(X: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int, *, seed: int = 0,
                      n_estimators: int = 100, min_samples_leaf: int = 1, max_features: Any = "sqrt") -> Any:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf,
                                   max_features=max_features, class_weight="balanced", random_state=seed, n_jobs=1)
    return model.fit(X, y, sample_weight=w)


def fit_extra_trees(X: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int, *, seed: int = 0,
                    n_estimators: int = 150, max_leaf_nodes: int = 200, max_features: Any = "sqrt") -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    model = ExtraTreesClassifier(n_estimators=n_estimators, max_leaf_nodes=max_leaf_nodes,
                                 max_features=max_features, class_weight="balanced", random_state=seed, n_jobs=1)
    return model.fit(X, y, sample_weight=w)


def fit_gradient_boosting(X: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int, *, seed: int = 0,
                          max_iter: int = 200, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                          l2: float = 1.0) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate,
                                           max_leaf_nodes=max_leaf_nodes, l2_regularization=l2,
                                           class_weight="balanced", early_stopping=False, random_state=seed)
    return model.fit(X, y, sample_weight=w)


def predict_proba(model: Any, X: np.ndarray, n_classes: int, patches: np.ndarray | None = None) -> np.ndarray:
    """Probabilities in our class order: sklearn drops classes absent from a fit.
    ``patches``: the log-mel input of an exported forest that blends in a CNN."""
    proba = model.predict_proba(X) if patches is None else model.predict_proba(X, patches)
    full = np.zeros((len(X), n_classes), np.float32)
    full[:, model.classes_] = proba
    return full
