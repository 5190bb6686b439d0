"""Training-time augmentation of feature batches: speed perturbation (``data.speed_perturb``).

Features are precomputed, so speed perturbation by a factor ``s`` is done on the feature frames: each segment
is resampled along time (linear interpolation) to ``round(length / s)`` frames, as audio played ``s`` times
faster lasts ``1 / s`` as long. The spectral shift of waveform speed perturbation (formants and pitch times
``s``) is not reproduced: that needs the features recomputed from resampled audio. Applied to training batches
only (:func:`speechdis.training.loop.batch_stream`); validation and embedding never see it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["speed_perturb", "batch_rng"]


def batch_rng(seed: int, rank: int, batch: int) -> np.random.Generator:
    """The random stream of training batch ``batch`` on ``rank``: a pure function of the three, so a resumed
    run perturbs its batches exactly as an uninterrupted one."""
    return np.random.default_rng([seed, rank, batch])


def speed_perturb(feats: torch.Tensor, lengths: torch.Tensor, factors: Sequence[float],
                  rng: np.random.Generator, max_frames: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample each segment of a padded (B, T, D) batch along time by a factor drawn uniformly from
    ``factors`` (> 1 = faster = fewer frames); new lengths ``round(length / factor)``, at least 1 and at most
    ``max_frames``. Returns the new padded batch (zeros past each length) and lengths."""
    if not factors:
        return feats, lengths
    b = feats.shape[0]
    speed = torch.as_tensor(np.asarray(factors, dtype=np.float64)[rng.integers(0, len(factors), size=b)],
                            dtype=torch.float64, device=feats.device)
    old = lengths.to(feats.device)
    new = torch.round(old.double() / speed).long().clamp_min(1)
    if max_frames is not None:
        new = new.clamp_max(max_frames)
    t_new = int(new.max())
    j = torch.arange(t_new, device=feats.device, dtype=torch.float64)[None]
    # Output frame j reads source position j * speed: the start stays aligned, the end cut when clamped.
    pos = torch.minimum(j * speed[:, None], (old - 1).double()[:, None]).clamp_min(0)
    lo = pos.floor().long()
    hi = torch.minimum(lo + 1, (old - 1)[:, None])
    w = (pos - lo.double()).to(feats.dtype)[:, :, None]
    d = feats.shape[2]
    a = feats.gather(1, lo[:, :, None].expand(b, t_new, d))
    c = feats.gather(1, hi[:, :, None].expand(b, t_new, d))
    out = a + w * (c - a)
    valid = (j < new[:, None].double())[:, :, None]
    return out * valid.to(out.dtype), new.to(lengths.device)
