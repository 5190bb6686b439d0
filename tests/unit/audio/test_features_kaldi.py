"""Our features against Kaldi's own code (kaldi-native-fbank): the reference test of speechdis.audio.features.

Stated tolerance: max |ours - Kaldi| <= 1e-3 on log-mel / cepstral values of magnitude up to ~100 (we compute
in float64, Kaldi in float32; measured differences are below 1e-4).
"""
from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest

from speechdis.audio.features import FeatureConfig, compute_features

TOL = 1e-3
# Kaldi's names: its symmetric Hann window is "hanning" (kaldi-native-fbank's "hann" is the periodic one).
_KALDI_WINDOW = {"hann": "hanning"}


def kaldi_reference(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Features of ``wave`` (float in [-1, 1]) by kaldi-native-fbank with the options ``cfg`` stands for."""
    opts = knf.MfccOptions() if cfg.kind == "mfcc" else knf.FbankOptions()
    f = opts.frame_opts
    f.dither = 0.0
    f.samp_freq = cfg.sample_rate
    f.frame_length_ms = cfg.frame_length_ms
    f.frame_shift_ms = cfg.frame_shift_ms
    f.window_type = _KALDI_WINDOW.get(cfg.window, cfg.window)
    f.preemph_coeff = cfg.preemphasis
    f.remove_dc_offset = cfg.remove_dc
    opts.mel_opts.num_bins = cfg.resolved_n_mels
    opts.mel_opts.low_freq = cfg.fmin
    opts.mel_opts.high_freq = cfg.fmax if cfg.fmax is not None else 0.0
    if cfg.kind == "mfcc":
        opts.num_ceps = cfg.n_mfcc
        opts.use_energy = cfg.energy
        opts.cepstral_lifter = cfg.lifter
        comp = knf.OnlineMfcc(opts)
    else:
        comp = knf.OnlineFbank(opts)
    comp.accept_waveform(cfg.sample_rate, wave.astype(np.float32) * 32768)
    comp.input_finished()
    return np.array([comp.get_frame(i) for i in range(comp.num_frames_ready)], dtype=np.float32)


def _speechlike(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for f0 in (120.0,) for k in range(1, 12))
    return (0.1 * voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
            ).astype(np.float32)


@pytest.mark.parametrize("options", [
    {},  # the default: 13 MFCCs with energy, 23 mels, povey window
    {"energy": False},
    {"kind": "fbank"},
    {"kind": "fbank", "n_mels": 80, "window": "hamming"},
    {"window": "hann", "fmin": 64.0, "fmax": -400.0, "lifter": 0.0},
    {"window": "rectangular", "preemphasis": 0.0, "remove_dc": False},
    {"sample_rate": 8000, "n_mels": 15, "frame_length_ms": 20.0, "frame_shift_ms": 8.0},
    {"kind": "fbank", "n_fft": 512},  # explicit, as Kaldi rounds it (a larger n_fft is not a Kaldi option)
])
def test_features_match_kaldi(options):
    cfg = FeatureConfig(deltas=0, **options)
    wave = _speechlike(1.3, cfg.sample_rate)
    ours, ref = compute_features(wave, cfg), kaldi_reference(wave, cfg)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=TOL)


def test_librosa_style_filters_stay_available_and_differ():
    """``mel_filters: librosa-htk`` (triangles linear in Hz, c0 kept: the pre-Kaldi-exact front end)."""
    wave = _speechlike(0.5, 16000)
    old = compute_features(wave, FeatureConfig(deltas=0, mel_filters="librosa-htk", energy=False))
    assert old.shape == (48, 13) and np.all(np.isfinite(old))
    assert np.abs(old - kaldi_reference(wave, FeatureConfig(deltas=0, energy=False))).max() > 10 * TOL
