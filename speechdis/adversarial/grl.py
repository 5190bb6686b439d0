"""Gradient reversal (Ganin & Lempitsky, 2015): identity forward, -coeff * grad backward."""
from __future__ import annotations

import math

import torch
from torch import nn


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:  # type: ignore[override]
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity in the forward pass; multiplies the gradient by ``-coeff`` in the backward pass."""
    return _GradReverse.apply(x, float(coeff))


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse`; ``coeff`` may be changed during training (see schedules)."""

    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        self.coeff = float(coeff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.coeff)

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}"


def dann_schedule(progress: float, gamma: float = 10.0, max_coeff: float = 1.0) -> float:
    """DANN ramp 2/(1+exp(-gamma*p)) - 1 for training progress p in [0, 1]: 0 at the start, ~max at the end.

    Starting at zero keeps the noisy early domain classifier from wrecking the features.
    """
    p = min(max(progress, 0.0), 1.0)
    return max_coeff * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


def linear_schedule(progress: float, start: float = 0.0, end: float = 1.0, warmup: float = 0.0) -> float:
    """Linear ramp from ``start`` to ``end`` over the first ``warmup`` fraction of training (then flat)."""
    if warmup <= 0:
        return end
    p = min(max(progress / warmup, 0.0), 1.0)
    return start + (end - start) * p
