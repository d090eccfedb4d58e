"""Parity of djml's hand-written DSP with librosa, the reference implementation.

djml.analysis computes its STFT, mel filterbank, MFCC and spectral statistics itself (no
librosa in the workers, see djml/analysis/spectral.py); these tests pin that they are the
same mathematics as librosa's, to float32 rounding, so a change that drifts away from the
documented definitions fails here. Where djml differs by design (its chroma comes from
interpolated spectral peaks, not a chroma filterbank) only the musical answer is compared.
docs/analysis.md ("Parity with librosa") says what is and is not expected to match.
"""

import numpy as np
import pytest

from djml.analysis import key as keymod
from djml.analysis import spectral

librosa = pytest.importorskip("librosa")

SR, N_FFT, HOP = 22050, 2048, 512


def _noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Coloured noise plus two partials: a spectrum with structure at every band."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    white = rng.standard_normal(n)
    pink = np.cumsum(white) * 0.01
    pink -= np.convolve(pink, np.ones(512) / 512, mode="same")
    y = 0.2 * white + pink + 0.5 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 3520 * t)
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


def _librosa_power(y: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """librosa's |STFT|² (centred, zero padded, periodic Hann) in djml's scale, (frames, bins):
    djml normalises the window to unit sum, so its power is librosa's / sum(w)²."""
    S = librosa.stft(y, n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant")
    window_sum = np.hanning(n_fft + 1)[:-1].sum()
    return (np.abs(S) ** 2).T / window_sum ** 2


@pytest.mark.parametrize("n_fft,hop", [(2048, 512), (1024, 256)])
def test_stft_framing_and_power_match_librosa(n_fft, hop):
    """Same frame count (1 + len // hop), same centring, same window: the power spectrogram
    agrees bin by bin (relative 1e-3 of each frame's peak, float32 FFT vs float64)."""
    y = _noise(1.3)
    ours = spectral.power_spectrogram(y, n_fft, hop)
    ref = _librosa_power(y, n_fft, hop)
    assert ours.shape == ref.shape == (1 + len(y) // hop, n_fft // 2 + 1)
    scale = ref.max(axis=1, keepdims=True)
    assert np.abs(ours - ref).max() / scale.min() < 1e-3
    np.testing.assert_allclose(ours.sum(axis=1), ref.sum(axis=1), rtol=1e-4)


@pytest.mark.parametrize("n_fft,n_mels", [(2048, 64), (1024, 64), (2048, 128)])
def test_mel_filterbank_matches_librosa_slaney(n_fft, n_mels):
    """Slaney mel scale with area normalisation = librosa.filters.mel(htk=False,
    norm="slaney"), fmin 20 Hz, fmax Nyquist; djml stores it transposed (bins, mels)."""
    ours = spectral.mel_filterbank(SR, n_fft, n_mels)
    ref = librosa.filters.mel(sr=SR, n_fft=n_fft, n_mels=n_mels, fmin=20.0, fmax=SR / 2,
                              htk=False, norm="slaney").T
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * ref.max())
    # the scale itself, at the points that define it
    hz = np.array([0.0, 500.0, 1000.0, 2000.0, 8000.0])
    np.testing.assert_allclose(spectral._hz_to_mel(hz), librosa.hz_to_mel(hz, htk=False), rtol=1e-12)
    np.testing.assert_allclose(spectral._mel_to_hz(spectral._hz_to_mel(hz)), hz, atol=1e-9)


def test_dct_and_mfcc_match_librosa():
    """MFCC = orthonormal DCT-II of the log-mel rows, as librosa.feature.mfcc(S=dB)."""
    y = _noise(1.0, seed=1)
    power = spectral.power_spectrogram(y, N_FFT, HOP)
    logmel = spectral.log_power(power @ spectral.mel_filterbank(SR, N_FFT, 64))
    ours = logmel @ spectral.dct_matrix(13, 64)
    ref = librosa.feature.mfcc(S=logmel.T.astype(np.float64), n_mfcc=13, dct_type=2, norm="ortho").T
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)
    # the dB conversion is librosa's power_to_db with the same floor and no top_db clipping
    np.testing.assert_allclose(logmel, librosa.power_to_db(power @ spectral.mel_filterbank(SR, N_FFT, 64),
                                                           ref=1.0, amin=spectral.POWER_FLOOR, top_db=None),
                               atol=1e-3)


def test_spectral_statistics_match_librosa():
    """Centroid, bandwidth, 85 % roll-off and flatness from one power spectrogram, as
    librosa.feature computes them from S = the power spectrogram. (djml's octave contrast
    uses its own bands and 20 % quantiles: not compared.)"""
    y = _noise(1.0, seed=2)
    power = spectral.power_spectrogram(y, N_FFT, HOP).astype(np.float64)
    ours = spectral.spectral_stats(power, SR, N_FFT)
    S, f = power.T, librosa.fft_frequencies(sr=SR, n_fft=N_FFT)
    np.testing.assert_allclose(ours["centroid"], librosa.feature.spectral_centroid(S=S, freq=f)[0], rtol=1e-4)
    np.testing.assert_allclose(ours["bandwidth"], librosa.feature.spectral_bandwidth(S=S, freq=f, p=2)[0],
                               rtol=1e-4)
    ref_rolloff = librosa.feature.spectral_rolloff(S=S, freq=f, roll_percent=0.85)[0]
    assert np.abs(ours["rolloff"] - ref_rolloff).max() <= SR / N_FFT + 1e-6   # at most one bin apart
    np.testing.assert_allclose(ours["flatness"], librosa.feature.spectral_flatness(S=S, power=1.0, amin=1e-10)[0],
                               rtol=1e-3)


def _chord(midis: list[int], cents: float = 0.0, seconds: float = 1.5) -> np.ndarray:
    """Harmonic tones (6 partials, 1/k amplitudes) at the given MIDI notes, detuned by `cents`."""
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    for m in midis:
        f0 = 440.0 * 2 ** ((m - 69 + cents / 100) / 12)
        for k in range(1, 7):
            if k * f0 < SR / 2:
                y += np.sin(2 * np.pi * k * f0 * t) / k
    return (y / np.abs(y).max() * 0.7).astype(np.float32)


def _djml_chroma(y: np.ndarray) -> tuple[np.ndarray, float]:
    power = spectral.power_spectrogram(y, N_FFT, HOP)
    return keymod.fold_chroma(keymod.pitch_histogram(power, SR, N_FFT))


CHORDS = {"C major": [60, 64, 67], "A minor": [57, 60, 64], "F# major": [54, 58, 61],
          "Eb minor": [63, 66, 70], "G7": [55, 59, 62, 65]}


@pytest.mark.parametrize("name", CHORDS)
def test_chroma_agrees_with_librosa_on_the_chord_tones(name):
    """Peak-based chroma (djml) and filterbank chroma (librosa.feature.chroma_stft, tuning
    estimated) differ in shape by design, but on a chord both must put its pitch classes
    on top; and the two profiles must correlate (r > 0.8) over all 12 classes."""
    midis = CHORDS[name]
    y = _chord(midis)
    ours, _ = _djml_chroma(y)
    ref = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP).mean(axis=1)
    expected = {m % 12 for m in midis}
    top = len(expected)
    assert set(np.argsort(ours)[-top:]) == expected
    assert set(np.argsort(ref)[-top:]) == expected
    assert np.corrcoef(ours, ref)[0, 1] > 0.8


@pytest.mark.parametrize("cents", [-30.0, 0.0, 20.0, 40.0])
def test_tuning_estimate_agrees_with_librosa(cents):
    """djml's tuning (circular mean of 10-cent peak bins) and librosa.estimate_tuning agree
    within 10 cents on a detuned chord (both resolve 1/100 semitone or better)."""
    y = _chord([57, 61, 64], cents=cents)
    _, ours = _djml_chroma(y)
    ref = float(librosa.estimate_tuning(y=y, sr=SR, n_fft=N_FFT))
    assert abs(ours - cents / 100) < 0.1
    assert abs(ours - ref) < 0.1
