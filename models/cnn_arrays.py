"""The sample CNN (:func:`djml.models.cnn._build_cnn`) as plain arrays, run by numpy.

Why: the shipped model must predict without torch (the daemon's workers and one-shot CLI
commands never import it) and load under any torch version or none. A trained CNN is
exported once from its numpy state dict: each conv's batch norm (eval mode) is folded into
the conv weights and a bias, and the forward pass is im2col + one matrix product per conv
block, channels last. Its arrays live in the shipped npz under ``cnn_`` names, with
``cnn_format`` recorded and checked at load.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PREFIX = "cnn_"
CNN_FORMAT = 1        # bump when the architecture or the array layout below changes
BN_EPS = 1e-5         # torch.nn.BatchNorm2d's default
BLOCKS = ("features.0", "features.2", "features.4")   # conv blocks in the torch state dict
_CHUNK = 256          # rows per step: bounded memory (im2col of 256 32x32 patches ~ 9 MB)


class CNNFormatError(ValueError):
    """CNN arrays of another format version than this djml runs."""


class CNNArrays:
    """Logits of the CNN: standardise, average-pool ``pool``, three (conv 3x3 + folded BN +
    ReLU) blocks with 2x2 max pooling between them, global mean and max pooling, linear
    head; ``predict_proba`` is their softmax over ``classes_`` (the Estimator's class
    indices of the columns)."""

    def __init__(self, mean: float, std: float, pool: int, convs: list[tuple[np.ndarray, np.ndarray]],
                 head_w: np.ndarray, head_b: np.ndarray, classes: np.ndarray) -> None:
        self.mean, self.std, self.pool = float(mean), float(std), int(pool)
        # (3, 3, cin, cout) weights flattened to (9 cin, cout) to multiply im2col rows
        self.convs = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in convs]
        self.head_w = np.asarray(head_w, np.float32)
        self.head_b = np.asarray(head_b, np.float32)
        self.classes_ = np.asarray(classes, np.int64)

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], pool: int, classes: np.ndarray | None = None) -> "CNNArrays":
        """Export a trained CNN's state dict (numpy arrays, as ``TorchNet`` pickles it)."""
        convs = []
        for name in BLOCKS:
            w = np.asarray(state[f"{name}.0.weight"], np.float64)              # (cout, cin, 3, 3)
            gamma, beta = state[f"{name}.1.weight"], state[f"{name}.1.bias"]
            scale = gamma / np.sqrt(np.asarray(state[f"{name}.1.running_var"], np.float64) + BN_EPS)
            bias = beta - state[f"{name}.1.running_mean"] * scale
            w = (w * scale[:, None, None, None]).transpose(2, 3, 1, 0).reshape(-1, w.shape[0])
            convs.append((w, bias))
        head_w = np.asarray(state["head.1.weight"])
        n_classes = head_w.shape[0]
        return cls(float(np.asarray(state["mean"]).ravel()[0]), float(np.asarray(state["std"]).ravel()[0]), pool,
                   convs, head_w, state["head.1.bias"], np.arange(n_classes) if classes is None else classes)

    @classmethod
    def from_net(cls, net: Any, classes: np.ndarray | None = None) -> "CNNArrays":
        """Export a :class:`djml.models.cnn.TorchNet` of arch ``cnn`` (no torch needed)."""
        if net.arch != "cnn":
            raise ValueError(f"not a sample CNN: {net.arch}")
        return cls.from_state(net.__getstate__()["state"], int(net.kwargs.get("pool", 1)), classes)

    def logits(self, X: np.ndarray) -> np.ndarray:
        """``X``: patches (n, 1, mels, frames) as :class:`LogmelFeatures` stacks them."""
        X = np.asarray(X, np.float32)
        return np.concatenate([self._logits(X[lo:lo + _CHUNK]) for lo in range(0, len(X), _CHUNK)]) \
            if len(X) else np.zeros((0, len(self.head_b)), np.float32)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        h = ((X[:, 0] - self.mean) / self.std)[..., None]          # (n, H, W, 1), channels last
        if self.pool > 1:
            h = _pool(h, self.pool, np.mean)
        for i, (w, b) in enumerate(self.convs):
            h = np.maximum(_conv3x3(h, w) + b, 0)
            if i < len(self.convs) - 1:
                h = _pool(h, 2, np.max)
        pooled = np.concatenate([h.mean(axis=(1, 2)), h.max(axis=(1, 2))], axis=1)
        return pooled @ self.head_w.T + self.head_b

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self.logits(X).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f"{PREFIX}format": np.int64(CNN_FORMAT), f"{PREFIX}mean": np.float32(self.mean),
               f"{PREFIX}std": np.float32(self.std), f"{PREFIX}pool": np.int64(self.pool),
               f"{PREFIX}head_w": self.head_w, f"{PREFIX}head_b": self.head_b, f"{PREFIX}classes": self.classes_}
        for i, (w, b) in enumerate(self.convs):
            out[f"{PREFIX}conv{i}_w"], out[f"{PREFIX}conv{i}_b"] = w, b
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "CNNArrays | None":
        """The CNN stored in ``arrays`` (None when there is none); CNNFormatError when it was
        written in another format than this djml runs."""
        if f"{PREFIX}format" not in arrays:
            return None
        found = int(arrays[f"{PREFIX}format"])
        if found != CNN_FORMAT:
            raise CNNFormatError(f"CNN arrays of format {found}, this djml runs format {CNN_FORMAT}")
        convs = [(arrays[f"{PREFIX}conv{i}_w"], arrays[f"{PREFIX}conv{i}_b"]) for i in range(len(BLOCKS))]
        return cls(float(arrays[f"{PREFIX}mean"]), float(arrays[f"{PREFIX}std"]), int(arrays[f"{PREFIX}pool"]),
                   convs, arrays[f"{PREFIX}head_w"], arrays[f"{PREFIX}head_b"], arrays[f"{PREFIX}classes"])


def _conv3x3(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """3x3 convolution, zero padding 1 (torch's cross-correlation), channels last:
    im2col rows ordered (dy, dx, cin) to match ``w`` (9 cin, cout)."""
    n, H, W, C = h.shape
    p = np.zeros((n, H + 2, W + 2, C), np.float32)
    p[:, 1:-1, 1:-1] = h
    cols = np.empty((n, H, W, 9, C), np.float32)
    for dy in range(3):
        for dx in range(3):
            cols[:, :, :, dy * 3 + dx] = p[:, dy:dy + H, dx:dx + W]
    return (cols.reshape(n * H * W, 9 * C) @ w).reshape(n, H, W, -1)


def _pool(h: np.ndarray, k: int, reduce) -> np.ndarray:
    """Non-overlapping k x k pooling (floor: a ragged edge is dropped, as in torch)."""
    n, H, W, C = h.shape
    h = h[:, : H // k * k, : W // k * k]
    return reduce(h.reshape(n, H // k, k, W // k, k, C), axis=(2, 4))
