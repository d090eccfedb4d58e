"""Decision forests as plain arrays, evaluated with numpy: the shipped model's format.

Why: a pickled scikit-learn forest only loads with a compatible scikit-learn, and loading
it imports sklearn (slow for a one-shot, and a version upgrade would break the shipped
model). A fitted ExtraTrees/RandomForest is exported once into flat node arrays (children,
split feature, threshold, leaf class distribution) that any numpy evaluates identically.

Evaluation walks all trees for all rows at once, one tree level per step (a fancy index
per level): 150 trees x 1,000 rows take a few milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LEAF = -1


class ForestArrays:
    """A forest of ``n_trees`` trees over ``n_classes`` classes, in node arrays.

    ``left``/``right`` are global node indices (``LEAF`` at leaves), ``feature`` and
    ``threshold`` the split (go left when ``x[feature] <= threshold``), ``value`` the
    class distribution at each node (rows sum to 1), ``roots`` the first node per tree.
    ``temperature`` rescales the averaged probabilities (calibration: p ** (1 / T));
    ``calibration``, when given, is a JSON map of :mod:`djml.models.calibration` applied
    instead (an isotonic map fitted on held-out sources). ``partner`` (a
    :class:`~djml.models.linear_arrays.LinearArrays` on the same features) and ``cnn`` (a
    :class:`~djml.models.cnn_arrays.CNNArrays` on the sample's log-mel patch), when given,
    are averaged in with weights ``partner_share`` and ``cnn_share`` before calibration; the
    trees keep the rest. A model with a CNN ``needs_patches``: its ``predict_proba`` takes
    the patches next to the feature matrix."""

    def __init__(self, left: np.ndarray, right: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
                 value: np.ndarray, roots: np.ndarray, temperature: float = 1.0,
                 classes: np.ndarray | None = None, calibration: dict | None = None,
                 partner: Any = None, partner_share: float = 0.0,
                 cnn: Any = None, cnn_share: float = 0.0) -> None:
        self.left = np.asarray(left, np.int32)
        self.right = np.asarray(right, np.int32)
        self.feature = np.asarray(feature, np.int32)
        self.threshold = np.asarray(threshold, np.float32)
        self.value = np.asarray(value, np.float32)
        self.roots = np.asarray(roots, np.int32)
        self.temperature = float(temperature)
        self.calibration = calibration
        self.partner, self.partner_share = partner, float(partner_share if partner is not None else 0.0)
        self.cnn, self.cnn_share = cnn, float(cnn_share if cnn is not None else 0.0)
        self.n_classes = int(self.value.shape[1])
        # the Estimator's class index of each column (sklearn drops classes absent in a fit)
        self.classes_ = np.arange(self.n_classes) if classes is None else np.asarray(classes, np.int64)
        # Leaves point to themselves, so every row can take the same number of steps.
        node = np.arange(len(self.left), dtype=np.int32)
        leaf = self.left == LEAF
        self._left = np.where(leaf, node, self.left)
        self._right = np.where(leaf, node, self.right)
        self._feature = np.where(leaf, 0, self.feature)
        self._depth = _max_depth(self.left, self.right, self.roots)

    @classmethod
    def from_sklearn(cls, forest: Any, temperature: float = 1.0) -> "ForestArrays":
        """Export a fitted sklearn forest (its ``estimators_``' ``tree_``)."""
        lefts, rights, feats, thrs, vals, roots = [], [], [], [], [], []
        offset = 0
        n_classes = len(forest.classes_)
        for est in forest.estimators_:
            t = est.tree_
            left, right = t.children_left.astype(np.int64), t.children_right.astype(np.int64)
            lefts.append(np.where(left == LEAF, LEAF, left + offset))
            rights.append(np.where(right == LEAF, LEAF, right + offset))
            feats.append(t.feature)
            thrs.append(t.threshold)
            v = np.zeros((t.node_count, n_classes))
            v[:, : t.value.shape[2]] = t.value[:, 0, :]
            vals.append(v / np.maximum(v.sum(1, keepdims=True), 1e-12))
            roots.append(offset)
            offset += t.node_count
        # sklearn compares float32 features against float64 thresholds; rounding the
        # thresholds down to float32 keeps every comparison identical for float32 input.
        thr = np.concatenate(thrs)
        thr32 = thr.astype(np.float32)
        thr32 = np.where(thr32.astype(np.float64) > thr, np.nextafter(thr32, np.float32(-np.inf)), thr32)
        return cls(np.concatenate(lefts), np.concatenate(rights), np.concatenate(feats), thr32,
                   np.concatenate(vals), np.array(roots), temperature, np.asarray(forest.classes_))

    @property
    def needs_patches(self) -> bool:
        return self.cnn is not None and self.cnn_share > 0

    def raw_proba(self, X: np.ndarray, patches: np.ndarray | None = None) -> np.ndarray:
        """Uncalibrated probabilities: the trees' mean, blended with the partner's and the
        CNN's if any. ``patches``: one log-mel patch per row of ``X``, or a single patch for
        every row (explanations perturb the features of one sample)."""
        trees = self.forest_proba(X)
        if not (self.partner_share or self.needs_patches):
            return trees
        out = (1 - self.partner_share - self.cnn_share) * trees
        for member, share, inputs in ((self.partner, self.partner_share, X), (self.cnn, self.cnn_share, patches)):
            if not share:
                continue
            if inputs is None:
                raise ValueError("this model blends in a CNN: predict with the log-mel patches")
            p = np.zeros_like(trees)
            p[:, np.searchsorted(self.classes_, member.classes_)] = member.predict_proba(inputs)
            out += share * p
        return out.astype(np.float32)

    def forest_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean leaf distribution over trees (sklearn's predict_proba), uncalibrated."""
        X = np.ascontiguousarray(X, np.float32)
        n = len(X)
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self._depth):
            go_left = X[rows, self._feature[node]] <= self.threshold[node]
            node = np.where(go_left, self._left[node], self._right[node])
        return self.value[node].mean(axis=1)

    def predict_proba(self, X: np.ndarray, patches: np.ndarray | None = None) -> np.ndarray:
        raw = self.raw_proba(X, patches)
        if self.calibration:
            from djml.models.calibration import apply_map

            return apply_map(raw, self.calibration)
        return apply_temperature(raw, self.temperature)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"left": self.left, "right": self.right, "feature": self.feature,
               "threshold": self.threshold, "value": np.where((self.left == LEAF)[:, None], self.value, 0).astype(np.float32),  # leaves only
               "roots": self.roots, "classes": self.classes_}
        if self.partner is not None:
            out.update(self.partner.to_arrays(), partner_share=np.float64(self.partner_share))
        if self.cnn is not None:
            out.update(self.cnn.to_arrays(), cnn_share=np.float64(self.cnn_share))
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], temperature: float,
                    calibration: dict | None = None) -> "ForestArrays":
        from djml.models.cnn_arrays import CNNArrays
        from djml.models.linear_arrays import LinearArrays

        value = np.asarray(arrays["value"], np.float32)
        partner = LinearArrays.from_arrays(arrays)
        cnn = CNNArrays.from_arrays(arrays)
        return cls(arrays["left"], arrays["right"], arrays["feature"], arrays["threshold"],
                   value / np.maximum(value.sum(1, keepdims=True), 1e-12), arrays["roots"], temperature,
                   arrays["classes"], calibration, partner,
                   float(arrays["partner_share"]) if partner is not None else 0.0,
                   cnn, float(arrays["cnn_share"]) if cnn is not None else 0.0)


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: softmax(log p / T) (T > 1 softens)."""
    if temperature == 1.0:
        return proba.astype(np.float32)
    logp = np.log(np.maximum(proba, 1e-6)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _max_depth(left: np.ndarray, right: np.ndarray, roots: np.ndarray) -> int:
    depth, frontier = 0, np.asarray(roots, np.int64)
    while True:
        frontier = frontier[left[frontier] != LEAF]
        if not len(frontier):
            return depth
        frontier = np.concatenate([left[frontier], right[frontier]])
        depth += 1
