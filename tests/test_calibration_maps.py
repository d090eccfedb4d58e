"""Isotonic calibration maps: monotone, JSON-storable, sum to 1, and the top-label map never
changes a decision while it repairs confidence that temperature cannot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from djml.models import calibration


def test_isotonic_pools_adjacent_violators():
    xs, ys = calibration.isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.0, 1.0]))
    assert np.all(np.diff(ys) >= 0)
    assert np.interp(0.25, xs, ys) == pytest.approx(0.5) and np.interp(0.1, xs, ys) == 0
    assert np.interp(0.4, xs, ys) == 1


def _mixed(seed=0, n=4000, k=6):
    """Confident predictions that are right more often than they say and unsure ones that
    are right less often: one temperature cannot fix both."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k) * 0.4, size=n)
    conf = p.max(1)
    right = rng.random(n) < np.where(conf > 0.6, 0.99, 0.2)
    y = np.where(right, p.argmax(1), (p.argmax(1) + rng.integers(1, k, n)) % k)
    return p, y


@pytest.mark.parametrize("method", calibration.METHODS)
def test_maps_are_json_and_give_distributions(method):
    p, y = _mixed()
    cal = json.loads(json.dumps(calibration.fit_map(method, p, y)))
    q = calibration.apply_map(p, cal)
    assert q.shape == p.shape and np.allclose(q.sum(1), 1, atol=1e-5) and (q >= 0).all()


def test_top_label_map_keeps_decisions_and_beats_temperature():
    p, y = _mixed()
    fit, test = slice(0, 2000), slice(2000, None)
    top = calibration.apply_map(p[test], calibration.fit_map("top", p[fit], y[fit]))
    temp = calibration.apply_map(p[test], calibration.fit_map("temperature", p[fit], y[fit]))
    assert (top.argmax(1) == p[test].argmax(1)).all()
    assert calibration.ece(top, y[test]) < 0.03 < calibration.ece(temp, y[test])


def test_top_label_map_with_a_flat_row():
    p = np.full((2, 4), 0.25)
    p[1] = [0.7, 0.1, 0.1, 0.1]
    q = calibration._rescale_top(p, np.array([0.9, 0.2]))
    assert np.allclose(q.sum(1), 1) and (q.argmax(1) == p.argmax(1)).all()
