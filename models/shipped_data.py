"""The shipped sample-type model's companions: its base training set and the log-mel layout.

``shipped/sample_type_base.npz`` holds the engineered-feature matrix the shipped model was
trained on (a few hundred KB; no audio). Retraining ``sample_type`` on the user's
corrections concatenates it, so a handful of corrections adjusts the shipped knowledge
instead of replacing it. It is used only when the feature layout (names and analyzer
version) matches exactly; otherwise training falls back to the user's labels alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from djml.models import registry

if TYPE_CHECKING:
    from djml.models.estimators import Estimator

BASE_FILE = "shipped/sample_type_base.npz"
BASE_WEIGHT = 0.5   # a user's correction counts twice as much as one shipped example


def base_path():
    return registry.resolve_path(registry.PACKAGE_PREFIX + BASE_FILE)


def load_base(est: "Estimator") -> tuple[np.ndarray, list[str], np.ndarray] | None:
    path = base_path()
    if not path.exists() or type(est.features).__name__ != "SampleFeatures":
        return None
    from djml.analysis_versions import ANALYZER_VERSIONS

    with np.load(path, allow_pickle=False) as z:
        names = [str(n) for n in z["names"]]
        X, y, version = z["X"], [str(v) for v in z["y"]], int(z["analyzer_version"])
    if names != expected_names() or version != ANALYZER_VERSIONS["sample"]:
        return None
    return X, y, np.full(len(y), BASE_WEIGHT, np.float32)


def expected_names() -> list[str]:
    from djml.analysis import FEATURE_NAMES
    from djml.models.features import SampleFeatures

    return SampleFeatures.names_for(len(FEATURE_NAMES))


def logmel_shape() -> tuple[int, int]:
    """(frames, mels) of the stored log-mel patches (the analyzer's layout)."""
    from djml.analysis.layout import LOGMEL_FRAMES, N_MELS

    return LOGMEL_FRAMES, N_MELS
