"""K-class discriminators: the discriminator names which source a sample came from, not just real/fake.

VAE-GAN's 3-class variant (real / generated from the prior / reconstructed) is the motivating case: the
discriminator minimises cross-entropy against the true source of each batch, and the generator side wants
its samples classified as the "real" class.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def multiclass_discriminator_loss(logits: Sequence[torch.Tensor], weights: Sequence[float] | None = None
                                  ) -> torch.Tensor:
    """Cross-entropy of a K-way discriminator; ``logits[k]`` (N_k, K) are its outputs on samples of source k.

    Each source's mean CE is weighted (default 1), so sources with different batch sizes count alike.
    """
    if not logits:
        raise ValueError("need at least one group of logits")
    weights = [1.0] * len(logits) if weights is None else list(weights)
    if len(weights) != len(logits):
        raise ValueError(f"{len(weights)} weights for {len(logits)} groups of logits")
    total = logits[0].new_zeros(())
    for k, (lg, w) in enumerate(zip(logits, weights)):
        if lg.shape[-1] != len(logits):
            raise ValueError(f"logits have {lg.shape[-1]} classes but {len(logits)} sources were given")
        target = torch.full(lg.shape[:-1], k, dtype=torch.long, device=lg.device)
        total = total + w * F.cross_entropy(lg, target)
    return total


def multiclass_generator_loss(logits: torch.Tensor, real_class: int = 0) -> torch.Tensor:
    """Non-saturating generator loss: CE towards ``real_class`` for the discriminator's outputs on fakes."""
    target = torch.full(logits.shape[:-1], real_class, dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target)


def realness(logits: torch.Tensor, real_class: int = 0) -> torch.Tensor:
    """Log-odds that a K-way discriminator puts on ``real_class`` (reduces to the logit itself for K=2)."""
    others = torch.cat([logits[..., :real_class], logits[..., real_class + 1:]], dim=-1)
    return logits[..., real_class] - torch.logsumexp(others, dim=-1)
