"""Pack-style augmentation (djml.models.augment): each effect does what its name says, on a
known signal, and a chain is reproducible from its seed."""

from __future__ import annotations

import numpy as np
import pytest

from djml.models import augment as aug

SR = 44100


def tone(hz: float = 1000.0, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def hit(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """A decaying noise burst with silence in front (an onset to find)."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    y = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.05 * SR))
    return np.concatenate([np.zeros(441), 0.8 * y / np.abs(y).max()]).astype(np.float32)


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(y, np.float64) ** 2)))


def band_energy(y: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return float(spec[(f >= lo) & (f < hi)].sum())


def dominant_hz(y: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / SR)[spec.argmax()])


def test_gain_and_peak_normalisation():
    y = tone()
    assert rms(aug.gain(y, -6)) == pytest.approx(rms(y) / 2, rel=0.01)
    assert 20 * np.log10(np.abs(aug.normalise_peak(y, -3)).max()) == pytest.approx(-3, abs=0.01)


def test_tilt_brightens_or_darkens():
    y = hit()
    ratio = band_energy(y, 5000, 15000) / band_energy(y, 50, 500)
    bright, dark = aug.tilt_eq(y, SR, 3), aug.tilt_eq(y, SR, -3)
    assert band_energy(bright, 5000, 15000) / band_energy(bright, 50, 500) > 10 * ratio
    assert band_energy(dark, 5000, 15000) / band_energy(dark, 50, 500) < ratio / 10


@pytest.mark.parametrize("kind,freq,kept,cut", [("highpass", 2000, 8000, 250),
                                               ("lowpass", 2000, 250, 8000)])
def test_band_filters_pass_and_stop(kind, freq, kept, cut):
    assert rms(aug.band_filter(tone(kept), SR, kind, freq)) > 0.9 * rms(tone(kept))
    assert rms(aug.band_filter(tone(cut), SR, kind, freq)) < 0.1 * rms(tone(cut))


def test_bell_boosts_at_its_frequency_only():
    boosted = aug.band_filter(tone(1000), SR, "bell", 1000, gain_db=6, octaves=0.5)
    assert rms(boosted) == pytest.approx(rms(tone(1000)) * 2, rel=0.05)
    far = aug.band_filter(tone(8000), SR, "bell", 1000, gain_db=6, octaves=0.5)
    assert rms(far) == pytest.approx(rms(tone(8000)), rel=0.02)
    with pytest.raises(ValueError):
        aug.band_filter(tone(), SR, "notch", 1000)


def test_repitch_moves_pitch_and_length_together():
    up = aug.repitch(tone(440, 1.0), 12)
    assert len(up) == SR // 2
    assert dominant_hz(up) == pytest.approx(880, abs=3)


def test_time_stretch_keeps_pitch():
    longer = aug.time_stretch(tone(440, 1.0), 0.95)
    assert len(longer) == pytest.approx(SR / 0.95, rel=0.02)
    assert dominant_hz(longer) == pytest.approx(440, abs=3)


def test_saturation_and_clipping_add_harmonics_and_keep_the_peak():
    y = tone(1000)
    for out in (aug.saturate(y, 12), aug.hard_clip(y, 0.5)):
        assert band_energy(out, 2900, 3100) > 100 * band_energy(y, 2900, 3100)   # 3rd harmonic
    assert np.abs(aug.saturate(y, 12)).max() == pytest.approx(0.5, rel=1e-4)
    assert np.abs(aug.hard_clip(y, 0.5)).max() == pytest.approx(0.25, rel=1e-4)


def test_compression_raises_the_tail_relative_to_the_hit():
    y = hit()
    out = aug.compress(y, SR, threshold_db=-20, ratio=8)
    tail = slice(441 + int(0.15 * SR), None)
    assert np.abs(out).max() == pytest.approx(np.abs(y).max(), rel=1e-3)
    assert rms(out[tail]) > 1.5 * rms(y[tail])     # the tail/hit ratio grows by > 3.5 dB


def test_reverb_adds_a_tail_and_is_seeded():
    y = hit(0.2)
    a = aug.reverb(y, SR, 0.5, 0.3, np.random.default_rng(1))
    b = aug.reverb(y, SR, 0.5, 0.3, np.random.default_rng(1))
    assert len(a) == len(y) + int(0.5 * SR) and np.array_equal(a, b)
    assert rms(a[len(y):]) > 0.01 * rms(y)


@pytest.mark.parametrize("colour", ["white", "pink", "hum"])
def test_noise_sits_at_the_asked_level(colour):
    y = tone()
    out = aug.add_noise(y, SR, 20, np.random.default_rng(0), colour)
    assert rms(out - y) == pytest.approx(rms(y) / 10, rel=0.05)
    with pytest.raises(ValueError):
        aug.add_noise(y, SR, 20, np.random.default_rng(0), "brown")


def test_trim_and_delay_move_the_onset():
    y = hit()
    assert aug.onset_index(y) == 441
    trimmed = aug.trim_attack(y, SR, 5)
    assert len(trimmed) == len(y) - 441 - int(SR * 0.005) and aug.onset_index(trimmed) < 50
    assert aug.onset_index(aug.delay_attack(y, SR, 10)) == 441 + 441


def test_lower_sample_rate_removes_the_top_and_bit_depth_quantises():
    y = hit()
    low = aug.lower_sample_rate(y, SR, 16000)
    assert band_energy(low, 8100, 22050) < 1e-6 * band_energy(y, 8100, 22050)
    assert band_energy(low, 100, 7000) == pytest.approx(band_energy(y, 100, 7000), rel=0.01)
    crushed = aug.bit_depth(y, 8)
    assert len(np.unique(crushed)) <= 256 and np.abs(crushed - y).max() <= 2 ** -8 + 1e-6


def test_pack_chain_is_seeded_bounded_and_varied():
    y = hit()
    a, steps_a = aug.pack_chain(y, SR, np.random.default_rng(7))
    b, steps_b = aug.pack_chain(y, SR, np.random.default_rng(7))
    assert np.array_equal(a, b) and steps_a == steps_b
    chains = [aug.pack_chain(y, SR, np.random.default_rng(s)) for s in range(20)]
    assert all(np.abs(z).max() <= 1.0 and np.isfinite(z).all() and len(z) > 0 for z, _ in chains)
    assert len({tuple(s) for _, s in chains}) > 15            # different chains per seed
    assert len({step.split()[0] for _, s in chains for step in s}) >= 10
