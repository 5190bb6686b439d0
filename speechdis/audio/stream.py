"""Features of long audio in bounded memory: the file is read in blocks and features are computed block by block.

:func:`compute_features` of a whole wave holds several float64 copies of it per frame (the (T, W) frame matrix,
its spectrum): a 60-minute file peaked at 5.5 GB. Here the wave is read in blocks (``soundfile``), each block's
complete frames get :func:`~speechdis.audio.features.frame_features` (the samples a frame shares with the next
block are carried over), and deltas are taken over real neighbouring frames (a few frames of context carried
between blocks; the edges of the *file* are replicated as :func:`add_deltas` does). The rows equal those of
:func:`compute_features` on the whole wave (checked in ``tests/unit/audio/test_stream.py``); only the (T, D)
float32 result (56 MB per hour of 39-dim features) and one block are held. CMVN statistics are accumulated on
the way and applied in place, block by block.

Audio at another rate than the features' is not streamed (the band-limited resampler works on the whole
wave): :func:`file_features_streamed` returns None for it and the caller loads it whole.
"""
from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np

from speechdis.audio.features import (
    FeatureConfig,
    _delta_scales,
    _deltas_of_padded,
    apply_cmvn,
    cmvn_stats,
    frame_features,
    num_frames,
)
from speechdis.errors import AudioError

__all__ = ["features_from_blocks", "file_features_streamed", "BLOCK_SECONDS"]

# Samples read (and frames computed) at a time: 20 s of 16 kHz audio is ~2000 frames, a few tens of MB of
# intermediate float64 arrays.
BLOCK_SECONDS = 20.0


def features_from_blocks(blocks: Iterable[np.ndarray], cfg: FeatureConfig,
                         rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Feature rows (float32 (t_i, cfg.dim)) of a wave given as consecutive 1-D blocks at ``cfg.sample_rate``.

    The rows yielded, concatenated, are :func:`compute_features` of the concatenated blocks (same ``rng`` for
    dither; default a fixed seed, as there). Blocks may have any sizes, even smaller than a frame.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    w, h = cfg.win_length, cfg.hop_length
    scales, ctx = _delta_scales(cfg.deltas, cfg.delta_window)
    carry = np.zeros(0, dtype=np.float32)  # samples from the first frame not yet computed on
    hist: np.ndarray | None = None  # frame rows (float64) awaiting deltas, with ctx rows of left context
    for block in blocks:
        carry = np.concatenate([carry, np.asarray(block, dtype=np.float32)])
        t = num_frames(carry.shape[0], cfg)
        if t == 0:
            continue
        rows = frame_features(carry[:(t - 1) * h + w], cfg, rng)
        carry = carry[t * h:]
        if hist is None:  # the file's first frame, replicated as left context (add_deltas' edge padding)
            hist = np.concatenate([np.repeat(rows[:1], ctx, axis=0), rows])
        else:
            hist = np.concatenate([hist, rows])
        ready = hist.shape[0] - 2 * ctx  # rows whose right context is known
        if ready > 0:
            yield _deltas_of_padded(hist, scales, ctx)
            hist = hist[ready:]
    if hist is None:
        return
    padded = np.concatenate([hist, np.repeat(hist[-1:], ctx, axis=0)])  # the file's last frame replicated
    if padded.shape[0] > 2 * ctx:
        yield _deltas_of_padded(padded, scales, ctx)


def file_features_streamed(path: str | os.PathLike, cfg: FeatureConfig, *, rng: np.random.Generator | None = None,
                           min_duration: float = 0.0, block_seconds: float = BLOCK_SECONDS) -> np.ndarray | None:
    """(T, D) features of a whole audio file read in blocks, CMVN applied as ``cfg.cmvn`` asks for one file
    (``utterance`` and ``speaker`` alike: per-file statistics), float32; equal to
    ``cmvn(compute_features(load_audio(path)))``. None when the file's rate is not ``cfg.sample_rate`` (it
    must be resampled whole). AudioError naming the file: unreadable, empty, non-finite samples, too short.
    """
    import soundfile as sf

    from speechdis.audio.io import _READ_ERRORS, _without_path, check_wav_complete

    name = str(path)
    if os.path.isdir(path):
        raise AudioError(f"{name}: is a directory, not an audio file")
    if not os.path.exists(path):
        raise AudioError(f"{name}: no such audio file")
    check_wav_complete(path)
    try:
        with sf.SoundFile(name) as f:
            if f.samplerate != cfg.sample_rate:
                return None
            blocksize = max(cfg.win_length, int(block_seconds * f.samplerate))
            n_samples = 0

            def mono_blocks() -> Iterator[np.ndarray]:
                nonlocal n_samples
                for data in f.blocks(blocksize=blocksize, dtype="float32", always_2d=True):
                    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
                    if not np.all(np.isfinite(wave)):
                        raise AudioError(f"{name}: audio contains NaN or infinite samples")
                    n_samples += wave.shape[0]
                    yield wave

            parts, stats = [], None
            for rows in features_from_blocks(mono_blocks(), cfg, rng):
                stats = cmvn_stats(rows, stats)
                parts.append(rows)
    except AudioError:
        raise
    except _READ_ERRORS as e:
        raise AudioError(f"{name}: cannot read audio (corrupt or unsupported format): {_without_path(e, path)}"
                         ) from e
    if n_samples == 0:
        raise AudioError(f"{name}: audio is empty (0 samples)")
    if n_samples / cfg.sample_rate < min_duration or not parts:
        raise AudioError(f"{name}: audio is too short ({n_samples / cfg.sample_rate:.3f}s < "
                         f"{max(min_duration, cfg.min_duration):.3f}s)")
    feats = np.empty((sum(p.shape[0] for p in parts), cfg.dim), dtype=np.float32)
    b = 0
    while parts:  # into one array, freeing each block as it is copied
        p = parts.pop(0)
        feats[b:b + p.shape[0]] = p if cfg.cmvn == "none" else apply_cmvn(p, stats, cfg.norm_vars)
        b += p.shape[0]
    return feats
