"""A standardised multinomial logistic regression as plain arrays, run by numpy.

Why: the shipped sample model may average its trees with a linear model on the same
features (a smooth partner: trees split on thresholds learnt from a few kits, a linear
model extrapolates more gently to a pack it has not heard). Like the forest, it must load
without scikit-learn, so it is exported once to (mean, scale, coefficients, intercepts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

PREFIX = "lr_"   # its arrays' names inside the shipped npz


class LinearArrays:
    """softmax(((X - mean) / scale) @ coef.T + intercept) over ``classes_`` (the columns'
    class indices in the Estimator's class list)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 classes: np.ndarray) -> None:
        self.mean = np.asarray(mean, np.float64)
        self.scale = np.asarray(scale, np.float64)
        self.coef = np.asarray(coef, np.float64)
        self.intercept = np.asarray(intercept, np.float64)
        self.classes_ = np.asarray(classes, np.int64)

    @classmethod
    def from_sklearn(cls, pipeline: Any) -> "LinearArrays":
        """Export ``make_pipeline(StandardScaler(), LogisticRegression())`` fitted on class indices."""
        scaler, lr = pipeline.steps[0][1], pipeline.steps[-1][1]
        return cls(scaler.mean_, scaler.scale_, lr.coef_, lr.intercept_, lr.classes_)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities over the fitted classes (columns in ``classes_`` order)."""
        z = ((np.asarray(X, np.float64) - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f"{PREFIX}{k}": getattr(self, k).astype(np.float32 if k != "classes_" else np.int64)
                for k in ("mean", "scale", "coef", "intercept", "classes_")}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "LinearArrays | None":
        if f"{PREFIX}coef" not in arrays:
            return None
        return cls(*(arrays[f"{PREFIX}{k}"] for k in ("mean", "scale", "coef", "intercept", "classes_")))
