"""The feature vector is built from named values; a name that is missing, unknown or None
is a bug in a pipeline and must fail loudly, never become a silent 0."""

import numpy as np
import pytest

from djml import synth
from djml.analysis import analyze
from djml.analysis.features import FEATURE_NAMES, FeatureNameError, feature_vector


def _complete() -> dict[str, float]:
    return {name: float(i) for i, name in enumerate(FEATURE_NAMES)}


def test_complete_values_are_ordered_by_feature_names():
    vec = feature_vector(dict(reversed(list(_complete().items()))))
    assert vec.dtype == np.float32 and vec.tolist() == list(range(len(FEATURE_NAMES)))


def test_missing_name_raises_and_names_it():
    values = _complete()
    del values["decay_log"]
    with pytest.raises(FeatureNameError, match=r"missing: decay_log"):
        feature_vector(values)


def test_unknown_name_raises_and_names_it():
    with pytest.raises(FeatureNameError, match=r"not in FEATURE_NAMES: centroid_hz_mean"):
        feature_vector(dict(_complete(), centroid_hz_mean=1.0))


def test_none_value_raises_and_names_it():
    with pytest.raises(FeatureNameError, match=r"None: bpm_norm"):
        feature_vector(dict(_complete(), bpm_norm=None))


@pytest.mark.parametrize("kind", ["track", "sample"])
def test_both_pipelines_give_every_name(tmp_path, kind):
    """Both analyse paths fill the whole vector (tracks state attack/decay = 0)."""
    y = synth.drum_track(124, 9, 6.0, seed=0) if kind == "track" else synth.one_shot("snare", seed=0)
    path = synth.write_wav(tmp_path / f"{kind}.wav", y)
    result = analyze(path, kind)
    assert result.feature_vector.shape == (len(FEATURE_NAMES),)
    assert np.isfinite(result.feature_vector).all()
    if kind == "track":
        i = FEATURE_NAMES.index("attack_log")
        assert result.feature_vector[i] == 0.0
