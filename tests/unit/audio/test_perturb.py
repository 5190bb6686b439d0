"""Waveform perturbations: SNR of add_noise, the telephone band, speed perturbation, peak fitting."""
from __future__ import annotations

import numpy as np
import pytest

from speechdis.audio.perturb import (
    add_noise,
    fit_peak,
    noise_excerpt,
    signal_power,
    snr_db,
    speed_perturb_wave,
    telephone_band,
)
from tests.helpers import make_wave


def _energy_above(wave: np.ndarray, sr: int, hz: float) -> float:
    spec = np.abs(np.fft.rfft(wave.astype(np.float64))) ** 2
    return float(spec[np.fft.rfftfreq(wave.size, 1 / sr) > hz].sum() / spec.sum())


@pytest.mark.parametrize("snr", [20.0, 5.0, 0.0, -3.0])
def test_add_noise_hits_the_snr(snr):
    wave = make_wave(0.5)
    noise = np.random.default_rng(1).standard_normal(wave.size).astype(np.float32) * 0.7
    noisy = add_noise(wave, noise, snr)
    assert abs(snr_db(wave, noisy) - snr) < 0.01
    assert np.corrcoef(noisy - wave, noise)[0, 1] > 0.9999  # the added part is the noise, scaled


def test_add_noise_silent_inputs():
    wave = make_wave(0.1)
    with pytest.raises(ValueError, match="silent"):
        add_noise(wave, np.zeros_like(wave), 10.0)
    zeros = np.zeros(100, dtype=np.float32)
    assert np.array_equal(add_noise(zeros, np.ones(100, dtype=np.float32), 10.0), zeros)


def test_noise_excerpt_loops_from_offset():
    noise = np.arange(5, dtype=np.float32)
    assert noise_excerpt(noise, 12, 3).tolist() == [3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]


@pytest.mark.parametrize("sr", [16000, 22050, 8000])
def test_telephone_band_removes_high_and_low_frequencies(sr):
    t = np.arange(sr) / sr
    wave = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 0.48 * sr * t)
            + 0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    tel = telephone_band(wave, sr)
    assert tel.shape == wave.shape and tel.dtype == np.float32
    top = 4000.0 if sr > 8000 else 3700.0
    assert _energy_above(wave, sr, top) > 0.2
    assert _energy_above(tel, sr, top) < 1e-4
    spec = np.abs(np.fft.rfft(tel)) ** 2
    freqs = np.fft.rfftfreq(tel.size, 1 / sr)
    band = spec[(freqs > 900) & (freqs < 1100)].sum()
    assert spec[freqs < 150].sum() < 0.02 * band  # 100 Hz hum attenuated, 1 kHz kept
    assert band / spec.sum() > 0.95


def test_speed_perturb_changes_length_and_pitch():
    sr = 16000
    wave = np.sin(2 * np.pi * 500 * np.arange(sr) / sr).astype(np.float32)
    for factor in (0.9, 1.1):
        out = speed_perturb_wave(wave, sr, factor)
        assert abs(out.size - sr / factor) <= 1
        peak = np.fft.rfftfreq(out.size, 1 / sr)[np.argmax(np.abs(np.fft.rfft(out)))]
        assert abs(peak - 500 * factor) < 3


def test_fit_peak_scales_the_whole_signal():
    wave = make_wave(0.1) * 5
    out, clipped = fit_peak(wave)
    assert clipped and np.max(np.abs(out)) == pytest.approx(0.99, abs=1e-6)
    assert signal_power(out) / signal_power(wave) == pytest.approx((0.99 / np.max(np.abs(wave))) ** 2, rel=1e-5)
    same, clipped = fit_peak(make_wave(0.1))
    assert not clipped and np.array_equal(same, make_wave(0.1))
