"""The numpy forward pass of the log-mel CNN equals torch's eval-mode output."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from djml.models import cnn, cnn_arrays  # noqa: E402


def test_numpy_forward_matches_torch():
    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 64, 64)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    net = cnn.fit_cnn(X, y, np.ones(40, np.float32), 4, width=4, epochs=1, pool=2, seed=1)
    for m in net.module.modules():     # non-trivial batch-norm statistics to fold
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    state = {k: v.detach().numpy() for k, v in net.module.state_dict().items()}
    arrays = cnn_arrays.export(state, pool=2)
    np.testing.assert_allclose(cnn_arrays.predict_proba(arrays, X), cnn.predict_torch(net, X), atol=2e-5)
