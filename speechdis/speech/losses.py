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


def sample_group_pairs(speakers: torch.Tensor, n_pairs: int, group_size: int, same_fraction: float = 0.5,
                       generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draws ``n_pairs`` pairs of disjoint groups of ``group_size`` items, each group from one speaker.

    Returns (I, J, same) with I, J of shape (n_pairs, group_size): same-speaker pairs split one speaker's
    items into two disjoint groups, different-speaker pairs take one group from each of two speakers
    (speakers drawn uniformly). Averaging a group's vectors cancels what varies between words and keeps
    what a speaker adds to all of them, which is what a linear speaker probe picks up.
    """
    if group_size < 1:
        raise ValueError("group_size must be ≥ 1")
    members: dict[int, list[int]] = {}
    for idx, s in enumerate(speakers.cpu().tolist()):
        members.setdefault(s, []).append(idx)
    groups = [torch.tensor(m) for m in members.values() if len(m) >= group_size]
    splittable = [m for m in groups if len(m) >= 2 * group_size]
    if not splittable or len(groups) < 2:
        raise ValueError(f"batch needs a speaker with ≥ {2 * group_size} items and two speakers with "
                         f"≥ {group_size} (raise data.segments_per_speaker or lower loss.critic_group_size)")
    n_same = max(1, int(round(n_pairs * same_fraction)))
    n_diff = max(1, n_pairs - n_same)
    rows_i, rows_j = [], []
    for s in torch.randint(len(splittable), (n_same,), generator=generator).tolist():
        perm = splittable[s][torch.randperm(len(splittable[s]), generator=generator)]
        rows_i.append(perm[:group_size])
        rows_j.append(perm[group_size:2 * group_size])
    for _ in range(n_diff):
        a, b = torch.randperm(len(groups), generator=generator)[:2].tolist()
        rows_i.append(groups[a][torch.randperm(len(groups[a]), generator=generator)[:group_size]])
        rows_j.append(groups[b][torch.randperm(len(groups[b]), generator=generator)[:group_size]])
    same = torch.cat([torch.ones(n_same), torch.zeros(n_diff)])
    dev = speakers.device
    return torch.stack(rows_i).to(dev), torch.stack(rows_j).to(dev), same.to(dev)


def same_speaker_partner(speakers: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each item, the index of a random *other* item of the same speaker (itself if it is alone)."""
    spk = speakers.cpu()
    n = spk.numel()
    pick, found = _random_match((spk[:, None] == spk[None, :]) & ~torch.eye(n, dtype=torch.bool), generator)
    return torch.where(found, pick, torch.arange(n)).to(speakers.device)


def _random_match(ok: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of an (n, n) boolean matrix, a uniformly random column where it is True, and whether
    the row has one (rows without one get an arbitrary column)."""
    noise = torch.rand(ok.shape, generator=generator)
    return torch.where(ok, noise, torch.full_like(noise, -1.0)).argmax(dim=1), ok.any(dim=1)


def correspondence_targets(words: torch.Tensor, speakers: torch.Tensor, prob: float = 1.0,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """For each item, the index of the segment to reconstruct (correspondence autoencoder, Kamper et al.
    2015): with probability ``prob`` a random other token of the same word by *another* speaker in the
    batch, else the item itself (also when the batch has no such token, or the word is unknown, < 0).

    Decoding another speaker's token of the word rewards what the tokens share, the word, and gives
    nothing for what only the input has (its speaker, channel, noise).
    """
    w, spk = words.cpu(), speakers.cpu()
    n = w.numel()
    ok = (w[:, None] == w[None, :]) & (spk[:, None] != spk[None, :]) & (w[:, None] >= 0)
    cand, found = _random_match(ok, generator)
    use = found & (torch.rand(n, generator=generator) < prob)
    return torch.where(use, cand, torch.arange(n)).to(words.device)
