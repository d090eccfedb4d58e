"""Collaborative filtering: matrix factorisation trained in torch, served from numpy.

Two modes, one model:

- ``explicit``: biased MF on ratings, r̂(u, i) = μ + b_u + b_i + p_u·q_i, trained by
  minibatch Adam on squared error with L2 on the rows each batch touches (the per-occurrence
  regularisation of Funk/Koren SVD). Validated on MovieLens 100k (benchmarks/cf_movielens.py).
- ``bpr``: implicit feedback (Bayesian Personalised Ranking, Rendle 2009): each observed
  (user, item) should outscore a random unobserved item. For the DJ library the "users"
  are sets and the items are tracks, so ``user_factors`` are set embeddings and
  ``item_factors`` track embeddings.

Why the split between training and serving: torch costs ~2 s to import, and `djml
recommend` must answer in well under a second without a daemon. :meth:`MatrixFactorization.fit`
imports torch lazily; :meth:`save` writes plain ``.npy`` arrays that :class:`CFEmbeddings`
reads with numpy alone (memory-mapped), so the one-shot path never touches torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import sqlite3

    from djml.config import Config

MODES = ("explicit", "bpr")
CF_DIRNAME = "cf"
FORMAT = 1


@dataclass
class MFParams:
    """Hyper-parameters. Defaults are the MovieLens-100k explicit settings (chosen on inner
    splits of every training fold; 5-fold RMSE 0.909, see docs/recommend.md);
    :func:`set_params` holds the settings for sets.

    ``optimizer="sgd"`` sums the loss over a batch, i.e. classic per-rating SGD with
    per-occurrence L2 (Funk/Koren); ``"adam"`` averages it (better for sampled BPR)."""

    mode: str = "explicit"
    factors: int = 100
    epochs: int = 40
    lr: float = 0.01
    reg: float = 0.1
    bias_reg: float = 0.01
    batch_size: int = 256
    optimizer: str = "sgd"
    seed: int = 0
    init_std: float = 0.1


class MatrixFactorization:
    """fit / predict / recommend over arbitrary hashable user and item ids."""

    def __init__(self, params: MFParams | None = None, **overrides: Any):
        self.params = params or MFParams()
        for key, value in overrides.items():
            if not hasattr(self.params, key):
                raise TypeError(f"unknown MF parameter {key!r}")
            setattr(self.params, key, value)
        if self.params.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.params.mode!r}")
        self.user_ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self.item_ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self.user_factors = np.zeros((0, self.params.factors), np.float32)
        self.item_factors = np.zeros((0, self.params.factors), np.float32)
        self.user_bias = np.zeros(0, np.float32)
        self.item_bias = np.zeros(0, np.float32)
        self.global_mean = 0.0
        self.seen: dict[int, set[int]] = {}
        self.history: list[float] = []

    # -- training (torch) ------------------------------------------------------------

    def fit(self, users: Sequence, items: Sequence, ratings: Sequence[float] | None = None,
            on_epoch: Callable[[int, "MatrixFactorization"], None] | None = None) -> "MatrixFactorization":
        """Learn from (user, item[, rating]) triples. ``ratings`` is required in explicit mode
        and ignored in bpr mode (every pair is a positive).

        ``on_epoch(epochs_done, self)`` is called after every epoch with the model usable for
        :meth:`predict` as it stands then: one fit scores every epoch count on a validation
        split (benchmarks/cf_movielens.py tunes the epochs that way)."""
        p = self.params
        if len(users) != len(items) or len(users) == 0:
            raise ValueError("users and items must be non-empty and of equal length")
        if p.mode == "explicit" and (ratings is None or len(ratings) != len(users)):
            raise ValueError("explicit mode needs one rating per (user, item) pair")
        self.user_ids, u = np.unique(np.asarray(users), return_inverse=True)
        self.item_ids, i = np.unique(np.asarray(items), return_inverse=True)
        self.seen = {}
        for uu, ii in zip(u.tolist(), i.tolist()):
            self.seen.setdefault(uu, set()).add(ii)
        import torch

        threads = torch.get_num_threads()
        # Tiny gathers and updates: extra threads only add contention (10× slower measured on a
        # busy 2-core machine), and the analysis workers need the cores.
        torch.set_num_threads(1)
        try:
            self._train(torch, u, i, ratings, on_epoch)
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(self, torch: Any, u: np.ndarray, i: np.ndarray, ratings: Sequence[float] | None,
               on_epoch: Callable[[int, "MatrixFactorization"], None] | None) -> None:
        p = self.params
        torch.manual_seed(p.seed)
        gen = torch.Generator().manual_seed(p.seed)
        n_users, n_items = len(self.user_ids), len(self.item_ids)
        P = torch.nn.Parameter(torch.randn(n_users, p.factors, generator=gen) * p.init_std)
        Q = torch.nn.Parameter(torch.randn(n_items, p.factors, generator=gen) * p.init_std)
        bu = torch.nn.Parameter(torch.zeros(n_users))
        bi = torch.nn.Parameter(torch.zeros(n_items))
        uu_t = torch.as_tensor(u, dtype=torch.long)
        ii_t = torch.as_tensor(i, dtype=torch.long)
        if p.mode == "explicit":
            r = torch.as_tensor(np.asarray(ratings, dtype=np.float32))
            self.global_mean = float(r.mean())
            r = r - self.global_mean
        if p.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, got {p.optimizer!r}")
        opt = (torch.optim.SGD if p.optimizer == "sgd" else torch.optim.Adam)([P, Q, bu, bi], lr=p.lr)
        n = len(u)
        self.history = []
        for _ in range(p.epochs):
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, p.batch_size):
                idx = order[start:start + p.batch_size]
                bu_idx, bi_idx = uu_t[idx], ii_t[idx]
                pu, qi = P[bu_idx], Q[bi_idx]
                if p.mode == "explicit":
                    err = (pu * qi).sum(1) + bu[bu_idx] + bi[bi_idx] - r[idx]
                    losses = 0.5 * err ** 2
                    reg = 0.5 * p.reg * ((pu ** 2).sum(1) + (qi ** 2).sum(1)) + 0.5 * p.bias_reg * (
                        bu[bu_idx] ** 2 + bi[bi_idx] ** 2)
                else:
                    neg = torch.randint(0, n_items, (len(idx),), generator=gen)
                    qj = Q[neg]
                    x = (pu * (qi - qj)).sum(1) + bi[bi_idx] - bi[neg]
                    losses = -torch.nn.functional.logsigmoid(x)
                    reg = p.reg * ((pu ** 2).sum(1) + (qi ** 2).sum(1) + (qj ** 2).sum(1)) + p.bias_reg * (
                        bi[bi_idx] ** 2 + bi[neg] ** 2)
                objective = (losses + reg).sum() if p.optimizer == "sgd" else (losses + reg).mean()
                opt.zero_grad()
                objective.backward()
                opt.step()
                total += losses.detach().sum().item()
            self.history.append(total / n)
            if on_epoch is not None:
                self._export(P, Q, bu, bi)
                on_epoch(len(self.history), self)
        self._export(P, Q, bu, bi)

    def _export(self, P: Any, Q: Any, bu: Any, bi: Any) -> None:
        """Copy the torch parameters into the numpy arrays that predict() and save() use."""
        self.user_factors = P.detach().numpy().astype(np.float32)
        self.item_factors = Q.detach().numpy().astype(np.float32)
        self.user_bias = bu.detach().numpy().astype(np.float32)
        self.item_bias = bi.detach().numpy().astype(np.float32)

    # -- inference (numpy) -------------------------------------------------------------

    def _index(self, ids: np.ndarray, wanted: Sequence) -> np.ndarray:
        """Positions of ``wanted`` in the sorted ``ids``; -1 for unknown ids."""
        wanted = np.asarray(wanted)
        pos = np.searchsorted(ids, wanted)
        pos = np.clip(pos, 0, max(len(ids) - 1, 0))
        known = (len(ids) > 0) & (ids[pos] == wanted) if len(ids) else np.zeros(len(wanted), bool)
        return np.where(known, pos, -1)

    def predict(self, users: Sequence, items: Sequence) -> np.ndarray:
        """Predicted rating (explicit) or preference score (bpr). Unknown users/items fall
        back to the biases that are known (cold start = global mean in explicit mode)."""
        u = self._index(self.user_ids, users)
        i = self._index(self.item_ids, items)
        out = np.full(len(u), self.global_mean, dtype=np.float64)
        ku, ki = u >= 0, i >= 0
        out[ku] += self.user_bias[u[ku]]
        out[ki] += self.item_bias[i[ki]]
        both = ku & ki
        out[both] += np.einsum("ij,ij->i", self.user_factors[u[both]], self.item_factors[i[both]])
        return out

    def recommend(self, user: Any, n: int = 10, exclude_seen: bool = True) -> list[tuple[Any, float]]:
        """Top-n (item id, score) for a known user, best first."""
        (u,) = self._index(self.user_ids, [user])
        if u < 0:
            raise KeyError(f"unknown user {user!r}")
        scores = self.item_factors @ self.user_factors[u] + self.item_bias + self.user_bias[u] + self.global_mean
        if exclude_seen:
            scores[list(self.seen.get(int(u), ()))] = -np.inf
        top = _top_n(scores, n)
        return [(self.item_ids[j].item(), float(scores[j])) for j in top if np.isfinite(scores[j])]

    def embeddings(self) -> CFEmbeddings:
        return CFEmbeddings(self.item_ids.astype(np.int64), self.item_factors, self.item_bias,
                            self.user_ids.astype(np.int64), self.user_factors, {"params": asdict(self.params)})

    def save(self, folder: Path, extra_meta: dict[str, Any] | None = None) -> Path:
        emb = self.embeddings()
        emb.meta.update(extra_meta or {})
        return emb.save(folder)


@dataclass
class CFEmbeddings:
    """The learned item (track) and user (set) vectors as plain arrays: what the ranker needs
    at query time, loadable without torch."""

    item_ids: np.ndarray
    item_factors: np.ndarray
    item_bias: np.ndarray
    user_ids: np.ndarray
    user_factors: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    _normed: np.ndarray | None = None

    def save(self, folder: Path) -> Path:
        """Write every array as .npy plus meta.json into ``folder`` (replaced atomically)."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        for name in ("item_ids", "item_factors", "item_bias", "user_ids", "user_factors"):
            np.save(tmp / f"{name}.npy", getattr(self, name))
        (tmp / "meta.json").write_text(json.dumps({"format": FORMAT, **self.meta}, default=str), encoding="utf-8")
        if folder.exists():
            old = folder.with_name(folder.name + f".old{os.getpid()}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            for child in old.iterdir():
                child.unlink()
            old.rmdir()
        else:
            os.replace(tmp, folder)
        return folder

    @classmethod
    def load(cls, folder: Path) -> "CFEmbeddings | None":
        """The saved embeddings, or None when there are none or they are unreadable."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r")
                      for name in ("item_ids", "item_factors", "item_bias", "user_ids", "user_factors")}
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT or len(arrays["item_ids"]) != len(arrays["item_factors"]):
            return None
        return cls(meta=meta, **arrays)

    def similar(self, item_id: int, n: int = 50) -> dict[int, float]:
        """Items whose learned vectors point the same way as ``item_id``'s (cosine, negative
        values cut to 0); empty when the item never appeared in a set."""
        pos = int(np.searchsorted(self.item_ids, item_id))
        if pos >= len(self.item_ids) or self.item_ids[pos] != item_id:
            return {}
        if self._normed is None:
            norms = np.linalg.norm(self.item_factors, axis=1, keepdims=True)
            self._normed = np.asarray(self.item_factors) / np.maximum(norms, 1e-9)
        sims = self._normed @ self._normed[pos]
        sims[pos] = -np.inf
        top = _top_n(sims, n)
        return {int(self.item_ids[j]): max(0.0, float(sims[j])) for j in top if np.isfinite(sims[j])}


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part])]


# -- the DJ library: sets as users --------------------------------------------------------

def set_params() -> MFParams:
    """BPR settings for sets → tracks (small, sparse data: few factors, strong L2)."""
    return MFParams(mode="bpr", factors=32, epochs=60, lr=0.01, reg=0.01, bias_reg=0.001, batch_size=256,
                    optimizer="adam", init_std=0.05)


def cf_dir(config: "Config") -> Path:
    return config.models_dir / CF_DIRNAME


def fit_sets(sets: dict[int, list[int]], params: MFParams | None = None) -> MatrixFactorization | None:
    """BPR on set membership; None when there are fewer than two sets to learn from."""
    pairs = [(set_id, item) for set_id, items in sets.items() for item in set(items)]
    if len(sets) < 2 or not pairs:
        return None
    users, items = zip(*pairs)
    return MatrixFactorization(params or set_params()).fit(users, items)


def train_from_library(conn: "sqlite3.Connection", config: "Config") -> dict[str, Any]:
    """Fit on every set in the library and save the embeddings where the ranker looks
    (``<models_dir>/cf``). `djml recommend --train` and `djml import` (after new sets) call
    this; imports torch."""
    from djml.models.transitions import load_sets

    sets = load_sets(conn)
    model = fit_sets(sets)
    if model is None:
        return {"trained": False, "reason": "need at least two sets", "sets": len(sets)}
    folder = model.save(cf_dir(config), {"sets": len(sets), "items": len(model.item_ids),
                                         "final_loss": model.history[-1] if model.history else None})
    return {"trained": True, "sets": len(sets), "items": len(model.item_ids), "path": str(folder)}
