"""Forests exported to arrays predict exactly what the sklearn forest predicts; temperature
scaling and the calibration metrics behave as documented."""

from __future__ import annotations

import numpy as np
import pytest

from djml.models import calibration
from djml.models.forest_arrays import ForestArrays, apply_temperature


def _data(seed=0, n=400, d=12, k=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] + 0.5 * X[:, 2] > 0.3)
    return X, y % k


@pytest.mark.parametrize("kind", ["et", "rf"])
def test_exported_forest_matches_sklearn(kind):
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    X, y = _data()
    cls = ExtraTreesClassifier if kind == "et" else RandomForestClassifier
    forest = cls(n_estimators=25, max_leaf_nodes=40, random_state=0, class_weight="balanced").fit(X, y)
    arrays = ForestArrays.from_sklearn(forest)
    Xt, _ = _data(seed=1)
    np.testing.assert_allclose(arrays.predict_proba(Xt), forest.predict_proba(Xt), atol=1e-6)
    # thresholds sit exactly on training values: float32 rounding must not flip a split
    np.testing.assert_allclose(arrays.predict_proba(X), forest.predict_proba(X), atol=1e-6)
    again = ForestArrays.from_arrays(arrays.to_arrays(), 1.0)
    np.testing.assert_allclose(again.predict_proba(Xt), arrays.predict_proba(Xt), atol=1e-6)


def test_temperature_keeps_the_decision_and_softens():
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]], np.float32)
    soft, sharp = apply_temperature(p, 2.0), apply_temperature(p, 0.5)
    assert (soft.argmax(1) == p.argmax(1)).all() and (sharp.argmax(1) == p.argmax(1)).all()
    assert (soft.max(1) < p.max(1)).all() and (sharp.max(1) > p.max(1)).all()
    np.testing.assert_allclose(soft.sum(1), 1, atol=1e-6)


def test_fitted_temperature_repairs_overconfidence():
    rng = np.random.default_rng(0)
    n, k = 4000, 5
    y = rng.integers(0, k, n)
    right = rng.random(n) < 0.6                     # 60 % right ...
    pred = np.where(right, y, (y + rng.integers(1, k, n)) % k)
    proba = np.full((n, k), 0.05 / (k - 1), np.float32)
    proba[np.arange(n), pred] = 0.95                # ... at 95 % confidence
    assert calibration.ece(proba, y) == pytest.approx(0.35, abs=0.03)
    t = calibration.fit_temperature(proba, y)
    assert t > 1 and calibration.ece(apply_temperature(proba, t), y) < 0.05


def test_ece_of_a_calibrated_predictor_is_small_and_reliability_bins_add_up():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 5000)
    proba = np.stack([conf, 1 - conf], 1)            # always predicts class 0 at ``conf`` ...
    y = np.where(rng.random(5000) < conf, 0, 1)      # ... and is right that often
    assert calibration.ece(proba, y) < 0.03
    assert sum(b["n"] for b in calibration.reliability(proba, y)) == 5000


def test_ece_if_calibrated_is_the_chance_level_of_ece_at_that_many_predictions():
    rng = np.random.default_rng(2)
    few, many = rng.uniform(0.5, 1.0, 35), rng.uniform(0.5, 1.0, 3000)
    med_few, q_few = calibration.ece_if_calibrated(few)
    med_many, q_many = calibration.ece_if_calibrated(many)
    assert med_many < q_many < 0.04 < med_few < q_few      # small sources: ECE is mostly noise
    # a calibrated predictor's measured ECE lands inside the range about 95 % of the time
    inside = 0
    for i in range(200):
        y = np.where(rng.random(35) < few, 0, 1)
        inside += calibration.ece(np.stack([few, 1 - few], 1), y) <= q_few
    assert 0.88 <= inside / 200 <= 1.0
    assert calibration.ece_if_calibrated(few, seed=3) == calibration.ece_if_calibrated(few, seed=3)
