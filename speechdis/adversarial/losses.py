"""GAN / adversarial losses on raw critic outputs (logits for BCE and hinge, scores for WGAN).

Kinds:
- ``"bce"``: non-saturating GAN (Goodfellow et al.): D minimises BCE(real→1, fake→0), G minimises BCE(fake→1).
- ``"wgan"``: Wasserstein critic: D minimises E[fake] - E[real]; G minimises -E[fake]. Pair with
  :func:`gradient_penalty` (WGAN-GP, Gulrajani et al.).
- ``"hinge"``: D minimises E[relu(1-real)] + E[relu(1+fake)]; G minimises -E[fake].
"""
from __future__ import annotations

import typing
from typing import Callable, Literal, Sequence

import torch
import torch.nn.functional as F

LossKind = Literal["bce", "wgan", "hinge"]  # the choice a config names (e.g. the image models' ``loss``)
LOSS_KINDS: tuple[str, ...] = typing.get_args(LossKind)


def _check(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise ValueError(f"unknown adversarial loss kind {kind!r}; expected one of {LOSS_KINDS}")


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Loss the discriminator/critic minimises, given its outputs on real and fake samples."""
    _check(kind)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "wgan":
        return fake.mean() - real.mean()
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """Loss the generator minimises, given the critic's outputs on its samples."""
    _check(kind)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    return -fake.mean()


def binary_classifier_loss(kind: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Classifier loss for labelled samples (target 1 = "real"/"same", 0 = "fake"/"different").

    Used where both classes come from the same encoder (e.g. same-/different-speaker pairs), so the
    critic sees ``positives`` and ``negatives`` instead of real and generated data.
    """
    target = target.to(logits.dtype)
    pos, neg = logits[target > 0.5], logits[target <= 0.5]
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if pos.numel() == 0 or neg.numel() == 0:
        return logits.sum() * 0.0
    return discriminator_loss(kind, pos, neg)


def gradient_penalty(
    critic: Callable[..., torch.Tensor],
    real: torch.Tensor | Sequence[torch.Tensor],
    fake: torch.Tensor | Sequence[torch.Tensor],
    target_norm: float = 1.0,
) -> torch.Tensor:
    """WGAN-GP penalty E[(||grad_x critic(x_hat)|| - 1)^2] on random interpolates x_hat.

    ``real``/``fake`` may be tuples of tensors (e.g. (x, z) for BiGAN, (v_i, v_j) for a pair critic):
    each element is interpolated with the same per-sample alpha and the gradient norm is taken over
    all of them jointly. The graph is kept (create_graph) so the penalty trains the critic.
    """
    single = isinstance(real, torch.Tensor)
    reals = [real] if single else list(real)  # type: ignore[list-item]
    fakes = [fake] if single else list(fake)  # type: ignore[list-item]
    n = reals[0].shape[0]
    alpha = torch.rand(n, device=reals[0].device, dtype=reals[0].dtype)
    inputs = []
    for r, f in zip(reals, fakes):
        a = alpha.view(n, *([1] * (r.dim() - 1)))
        inputs.append((a * r.detach() + (1 - a) * f.detach()).requires_grad_(True))
    out = critic(*inputs)
    grads = torch.autograd.grad(out.sum(), inputs, create_graph=True)
    sq = sum(g.reshape(n, -1).pow(2).sum(dim=1) for g in grads)
    return ((sq + 1e-12).sqrt() - target_norm).pow(2).mean()
