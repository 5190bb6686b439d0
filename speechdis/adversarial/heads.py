"""Critic and classifier heads shared by the speech and image models."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """Fully connected stack: Linear → activation (→ dropout) per hidden layer, then a Linear output."""

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        out_dim: int,
        activation: str = "leaky_relu",
        dropout: float = 0.0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh, "elu": nn.ELU}
        if activation not in acts:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(acts)}")
        layers: list[nn.Module] = []
        dims = [in_dim, *hidden]
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [wrap(nn.Linear(a, b)), acts[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(wrap(nn.Linear(dims[-1], out_dim)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PairCritic(nn.Module):
    """Scores a pair of vectors (e.g. "same speaker?"); symmetric in its two inputs.

    Order invariance comes from the features: [a + b, |a - b|, a * b] are unchanged when a and b swap,
    so the critic cannot learn to depend on which vector came first.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (256, 256), activation: str = "leaky_relu",
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.mlp = MLP(3 * dim, hidden, 1, activation=activation, dropout=dropout)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Returns one score (logit) per pair, shape (N,)."""
        return self.mlp(torch.cat([a + b, (a - b).abs(), a * b], dim=-1)).squeeze(-1)
