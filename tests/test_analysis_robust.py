"""djml.analysis.robust.median must be np.median exactly (value and scalar type), so the
analysis reads the same numbers without importing numpy.ma."""

import subprocess
import sys

import numpy as np
import pytest

from djml.analysis.robust import median


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 101, 1000])
def test_median_is_numpys_to_the_bit(dtype, n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        x = (rng.standard_normal(n) * 10 ** rng.uniform(-3, 5)).astype(dtype)
        expected, got = np.median(x), median(x)
        assert type(got) is type(expected) and got == expected


def test_nan_and_empty():
    assert np.isnan(median(np.array([1.0, np.nan, 2.0], np.float32)))
    with pytest.raises(ValueError):
        median(np.zeros(0))


@pytest.mark.parametrize("sound", ["kick", "loop"])
def test_a_sample_analysis_does_not_import_numpy_ma(tmp_path, sound):
    from djml import synth

    path = synth.write_wav(tmp_path / f"{sound}.wav", synth.one_shot("kick", seed=1) if sound == "kick"
                           else synth.loop(124.0, bars=2, seed=1))
    code = ("import sys; from djml.analysis.analyzer import analyze; "
            f"a = analyze({str(path)!r}, 'sample'); print(a.loop_bpm is not None, 'numpy.ma' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False"
    if sound == "loop":
        assert out.stdout.split()[0] == "True"   # the loop went through the tempo path
