"""Small torch networks: a CNN on sample log-mel patches and an MLP for the hybrid track model.

Both are deliberately tiny (tens of thousands of weights): the data is a few hundred to a
few thousand labelled items, the machine is a 2-core home server, and one thread is used
(``torch.set_num_threads(1)``; oversubscribed threads were ~10x slower on such a machine).
Standardisation statistics live inside the module, so a saved model needs nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class TorchNet:
    """A picklable handle on a torch module: pickles as (architecture, kwargs, numpy weights),
    so saved files hold no torch classes and load across torch versions; the module is
    rebuilt on first use."""

    def __init__(self, arch: str, kwargs: dict[str, Any], module: Any) -> None:
        self.arch, self.kwargs, self._module, self._state = arch, kwargs, module, None

    @property
    def module(self) -> Any:
        if self._module is None:
            torch = _torch()
            self._module = _BUILDERS[self.arch](torch, **self.kwargs)
            self._module.load_state_dict({k: torch.from_numpy(v) for k, v in self._state.items()})
            self._module.eval()
        return self._module

    def __getstate__(self) -> dict[str, Any]:
        state = self._state if self._module is None else {
            k: v.detach().cpu().numpy().copy() for k, v in self._module.state_dict().items()}
        return {"arch": self.arch, "kwargs": self.kwargs, "state": state}

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.arch, self.kwargs, self._state, self._module = d["arch"], d["kwargs"], d["state"], None

    def n_params(self) -> int:
        return sum(int(v.size) for v in self.__getstate__()["state"].values())


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def _build_mlp(torch, *, n_in: int, n_classes: int, hidden: int):
    nn = torch.nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(n_in))
            self.register_buffer("std", torch.ones(n_in))
            self.net = nn.Sequential(
                nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(0.2),
                nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.2),
                nn.Linear(hidden, n_classes))

        def forward(self, x):
            return self.net((x - self.mean) / self.std)

    return MLP()


def _build_cnn(torch, *, n_classes: int, width: int, pool: int = 1):
    """``pool`` > 1 average-pools the input patch first (64 x 64 -> 32 x 32 at 2): 13x
    cheaper to train and run, and no worse leave-one-kit-out on this data."""
    nn = torch.nn

    def block(cin: int, cout: int):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class CNN(nn.Module):
        """3 conv blocks, global average + max pooling: works for any patch size."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(1))
            self.register_buffer("std", torch.ones(1))
            self.pre = nn.AvgPool2d(pool) if pool > 1 else nn.Identity()  # no weights
            self.features = nn.Sequential(
                block(1, width), nn.MaxPool2d(2),
                block(width, 2 * width), nn.MaxPool2d(2),
                block(2 * width, 4 * width))
            self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(8 * width, n_classes))

        def forward(self, x):
            h = self.features(self.pre((x - self.mean) / self.std))
            pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
            return self.head(pooled)

    return CNN()


def _train(torch, model, X: np.ndarray, y: np.ndarray, w: np.ndarray, *, epochs: int, lr: float,
           batch: int, seed: int, augment: bool) -> Any:
    """Class-balanced, sample-weighted cross-entropy with Adam; returns the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    counts = np.bincount(y, minlength=int(y.max()) + 1).astype(np.float32)
    balance = (len(y) / (len(counts) * np.maximum(counts, 1)))[y]
    weights = torch.from_numpy((w * balance).astype(np.float32))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    model.train()
    from djml.models.monitor import progress

    for epoch in range(epochs):
        progress.detail(f"epoch {epoch + 1}/{epochs}")   # the dashboard's live line
        order = torch.randperm(len(yt), generator=g)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            xb = Xt[idx]
            if augment:
                xb = _augment(torch, xb, g)
            loss = (loss_fn(model(xb), yt[idx]) * weights[idx]).sum() / weights[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    return model


def _augment(torch, xb, g):
    """Patches are (n, 1, mels, frames), 0..1 = -80..0 dB relative to the peak. Kits differ
    in tuning, trimming, noise floor and level, so each batch gets: a pitch shift of up
    to +-2 mel bands (≈ resampling the audio), a delay of 0-2 frames (silence before the
    onset), a raised noise floor on a third of the items, and a level jitter of the tail."""
    n = len(xb)
    shift = int(torch.randint(-2, 3, (1,), generator=g))
    if shift > 0:
        xb = torch.cat([xb[:, :, :1].expand(-1, -1, shift, -1), xb[:, :, :-shift]], dim=2)
    elif shift < 0:
        xb = torch.cat([xb[:, :, -shift:], xb[:, :, -1:].expand(-1, -1, -shift, -1)], dim=2)
    delay = int(torch.randint(0, 3, (1,), generator=g))
    if delay:
        xb = torch.cat([torch.zeros_like(xb[..., :delay]), xb[..., :-delay]], dim=3)
    floor = torch.rand(n, 1, 1, 1, generator=g) * 0.4 * (torch.rand(n, 1, 1, 1, generator=g) < 0.33)
    xb = torch.maximum(xb, floor + 0.02 * torch.rand(xb.shape, generator=g))
    return xb * (1 + (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.2)


def fit_mlp(X: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int, *, seed: int = 0,
            hidden: int = 64, epochs: int = 150, lr: float = 3e-3, batch: int = 32) -> Any:
    torch = _torch()
    torch.manual_seed(seed)
    kwargs = {"n_in": int(X.shape[1]), "n_classes": n_classes, "hidden": hidden}
    model = _build_mlp(torch, **kwargs)
    model.mean.copy_(torch.from_numpy(X.mean(axis=0)))
    model.std.copy_(torch.from_numpy(X.std(axis=0) + 1e-3))
    model = _train(torch, model, X.astype(np.float32), y, w, epochs=epochs, lr=lr, batch=batch,
                   seed=seed, augment=False)
    return TorchNet("mlp", kwargs, model)


def fit_cnn(X: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int, *, seed: int = 0,
            width: int = 16, epochs: int = 30, lr: float = 3e-3, batch: int = 64,
            pool: int = 1, init: Any = None) -> Any:
    """Train the CNN; ``init`` (a fitted CNN with the same classes) fine-tunes instead."""
    torch = _torch()
    torch.manual_seed(seed)
    kwargs = {"n_classes": n_classes, "width": width, "pool": pool}
    model = _build_cnn(torch, **kwargs)
    if init is not None:
        model.load_state_dict(init.module.state_dict())
    else:
        model.mean.fill_(float(X.mean()))
        model.std.fill_(float(X.std() + 1e-3))
    model = _train(torch, model, X.astype(np.float32), y, w, epochs=epochs, lr=lr, batch=batch,
                   seed=seed, augment=True)
    return TorchNet("cnn", kwargs, model)


def predict_proba(net: TorchNet, X: np.ndarray, n_classes: int) -> np.ndarray:
    """The backend interface (:mod:`djml.models.backends`): the net knows its classes."""
    return predict_torch(net, X)


def predict_torch(net: TorchNet, X: np.ndarray, batch: int = 256) -> np.ndarray:
    torch = _torch()
    model = net.module
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch):
            logits = model(torch.from_numpy(np.ascontiguousarray(X[start:start + batch], np.float32)))
            out.append(torch.softmax(logits, dim=1).numpy())
    return np.concatenate(out).astype(np.float32)


_BUILDERS = {"mlp": _build_mlp, "cnn": _build_cnn}
