"""Waveform perturbations for data augmentation: additive noise at an SNR, the telephone band, speed.

All functions take and return 1-D float32 arrays; none reads or writes files (the data-dir step that
uses them is :mod:`speechdis.data.augment_dir`).

- :func:`add_noise`: noise mixed in at a signal-to-noise ratio measured as the ratio of mean powers
  (mean of squared samples) over the whole signal and the whole noise excerpt, Kaldi's
  ``wav-reverberate --additive-signals`` / ``augment_data_dir.py`` convention. Silences count in the
  signal's power, so the SNR of the speech parts alone is a little higher than asked.
- :func:`telephone_band`: the 8 kHz telephone channel: resampled to 8 kHz (soxr's band-limited filter
  removes everything above 4 kHz), band-passed to 300–3400 Hz (the ITU-T G.712 voice band of telephone
  channels: a 4th-order Butterworth band-pass run forward and backward, zero phase, so word times do not
  move), and resampled back to the input's rate, at the input's length.
- :func:`speed_perturb_wave`: Kaldi's speed perturbation (``sox speed``): the signal is resampled so that it
  plays ``factor`` times faster at the same rate; length, pitch and formants all change (duration x 1/factor).
- :func:`fit_peak`: scales a signal down (as a whole, so an SNR is kept) when its peak would clip in a
  16-bit file.
"""
from __future__ import annotations

import numpy as np

from speechdis.audio.io import resample

__all__ = ["signal_power", "snr_db", "noise_excerpt", "add_noise", "telephone_band", "speed_perturb_wave",
           "fit_peak", "TELEPHONE_RATE", "TELEPHONE_BAND", "PEAK"]

TELEPHONE_RATE = 8000
TELEPHONE_BAND = (300.0, 3400.0)
# Peak kept after scaling down: below 16-bit full scale with a margin for the format's rounding.
PEAK = 0.99


def signal_power(wave: np.ndarray) -> float:
    """Mean of the squared samples (float64)."""
    w = np.asarray(wave, dtype=np.float64)
    return float(np.mean(w * w)) if w.size else 0.0


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR in dB of ``noisy`` against ``clean`` (the noise is their difference), powers over the whole signal."""
    noise = np.asarray(noisy, dtype=np.float64) - np.asarray(clean, dtype=np.float64)
    return float(10.0 * np.log10(signal_power(clean) / signal_power(noise)))


def noise_excerpt(noise: np.ndarray, length: int, offset: int) -> np.ndarray:
    """``length`` samples of ``noise`` from ``offset`` on, looping the noise when it is shorter."""
    if noise.size == 0:
        raise ValueError("noise_excerpt: empty noise")
    idx = (np.arange(length, dtype=np.int64) + int(offset)) % noise.size
    return noise[idx]


def add_noise(wave: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """``wave`` plus ``noise`` (same length) scaled so that power(wave) / power(scaled noise) is ``snr`` dB.

    A silent ``wave`` (power 0) is returned unchanged (no SNR defines a noise level for it); a silent
    ``noise`` raises ValueError. The result is not clipped: see :func:`fit_peak`.
    """
    if wave.shape != noise.shape:
        raise ValueError(f"add_noise: wave {wave.shape} and noise {noise.shape} differ in length")
    ps, pn = signal_power(wave), signal_power(noise)
    if pn == 0.0:
        raise ValueError("add_noise: the noise is silent (power 0)")
    if ps == 0.0:
        return wave.astype(np.float32, copy=True)
    gain = np.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
    return (wave.astype(np.float64) + gain * noise.astype(np.float64)).astype(np.float32)


def telephone_band(wave: np.ndarray, sr: int, band: tuple[float, float] = TELEPHONE_BAND,
                   rate: int = TELEPHONE_RATE) -> np.ndarray:
    """``wave`` (at ``sr``) passed through the telephone channel described in the module doc, same length."""
    from scipy.signal import butter, sosfiltfilt  # deferred: scipy.signal costs ~0.3 s to import

    n = wave.size
    low_rate = min(sr, rate)
    x = resample(wave, sr, low_rate)
    high = min(band[1], 0.45 * low_rate)  # audio already below 8 kHz: keep the upper edge under its Nyquist
    sos = butter(4, [band[0], high], btype="bandpass", fs=low_rate, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), x.size - 1)  # scipy's default, shortened for very short clips
    x = sosfiltfilt(sos, x.astype(np.float64), padlen=max(padlen, 0)).astype(np.float32)
    y = resample(x, low_rate, sr)
    if y.size >= n:  # the two resamplings round the length: restore it exactly (times stay put)
        return np.ascontiguousarray(y[:n])
    return np.concatenate([y, np.zeros(n - y.size, dtype=np.float32)])


def speed_perturb_wave(wave: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """``wave`` played ``factor`` times faster at the same rate ``sr`` (``sox speed factor``):
    ``round(len / factor)`` samples, pitch and formants times ``factor``."""
    import librosa  # deferred: importing librosa costs ~1 s

    if not factor > 0:
        raise ValueError(f"speed factor must be > 0, got {factor}")
    if factor == 1.0:
        return wave.astype(np.float32, copy=True)
    # Read at sr * factor, written at sr: the band-limited resampler does the whole job.
    out = librosa.resample(wave.astype(np.float32, copy=False), orig_sr=float(sr), target_sr=sr / factor,
                           res_type="soxr_hq")
    return np.ascontiguousarray(out, dtype=np.float32)


def fit_peak(wave: np.ndarray, peak: float = PEAK) -> tuple[np.ndarray, bool]:
    """``(wave, False)`` when its peak is at most ``peak``; else ``(wave scaled to that peak, True)``."""
    top = float(np.max(np.abs(wave))) if wave.size else 0.0
    if top <= peak:
        return wave, False
    return (wave * (peak / top)).astype(np.float32), True
