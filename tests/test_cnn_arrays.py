"""The numpy CNN (djml.models.cnn_arrays) against torch's forward pass of the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from djml.models.cnn_arrays import CNN_FORMAT, CNNArrays, CNNFormatError

torch = pytest.importorskip("torch")


def _random_cnn(pool: int, width: int = 4, n_classes: int = 5, seed: int = 0):
    """A CNN with random weights *and* random batch-norm statistics and standardisation
    (an untrained net has mean 0 / var 1, which would hide a wrong BN fold)."""
    from djml.models.cnn import TorchNet, _build_cnn

    torch.manual_seed(seed)
    model = _build_cnn(torch, n_classes=n_classes, width=width, pool=pool)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
        model.mean.fill_(0.4)
        model.std.fill_(0.25)
    model.eval()
    return TorchNet("cnn", {"n_classes": n_classes, "width": width, "pool": pool}, model)


@pytest.mark.parametrize("pool", [1, 2])
def test_numpy_forward_matches_torch(pool: int) -> None:
    net = _random_cnn(pool)
    X = np.random.default_rng(1).random((37, 1, 64, 64), dtype=np.float32)
    with torch.no_grad():
        want = net.module(torch.from_numpy(X)).numpy()
    got = CNNArrays.from_net(net).logits(X)
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) < 1e-4
    from djml.models.cnn import predict_torch

    assert np.max(np.abs(CNNArrays.from_net(net).predict_proba(X) - predict_torch(net, X))) < 1e-5


def test_odd_patch_size_pools_like_torch() -> None:
    net = _random_cnn(pool=2, seed=3)
    X = np.random.default_rng(2).random((4, 1, 30, 34), dtype=np.float32)   # ragged max-pool edges
    with torch.no_grad():
        want = net.module(torch.from_numpy(X)).numpy()
    assert np.max(np.abs(CNNArrays.from_net(net).logits(X) - want)) < 1e-4


def test_arrays_round_trip_and_format_check() -> None:
    cnn = CNNArrays.from_net(_random_cnn(pool=2), classes=np.array([0, 2, 3, 5, 7]))
    arrays = cnn.to_arrays()
    X = np.random.default_rng(4).random((3, 1, 64, 64), dtype=np.float32)
    back = CNNArrays.from_arrays(arrays)
    assert back is not None and np.array_equal(back.classes_, [0, 2, 3, 5, 7])
    assert np.array_equal(back.logits(X), cnn.logits(X))
    assert CNNArrays.from_arrays({"lr_coef": np.zeros(1)}) is None
    with pytest.raises(CNNFormatError, match=f"format {CNN_FORMAT + 1}"):
        CNNArrays.from_arrays({**arrays, "cnn_format": np.int64(CNN_FORMAT + 1)})
