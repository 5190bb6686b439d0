"""Losses of the speech models: masked reconstruction, speaker-distance hinge, pair sampling in a batch."""
from __future__ import annotations

import torch


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, T) boolean mask, True on real frames."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mse(pred: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean squared error over real frames only; padding is ignored."""
    mask = length_mask(lengths.to(pred.device), pred.shape[1]).unsqueeze(-1).to(pred.dtype)
    return ((pred - target) ** 2 * mask).sum() / (mask.sum() * pred.shape[-1]).clamp_min(1)


def speaker_distance_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """Same speaker: ||a-b||²; different speakers: max(0, margin - ||a-b||²); averaged over pairs."""
    d2 = (a - b).pow(2).sum(-1)
    same = same.to(d2.dtype)
    return (same * d2 + (1 - same) * torch.relu(margin - d2)).mean()


def sample_pairs(speakers: torch.Tensor, n_pairs: int, same_fraction: float = 0.5,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draws ``n_pairs`` index pairs (i, j), i != j, from a batch: a ``same_fraction`` share same-speaker.

    Returns (i, j, same) with ``same`` 1.0 for same-speaker pairs. Raises if the batch lacks either kind;
    the pair batch sampler guarantees both.
    """
    spk = speakers.cpu()
    n = spk.numel()
    eq = spk[:, None] == spk[None, :]
    off = ~torch.eye(n, dtype=torch.bool)
    same_idx = (eq & off).nonzero()
    diff_idx = (~eq).nonzero()
    if len(same_idx) == 0 or len(diff_idx) == 0:
        raise ValueError("batch needs both same-speaker and different-speaker pairs (use PairBatchSampler)")
    n_same = max(1, int(round(n_pairs * same_fraction)))
    n_diff = max(1, n_pairs - n_same)
    pick_s = same_idx[torch.randint(len(same_idx), (n_same,), generator=generator)]
    pick_d = diff_idx[torch.randint(len(diff_idx), (n_diff,), generator=generator)]
    pairs = torch.cat([pick_s, pick_d])
    same = torch.cat([torch.ones(n_same), torch.zeros(n_diff)])
    dev = speakers.device
    return pairs[:, 0].to(dev), pairs[:, 1].to(dev), same.to(dev)


def same_speaker_partner(speakers: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each item, the index of a random *other* item of the same speaker (itself if it is alone)."""
    spk = speakers.cpu()
    n = spk.numel()
    eq = (spk[:, None] == spk[None, :]) & ~torch.eye(n, dtype=torch.bool)
    noise = torch.rand(n, n, generator=generator)
    scores = torch.where(eq, noise, torch.full_like(noise, -1.0))
    partner = scores.argmax(dim=1)
    alone = ~eq.any(dim=1)
    partner[alone] = torch.arange(n)[alone]
    return partner.to(speakers.device)
