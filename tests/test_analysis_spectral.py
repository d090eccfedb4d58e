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
