"""The log-mel CNN (:func:`djml.models.cnn._build_cnn`) as plain arrays, run by numpy.

Why: a shipped CNN must load without torch (CLI one-shots never import it, and the user may
not have the torch it was trained with). The network is tiny (three 3x3 conv blocks), so
its forward pass is a few matrix products: batch-norm is folded into each convolution's
weights and bias once at export, convolutions are im2col + matmul, and the result equals
torch's eval-mode output to float32 rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BN_EPS = 1e-5        # torch.nn.BatchNorm2d's default
BLOCKS = (0, 2, 4)   # indices of the conv blocks in CNN.features (1 and 3 are max-pools)


def export(state: dict[str, np.ndarray], pool: int) -> dict[str, np.ndarray]:
    """Arrays of a CNN state_dict (numpy values): folded conv weights and biases, the head,
    the input standardisation and the input pooling."""
    out: dict[str, np.ndarray] = {"mean": np.asarray(state["mean"], np.float32).reshape(-1)[:1],
                                  "std": np.asarray(state["std"], np.float32).reshape(-1)[:1],
                                  "pool": np.array(int(pool), np.int64)}
    for i, b in enumerate(BLOCKS):
        w = np.asarray(state[f"features.{b}.0.weight"], np.float64)
        gamma, beta = (np.asarray(state[f"features.{b}.1.{k}"], np.float64) for k in ("weight", "bias"))
        mean, var = (np.asarray(state[f"features.{b}.1.{k}"], np.float64) for k in ("running_mean", "running_var"))
        scale = gamma / np.sqrt(var + BN_EPS)
        out[f"conv{i}_w"] = (w * scale[:, None, None, None]).astype(np.float32)
        out[f"conv{i}_b"] = (beta - mean * scale).astype(np.float32)
    out["head_w"] = np.asarray(state["head.1.weight"], np.float32)
    out["head_b"] = np.asarray(state["head.1.bias"], np.float32)
    return out


def _conv3x3_relu(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))   # n, c, h, w, 3, 3
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * 9)
    y = cols @ w.reshape(len(w), -1).T + b
    return np.maximum(y, 0).reshape(n, h, wd, len(w)).transpose(0, 3, 1, 2)


def _pool(x: np.ndarray, k: int, how: str) -> np.ndarray:
    n, c, h, w = x.shape
    x = x[:, :, : h - h % k, : w - w % k].reshape(n, c, h // k, k, w // k, k)
    return x.max(axis=(3, 5)) if how == "max" else x.mean(axis=(3, 5))


def logits(arrays: dict[str, Any], X: np.ndarray, batch: int = 256) -> np.ndarray:
    """Eval-mode logits for patches ``X`` (n, 1, mels, frames)."""
    out = []
    pool = int(arrays["pool"])
    for start in range(0, len(X), batch):
        x = (np.asarray(X[start:start + batch], np.float32) - arrays["mean"][0]) / arrays["std"][0]
        if pool > 1:
            x = _pool(x, pool, "mean")
        for i in range(len(BLOCKS)):
            x = _conv3x3_relu(x, arrays[f"conv{i}_w"], arrays[f"conv{i}_b"])
            if i < len(BLOCKS) - 1:
                x = _pool(x, 2, "max")
        pooled = np.concatenate([x.mean(axis=(2, 3)), x.max(axis=(2, 3))], axis=1)
        out.append(pooled @ arrays["head_w"].T + arrays["head_b"])
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(arrays["head_b"])), np.float32)


def predict_proba(arrays: dict[str, Any], X: np.ndarray) -> np.ndarray:
    z = logits(arrays, X)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
