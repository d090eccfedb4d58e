"""The decode pass's C loops (djml/analysis/_loops.c) against numpy."""

import numpy as np
import pytest

from djml.analysis import native


def test_the_c_loops_are_built():
    """pip install builds them (pyproject's ext-modules); a silent numpy fallback would hide
    a broken build and cost several times the time per track."""
    loops = native.library()
    assert loops is not None
    assert loops.djml_mix and loops.djml_kweight_rows


@pytest.mark.parametrize("channels", [2, 3, 6])
@pytest.mark.parametrize("values", ["int16", "float"])
def test_the_channel_mix_is_numpys_bit_for_bit(channels, values):
    """The decoder's mono signal must not change with the build: C rounds as numpy does
    (channels added in order, then one multiply by scale / channels)."""
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((10_001, channels)).astype(np.float32)
    scale = np.float32(1.0)
    if values == "int16":
        x = np.round(x * 9000).astype(np.float32)
        scale = np.float32(1 / 32768)
    factor = scale / np.float32(channels)
    expected = np.add(x[:, 0], x[:, 1])
    for c in range(2, channels):
        expected += x[:, c]
    expected *= factor
    got = np.empty(len(x), np.float32)
    native.library().djml_mix(x.ctypes.data, len(x), channels, factor, got.ctypes.data)
    np.testing.assert_array_equal(got, expected)


def test_the_true_peak_loop_equals_the_numpy_product(monkeypatch):
    """C and the numpy fallback oversample the same windows with the same taps (float32
    sums in another order: equal to ~1e-6)."""
    from djml.analysis import loudness

    rng = np.random.default_rng(5)
    row = 49
    frames = rng.standard_normal((row * 30, 2)).astype(np.float32)
    starts = np.array([row * k - 5 for k in (1, 4, 17, 28)], np.int64)
    compiled = loudness.window_peak(frames, starts, row)
    monkeypatch.setattr(native, "library", lambda: None)
    assert compiled == pytest.approx(loudness.window_peak(frames, starts, row), rel=1e-5)
    assert compiled > 0.5
