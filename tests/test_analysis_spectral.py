"""Streaming framing and transforms agree with whole-signal computation."""

import numpy as np

from djml.analysis import spectral


def test_streaming_frames_match_whole_signal_stft():
    """Blocks of any size give the frames of the whole padded signal, transformed alike."""
    y = np.random.default_rng(3).standard_normal(50_000).astype(np.float32)
    framer = spectral.StreamingFrames(2048, 512)
    parts = [spectral.power(framer.push(y[i:i + 7_000]), 2048) for i in range(0, len(y), 7_000)]
    parts.append(spectral.power(framer.flush(), 2048))
    streamed = np.concatenate(parts)
    rows = np.lib.stride_tricks.sliding_window_view(np.pad(y, 1024), 2048)[::512]
    direct = np.abs(np.fft.rfft(rows * spectral.hann(2048), axis=1)) ** 2
    assert streamed.shape == direct.shape == (1 + len(y) // 512, 1025)
    np.testing.assert_allclose(streamed, direct, rtol=1e-3, atol=1e-9)
    assert spectral.power_spectrogram(y[:500], 2048, 512).shape == (1, 1025)


def test_small_fft_uses_the_frame_centre():
    """A click at a frame's centre is inside its 1024-point window; one 700 samples off
    is outside it but inside the 2048-point window."""
    y = np.zeros(8192, np.float32)
    y[4096 + 700] = 1.0
    rows = np.lib.stride_tricks.sliding_window_view(np.pad(y, 1024), 2048)[::512]
    centre = rows[4096 // 512]
    assert spectral.power(centre[None], 2048).sum() > 0
    assert spectral.power(centre[None], 1024).sum() == 0


def test_treble_band_index_and_band_flux():
    assert spectral.mel_band_index(22050, 64, 3000.0) == 40
    logmel = np.zeros((3, 64), np.float32)
    logmel[1, 50] = 10.0
    logmel[2, 3] = 8.0
    full, high, low = spectral.onset_flux_bands(logmel, None, 40, 10)
    assert full[1] == np.float32(10.0 / 64) and high[1] == np.float32(10.0 / 24) and low[1] == 0
    assert low[2] == np.float32(8.0 / 10) and high[2] == 0


def test_rfft_is_scipy_fft_bit_for_bit():
    """The directly loaded pocketfft is the code scipy.fft.rfft runs: identical output,
    for the float32 frame stacks the analysis transforms and for float64."""
    import scipy.fft

    from djml.analysis import fft

    assert fft.BACKEND == "pocketfft"   # this install; scipy.fft.rfft is only the fallback
    rng = np.random.default_rng(5)
    for shape, dtype in (((256, 2048), np.float32), ((87, 1024), np.float32), ((3, 1000), np.float64),
                         ((2049,), np.float32)):
        x = rng.standard_normal(shape).astype(dtype)
        ours, theirs = fft.rfft(x), scipy.fft.rfft(x, axis=-1)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    view = rng.standard_normal((10, 2048)).astype(np.float32)[:, 512:1536]   # strided, as power() slices
    assert np.array_equal(fft.rfft(view), scipy.fft.rfft(view, axis=-1))


def test_analysis_does_not_import_the_scipy_fft_package(tmp_path):
    """Importing scipy.fft costs more than a one-shot's analysis; the analysis needs only
    its compiled transform, which a later ``import scipy.fft`` then shares."""
    import subprocess
    import sys

    from djml import synth

    shot = synth.write_wav(tmp_path / "kick.wav", synth.one_shot("kick"))
    code = (f"import sys, djml.analysis as a\nr = a.analyze({str(shot)!r})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
            "import scipy.fft\nfrom djml.analysis import fft\n"
            "print(scipy.fft._pocketfft.basic.pfft is sys.modules[fft.POCKETFFT], r.sample_type)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.strip().splitlines()
    assert lines == ["['scipy.fft._pocketfft.pypocketfft']", "True one-shot"], out.stdout + out.stderr


def test_a_pocketfft_that_misbehaves_is_not_trusted():
    """A later scipy may change the private module's signature or meaning: the check must
    refuse a transform that raises or returns something else, and accept the real one."""
    from djml.analysis import fft

    def wrong_signature(x):
        raise TypeError("r2c() takes 5 positional arguments")

    def wrong_result(x):
        return np.fft.rfft(x[..., ::-1], axis=-1)

    assert not fft._agrees(wrong_signature)
    assert not fft._agrees(wrong_result)
    assert fft._agrees(fft.rfft)
