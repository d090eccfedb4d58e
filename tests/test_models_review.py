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


def clusters_with_outliers(seed=1, sizes=(40, 30, 25, 22), outliers=6):
    """Isolated outliers on axes of their own (first, so that ties favour them), then tight
    clusters of different sizes (each larger than the typicality neighbourhood) on
    orthogonal axes; returns vectors and each row's cluster (-1 = outlier)."""
    rng = np.random.default_rng(seed)
    dim = len(sizes) + outliers
    rows, which = [], []
    for axis, size in enumerate((1,) * outliers + sizes):
        centre = np.zeros(dim)
        centre[axis] = 10
        outlier = axis < outliers
        rows.append(centre + rng.normal(0, 3.0 if outlier else 0.5, (size, dim)))
        which += [-1 if outlier else axis - outliers] * size
    return np.vstack(rows), np.array(which)


def test_cold_start_covers_every_cluster_with_typical_items():
    """No model yet: one typical member of every cluster before any cluster twice, and no
    outlier (farthest-point sampling would start with the outliers)."""
    vectors, which = clusters_with_outliers()
    picked = order(None, vectors, 4)
    assert sorted(which[picked]) == [0, 1, 2, 3]
    assert -1 in which[order(np.ones(len(vectors)), vectors, 4)]   # the old rule: outliers


def test_labelled_items_count_as_covered_before_a_model_exists():
    """No model yet (fewer than 10 labels): the next batch explores clusters unlike the
    labelled items. Once a model exists its uncertainty already reflects what it was
    taught, so the labelled items no longer push candidates away."""
    vectors, which = clusters_with_outliers()
    labelled = vectors[(which == 0) | (which == 1)][::5]
    assert sorted(which[order(None, vectors, 2, labelled=labelled)]) == [2, 3]
    assert 0 in which[order(None, vectors, 4)]
    u = np.random.default_rng(0).uniform(0.2, 0.8, len(vectors))
    assert order(u, vectors, 6, labelled=labelled) == order(u, vectors, 6)


def test_typicality_ranks_cluster_centres_above_outliers():
    vectors, which = clusters_with_outliers()
    from djml.models.review import _standardise, typicality

    t = typicality(_standardise(vectors, None)[0])
    assert t.min() == 0.0 and t.max() == 1.0
    assert t[which == -1].max() < t[which >= 0].min()
