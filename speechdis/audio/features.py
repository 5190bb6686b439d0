"""Acoustic features (MFCC, log-mel filterbank) with deltas, and CMVN: Kaldi's compute-mfcc-feats /
compute-fbank-feats, add-deltas and apply-cmvn, re-implemented in numpy and checked against
``kaldi-native-fbank`` (Kaldi's own feature code; ``tests/unit/audio/test_features.py``: max abs difference below 1e-3
on MFCC and log-mel values of tens, float32 vs float64 arithmetic). Our vectorised numpy version is about
twice as fast as ``kaldi-native-fbank`` called from Python (``bench/features_speed.py``), so it stays the
backend.

Framing follows Kaldi with ``--snip-edges=true``: no padding or centring, frame ``t`` covers samples
``[t*H, t*H + W)`` with ``W = round(sr * frame_length_ms / 1000)`` and
``H = round(sr * frame_shift_ms / 1000)``, so a wave of ``N >= W`` samples gives exactly

    T = 1 + (N - W) // H          (see :func:`num_frames`)

frames (N < W raises AudioError: not even one frame). Per frame (as Kaldi does): optional dither,
DC removal, [raw log energy], pre-emphasis, window (default ``povey``), power spectrum (``n_fft`` = next
power of two >= W), triangular mel filters, natural log with an epsilon floor -> fbank; MFCC = orthonormal
DCT-II of the log-mel energies, cepstral liftering, and ``c0`` replaced by the raw log energy (Kaldi's
``--use-energy=true``; ``energy: false`` keeps ``c0``). ``mel_filters: kaldi`` (default) builds the
filters as Kaldi does: triangles evenly spaced and linear on the mel scale (1127 ln(1 + f/700)), over the
FFT bins below Nyquist. ``mel_filters: librosa-htk`` is librosa's ``filters.mel(htk=True, norm=None)``
(triangles linear in Hz; what speechdis used before, kept for models trained with it). Deltas use Kaldi's
regression window (default +-2 frames, edges replicated): order 2 on 13 MFCCs gives 39 dims.

CMVN statistics use Kaldi's layout: a float64 (2, D+1) matrix, row 0 = [sum x, count],
row 1 = [sum x^2, 0], so per-speaker stats are plain sums of per-utterance stats.

One file (~460 lines): the front end is one computation (frames → window → FFT → mel → log → DCT → deltas →
CMVN) checked as a whole against Kaldi; splitting it would scatter the steps that test compares.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np
import yaml

from speechdis.config import check_choices, from_dict, load_config, load_yaml, save_config
from speechdis.errors import AudioError, ConfigError

__all__ = [
    "FeatureConfig",
    "load_feature_config",
    "save_feature_config",
    "stored_feature_config",
    "read_stored_feature_config",
    "compute_features",
    "frame_features",
    "num_frames",
    "segment_frames",
    "segment_frames_array",
    "add_deltas",
    "mel_filterbank",
    "cmvn_stats",
    "apply_cmvn",
    "cmvn",
]

_DEFAULT_N_MELS = {"mfcc": 23, "fbank": 40}
_LOG_FLOOR = float(np.finfo(np.float32).eps)  # Kaldi floors energies at float epsilon before log


@dataclass
class FeatureConfig:
    """How features are computed and normalised. Load from YAML with :func:`load_feature_config`.

    ``n_mels``/``n_fft``/``fmax`` left ``None`` resolve to defaults (23 mels for MFCC, 40 for
    fbank; next power of two >= window; Nyquist); a negative ``fmax`` is relative to Nyquist
    (Kaldi's convention). Output dim = (n_mfcc or n_mels) * (deltas + 1).
    ``cmvn`` says how features read back through :class:`speechdis.data.feats.FeatsReader` are
    normalised: per utterance, per speaker (stats pooled over the speaker's utterances) or not at
    all; ``norm_vars`` adds variance normalisation to the mean subtraction.
    """

    kind: Literal["mfcc", "fbank"] = "mfcc"
    sample_rate: int = 16000
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    n_fft: Optional[int] = None
    n_mfcc: int = 13
    n_mels: Optional[int] = None
    fmin: float = 20.0
    fmax: Optional[float] = None
    preemphasis: float = 0.97
    window: Literal["povey", "hamming", "hann", "rectangular"] = "povey"
    remove_dc: bool = True
    dither: float = 0.0
    lifter: float = 22.0
    deltas: int = 2
    delta_window: int = 2
    energy: bool = True  # MFCC: c0 := log energy of the raw frame (Kaldi --use-energy); ignored for fbank
    mel_filters: Literal["kaldi", "librosa-htk"] = "kaldi"
    cmvn: Literal["utterance", "speaker", "none"] = "utterance"
    norm_vars: bool = True

    def __post_init__(self) -> None:
        check_choices(self)  # the Literal fields, for configs built in code (files are checked by the loader)
        checks = [
            ("sample_rate", self.sample_rate > 0),
            ("frame_length_ms", self.frame_length_ms > 0),
            ("frame_shift_ms", self.frame_shift_ms > 0),
            ("n_mfcc", self.n_mfcc > 0),
            ("n_mels", self.n_mels is None or self.n_mels > 0),
            ("fmin", self.fmin >= 0),
            ("preemphasis", 0.0 <= self.preemphasis < 1.0),
            ("dither", self.dither >= 0),
            ("lifter", self.lifter >= 0),
            ("deltas", 0 <= self.deltas <= 3),
            ("delta_window", self.delta_window >= 1),
        ]
        for key, ok in checks:
            if not ok:
                raise ConfigError(f"config key '{key}': invalid value {getattr(self, key)!r}")
        if self.n_fft is not None and self.n_fft < self.win_length:
            raise ConfigError(f"config key 'n_fft': {self.n_fft} is smaller than the window "
                              f"({self.win_length} samples)")
        if self.hop_length < 1 or self.win_length < 1:
            raise ConfigError("config keys 'frame_length_ms'/'frame_shift_ms': less than one sample")
        if not (self.fmin < self.resolved_fmax <= self.sample_rate / 2):
            raise ConfigError(f"config keys 'fmin'/'fmax': need 0 <= fmin < fmax <= {self.sample_rate / 2} "
                              f"(got {self.fmin}, {self.resolved_fmax})")
        if self.kind == "mfcc" and self.n_mfcc > self.resolved_n_mels:
            raise ConfigError(f"config key 'n_mfcc': {self.n_mfcc} is more than n_mels={self.resolved_n_mels}")

    @property
    def win_length(self) -> int:
        """Window length W in samples."""
        return int(round(self.sample_rate * self.frame_length_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        """Frame shift H in samples."""
        return int(round(self.sample_rate * self.frame_shift_ms / 1000.0))

    @property
    def resolved_n_fft(self) -> int:
        """FFT size: `n_fft`, else the next power of two at or above the window length."""
        return self.n_fft if self.n_fft is not None else 1 << (self.win_length - 1).bit_length()

    @property
    def resolved_n_mels(self) -> int:
        """Mel bands: `n_mels`, else the default of the feature kind."""
        return self.n_mels if self.n_mels is not None else _DEFAULT_N_MELS[self.kind]

    @property
    def resolved_fmax(self) -> float:
        """Upper mel edge in Hz: Nyquist when unset, Nyquist + fmax when fmax <= 0 (Kaldi's convention)."""
        nyquist = self.sample_rate / 2
        if self.fmax is None:
            return nyquist
        return nyquist + self.fmax if self.fmax <= 0 else self.fmax

    @property
    def base_dim(self) -> int:
        """Dimension before deltas."""
        return self.n_mfcc if self.kind == "mfcc" else self.resolved_n_mels

    @property
    def dim(self) -> int:
        """Output feature dimension (with deltas)."""
        return self.base_dim * (self.deltas + 1)

    @property
    def min_duration(self) -> float:
        """Shortest audio (seconds) that yields one frame."""
        return self.win_length / self.sample_rate

    def resolved(self) -> "FeatureConfig":
        """Copy with n_mels/n_fft/fmax made explicit (what is stored beside computed features)."""
        return dataclasses.replace(self, n_mels=self.resolved_n_mels, n_fft=self.resolved_n_fft,
                                   fmax=self.resolved_fmax)


def load_feature_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None,
                        **defaults) -> FeatureConfig:
    """FeatureConfig from a YAML file (None: defaults); ``overrides`` are ``key=value`` strings."""
    cfg = load_config(FeatureConfig, path, overrides)
    return dataclasses.replace(cfg, **defaults) if defaults else cfg


# Fields added after feature configs were first stored with models, and the behaviour those files had.
_BEFORE_FIELDS = {"energy": False, "mel_filters": "librosa-htk"}


def stored_feature_config(data: dict) -> FeatureConfig:
    """A feature config as stored with computed features or a model (all fields written out): fields the
    file lacks were added later, so they take the behaviour of the version that wrote it, not today's
    defaults (``energy: false``, ``mel_filters: librosa-htk``)."""
    return from_dict(FeatureConfig, {**_BEFORE_FIELDS, **data})


def read_stored_feature_config(path: str | os.PathLike) -> FeatureConfig:
    """:func:`stored_feature_config` of a YAML file written by speechdis (a data dir's ``conf/feats.yaml``,
    an experiment's ``feats.yaml``); :class:`ConfigError` naming the file when it is unreadable or invalid."""
    try:
        with open(path, encoding="utf-8") as f:
            data = load_yaml(f) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"expected a mapping of feature settings, got {type(data).__name__}")
        return stored_feature_config(data)
    except (OSError, yaml.YAMLError, ConfigError) as e:
        raise ConfigError(f"{path}: {e}") from e


def save_feature_config(cfg: FeatureConfig, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML (atomic)."""
    save_config(cfg.resolved(), path,
                header=f"speechdis feature config: {cfg.kind}, dim {cfg.dim}, cmvn {cfg.cmvn}")


def num_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Frames for ``n_samples`` samples: ``1 + (N - W) // H`` if ``N >= W`` else 0 (snip-edges)."""
    w, h = cfg.win_length, cfg.hop_length
    return 0 if n_samples < w else 1 + (n_samples - w) // h


def segment_frames(start: float, end: float, cfg: FeatureConfig, total_frames: int | None = None) -> tuple[int, int]:
    """Frame range [b, e) of a time span [start, end) seconds: frames whose centre lies in it.

    Frame t is centred at ``t*H + W/2`` samples. At least one frame is returned (the nearest one)
    even for a span shorter than the shift; the range is clipped to ``total_frames`` when given.
    """
    h = cfg.frame_shift_ms / 1000.0
    half = cfg.frame_length_ms / 2000.0
    b = max(0, math.ceil((start - half) / h - 1e-9))
    e = max(0, math.ceil((end - half) / h - 1e-9))
    if e <= b:
        e = b + 1
    if total_frames is not None:
        b = min(b, max(total_frames - 1, 0))
        e = min(max(e, b + 1), total_frames)
    return b, e


def segment_frames_array(start: np.ndarray, end: np.ndarray, cfg: FeatureConfig, total_frames: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`segment_frames` of many spans at once (int64 arrays ``b``, ``e``): the same float64 operations in
    the same order, so the same frames, without a Python call per span (a million word segments)."""
    h = cfg.frame_shift_ms / 1000.0
    half = cfg.frame_length_ms / 2000.0
    start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    total = np.asarray(total_frames, dtype=np.int64)
    b = np.maximum(0, np.ceil((start - half) / h - 1e-9)).astype(np.int64)
    e = np.maximum(0, np.ceil((end - half) / h - 1e-9)).astype(np.int64)
    e = np.where(e <= b, b + 1, e)
    b = np.minimum(b, np.maximum(total - 1, 0))
    e = np.minimum(np.maximum(e, b + 1), total)
    return b, e


def _window(kind: str, w: int) -> np.ndarray:
    n = np.arange(w)
    if kind == "rectangular":
        return np.ones(w)
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(2 * np.pi * n / (w - 1))
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (w - 1))
    return hann ** 0.85 if kind == "povey" else hann


_MEL_CACHE: dict[tuple, np.ndarray] = {}


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """(n_mels, n_fft/2+1) triangular mel filters (``cfg.mel_filters``), cached per configuration.

    Calling it once before forking workers lets them inherit the matrix (and librosa).
    """
    return _mel_basis(cfg)


def _kaldi_mel_banks(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Kaldi's MelBanks (without VTLN): bin i of n_fft/2 has frequency i*sr/n_fft; filter m rises linearly in
    mel from left_m to centre_m and falls to right_m, the edges evenly spaced in mel over [fmin, fmax]."""
    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    n_bins = n_fft // 2
    lo, hi = mel(fmin), mel(fmax)
    delta = (hi - lo) / (n_mels + 1)
    left = lo + delta * np.arange(n_mels)[:, None]
    centre, right = left + delta, left + 2 * delta
    m = mel(sample_rate / n_fft * np.arange(n_bins))[None, :]
    w = np.where(m <= centre, (m - left) / (centre - left), (right - m) / (right - centre))
    out = np.zeros((n_mels, n_bins + 1))  # the Nyquist bin gets no weight, as in Kaldi
    out[:, :n_bins] = np.where((m > left) & (m < right), w, 0.0)
    return out


def _mel_basis(cfg: FeatureConfig) -> np.ndarray:
    key = (cfg.mel_filters, cfg.sample_rate, cfg.resolved_n_fft, cfg.resolved_n_mels, cfg.fmin, cfg.resolved_fmax)
    if key not in _MEL_CACHE and cfg.mel_filters == "kaldi":
        _MEL_CACHE[key] = _kaldi_mel_banks(cfg.sample_rate, cfg.resolved_n_fft, cfg.resolved_n_mels, cfg.fmin,
                                           cfg.resolved_fmax)
    if key not in _MEL_CACHE:
        import librosa

        # htk=True: Kaldi's mel scale (1127 ln(1 + f/700)); norm=None: unit-height triangles as in Kaldi.
        _MEL_CACHE[key] = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.resolved_n_fft,
                                              n_mels=cfg.resolved_n_mels, fmin=cfg.fmin,
                                              fmax=cfg.resolved_fmax, htk=True, norm=None).astype(np.float64)
    return _MEL_CACHE[key]


def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II rows 0..n_out-1 (same as scipy.fft.dct(norm='ortho'))."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    m[0] /= math.sqrt(2.0)
    return m


def add_deltas(feats: np.ndarray, order: int = 2, window: int = 2) -> np.ndarray:
    """Append delta features up to ``order`` (Kaldi ``add-deltas``): (T, D) -> (T, D*(order+1)).

    Order-k filters are the order-(k-1) filter convolved with the regression window
    ``[-N..N] / (2 * sum n^2)``; frames past the edges replicate the first/last frame.
    """
    if order == 0:
        return feats.astype(np.float32, copy=False)
    scales, max_off = _delta_scales(order, window)
    x = feats.astype(np.float64, copy=False)
    return _deltas_of_padded(np.pad(x, ((max_off, max_off), (0, 0)), mode="edge"), scales, max_off)


def _delta_scales(order: int, window: int) -> tuple[list[np.ndarray], int]:
    """Kaldi's delta filters up to ``order`` and their half-width (the context each side a frame needs)."""
    base = np.arange(-window, window + 1, dtype=np.float64)
    base /= 2.0 * np.sum(np.arange(1, window + 1) ** 2)
    scales = [np.array([1.0])]
    for _ in range(order):
        scales.append(np.convolve(scales[-1], base))
    return scales, (len(scales[-1]) - 1) // 2


def _deltas_of_padded(padded: np.ndarray, scales: list[np.ndarray], max_off: int) -> np.ndarray:
    """Features with deltas of the rows ``max_off..-max_off`` of ``padded`` (float64 rows with ``max_off`` rows of
    context each side): the same operations, in the same order, whether the context is the edge replicated
    (:func:`add_deltas`) or real neighbouring frames (:mod:`speechdis.audio.stream`), so the values are equal."""
    t = padded.shape[0] - 2 * max_off
    x = padded[max_off:max_off + t]
    outs = [x]
    for s in scales[1:]:
        off = (len(s) - 1) // 2
        acc = np.zeros_like(x)
        for j, c in enumerate(s):
            if c != 0.0:
                start = max_off - off + j
                acc += c * padded[start:start + t]
        outs.append(acc)
    return np.concatenate(outs, axis=1).astype(np.float32)


def compute_features(wave: np.ndarray, cfg: FeatureConfig | None = None, *,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """Features of a mono wave at ``cfg.sample_rate``: float32 (T, cfg.dim), T = :func:`num_frames`.

    The wave is float in [-1, 1] (as returned by :func:`speechdis.audio.io.load_audio`); it is
    scaled to 16-bit range internally so the log floor acts as in Kaldi. Dither (if > 0) uses
    ``rng`` (default: a fixed seed, so results are reproducible). Raises AudioError when the
    wave is shorter than one window.
    """
    cfg = cfg or FeatureConfig()
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise AudioError(f"compute_features expects a 1-D wave, got shape {wave.shape}")
    t = num_frames(wave.shape[0], cfg)
    if t == 0:
        raise AudioError(f"audio too short for one frame: {wave.shape[0]} samples < window of {cfg.win_length} "
                         f"({cfg.frame_length_ms} ms at {cfg.sample_rate} Hz)")
    rng = rng if rng is not None else np.random.default_rng(0)
    return add_deltas(frame_features(wave, cfg, rng), cfg.deltas, cfg.delta_window)


def frame_features(wave: np.ndarray, cfg: FeatureConfig, rng: np.random.Generator) -> np.ndarray:
    """The per-frame part of :func:`compute_features` (before deltas): float64 (T, cfg.base_dim) of a 1-D wave of
    at least one window. Each row depends only on its frame's samples (and, with dither, on the next draws of
    ``rng``), so consecutive pieces of a wave give the rows of the whole (:mod:`speechdis.audio.stream`)."""
    w, h, n_fft = cfg.win_length, cfg.hop_length, cfg.resolved_n_fft
    t = num_frames(wave.shape[0], cfg)
    x = wave.astype(np.float64) * 32768.0
    idx = np.arange(w)[None, :] + h * np.arange(t)[:, None]
    frames = x[idx]  # (T, W) copy; snip-edges: no padding
    if cfg.dither > 0:
        frames = frames + cfg.dither * rng.standard_normal(frames.shape)
    if cfg.remove_dc:
        frames = frames - frames.mean(axis=1, keepdims=True)
    use_energy = cfg.kind == "mfcc" and cfg.energy
    if use_energy:  # Kaldi: log energy of the frame before pre-emphasis and window, floored at float eps
        log_energy = np.log(np.maximum(np.einsum("tw,tw->t", frames, frames), _LOG_FLOOR))
    if cfg.preemphasis > 0:
        # Kaldi: x[i] -= p * x[i-1], and x[0] -= p * x[0] (frame-local, no look-back).
        frames[:, 1:] = frames[:, 1:] - cfg.preemphasis * frames[:, :-1]
        frames[:, 0] = frames[:, 0] * (1.0 - cfg.preemphasis)
    frames = frames * _window(cfg.window, w)[None, :]
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2  # (T, n_fft/2+1)
    mel = power @ _mel_basis(cfg).T
    logmel = np.log(np.maximum(mel, _LOG_FLOOR))
    if cfg.kind == "fbank":
        feats = logmel
    else:
        ceps = logmel @ _dct_matrix(logmel.shape[1], cfg.n_mfcc).T
        if cfg.lifter > 0:
            q = np.arange(cfg.n_mfcc)
            ceps = ceps * (1.0 + 0.5 * cfg.lifter * np.sin(np.pi * q / cfg.lifter))[None, :]
        if use_energy:
            ceps[:, 0] = log_energy
        feats = ceps
    return feats


def cmvn_stats(feats: np.ndarray, stats: np.ndarray | None = None) -> np.ndarray:
    """Accumulate Kaldi CMVN stats of (T, D) ``feats`` into (2, D+1) float64 ``stats`` (new if None)."""
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2:
        raise ValueError(f"expected (T, D) features, got shape {feats.shape}")
    d = feats.shape[1]
    if stats is None:
        stats = np.zeros((2, d + 1), dtype=np.float64)
    elif stats.shape != (2, d + 1):
        raise ValueError(f"CMVN stats shape {stats.shape} does not match feature dim {d}")
    stats[0, :d] += feats.sum(axis=0)
    stats[1, :d] += (feats ** 2).sum(axis=0)
    stats[0, d] += feats.shape[0]
    return stats


def apply_cmvn(feats: np.ndarray, stats: np.ndarray, norm_vars: bool = True) -> np.ndarray:
    """Normalise (T, D) ``feats`` with (2, D+1) stats: subtract mean; divide by std if ``norm_vars``.

    Variances are floored at 1e-10 as in Kaldi's apply-cmvn, so constant dims map to 0.
    """
    stats = np.asarray(stats, dtype=np.float64)
    d = feats.shape[1]
    if stats.shape != (2, d + 1):
        raise ValueError(f"CMVN stats shape {stats.shape} does not match feature dim {d}")
    count = stats[0, d]
    if count <= 0:
        raise ValueError("CMVN stats have zero count")
    mean = stats[0, :d] / count
    out = feats.astype(np.float64) - mean
    if norm_vars:
        var = np.maximum(stats[1, :d] / count - mean ** 2, 1e-10)
        out /= np.sqrt(var)
    return out.astype(np.float32)


def cmvn(feats: np.ndarray, norm_vars: bool = True) -> np.ndarray:
    """Per-utterance CMVN of (T, D) ``feats``."""
    return apply_cmvn(feats, cmvn_stats(feats), norm_vars)
