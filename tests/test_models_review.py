"""Review-queue ordering: uncertainty first, near-duplicates spread out."""

from __future__ import annotations

import numpy as np

from djml.models.review import order


def test_plain_uncertainty_order_without_vectors():
    assert order(np.array([0.1, 0.9, 0.5]), None, 3) == [1, 2, 0]


def test_diversity_skips_near_duplicates():
    rng = np.random.default_rng(0)
    cluster = rng.normal(0, 0.01, (5, 4)) + np.array([5, 0, 0, 0])   # five near-identical items
    other = np.array([[0, 5, 0, 0], [0, 0, 5, 0]], dtype=float)
    vectors = np.vstack([cluster, other])
    unc = np.array([0.95, 0.94, 0.93, 0.92, 0.91, 0.80, 0.70])
    picked = order(unc, vectors, 3)
    assert picked[0] == 0 and set(picked[1:]) == {5, 6}
    assert order(unc, vectors, 3, diversity=0) == [0, 1, 2]


def test_cold_start_spreads_over_the_library():
    rng = np.random.default_rng(1)
    centres = np.eye(3) * 10
    vectors = np.vstack([c + rng.normal(0, 0.1, (20, 3)) for c in centres])
    picked = order(np.ones(60), vectors, 3)
    assert {i // 20 for i in picked} == {0, 1, 2}
