"""Mutual-information terms for InfoGAN-style latent codes (Chen et al., 2016).

The variational lower bound on I(c; G(z, c)) is maximised by training an auxiliary head Q(c | x) to recover
the codes the generator was given; the loss both Q and the generator minimise is the negative log-likelihood
of the true codes under Q: cross-entropy for categorical codes, a factored Gaussian NLL (or plain MSE when Q
predicts no variance) for continuous codes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LatentCodes:
    """Layout of InfoGAN codes: ``n_cat`` categorical codes of ``cat_dim`` values, ``n_cont`` Uniform(-1, 1)."""

    cat_dim: int = 10
    n_cat: int = 1
    n_cont: int = 2

    @property
    def dim(self) -> int:
        """Width of the code vector fed to the generator (one-hots then continuous values)."""
        return self.n_cat * self.cat_dim + self.n_cont

    @property
    def q_dim(self) -> int:
        """Width of Q's output: categorical logits, then a mean and a log-variance per continuous code."""
        return self.n_cat * self.cat_dim + 2 * self.n_cont

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random codes: (categorical indices (n, n_cat) long, continuous values (n, n_cont))."""
        cat = torch.randint(0, self.cat_dim, (n, self.n_cat), generator=generator, device=device)
        cont = torch.rand(n, self.n_cont, generator=generator, device=device) * 2 - 1
        return cat, cont

    def encode(self, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """The generator's code vector: one-hot categorical codes concatenated with continuous codes."""
        onehot = F.one_hot(cat, self.cat_dim).to(cont.dtype).reshape(cat.shape[0], -1)
        return torch.cat([onehot, cont], dim=1)

    def split_q(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q's output → (categorical logits (n, n_cat, cat_dim), continuous means, log-variances)."""
        k = self.n_cat * self.cat_dim
        logits = q[:, :k].reshape(q.shape[0], self.n_cat, self.cat_dim)
        mean, logvar = q[:, k:k + self.n_cont], q[:, k + self.n_cont:k + 2 * self.n_cont]
        return logits, mean, logvar


def mutual_info_loss(
    cat_logits: torch.Tensor | None,
    cat_target: torch.Tensor | None,
    cont_mean: torch.Tensor | None = None,
    cont_target: torch.Tensor | None = None,
    cont_logvar: torch.Tensor | None = None,
    cont_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative variational MI bound: CE(cat) + cont_weight * Gaussian NLL(cont) (MSE/2 without logvar).

    ``cat_logits`` is (N, n_cat, K) or (N, K) with integer targets (N, n_cat) or (N,). The Gaussian NLL drops
    the constant log(2π)/2 so that a perfect, confident Q gives a loss that can go below zero. Returns the loss
    and logs (``mi_cat``, ``mi_cont``).
    """
    ref = cat_logits if cat_logits is not None else cont_mean
    if ref is None:
        raise ValueError("mutual_info_loss needs categorical or continuous predictions")
    loss = ref.new_zeros(())
    logs: dict[str, float] = {}
    if cat_logits is not None:
        if cat_target is None:
            raise ValueError("categorical logits given without targets")
        ce = F.cross_entropy(cat_logits.reshape(-1, cat_logits.shape[-1]), cat_target.reshape(-1))
        loss = loss + ce
        logs["mi_cat"] = ce.item()
    if cont_mean is not None and cont_mean.numel() > 0:
        if cont_target is None:
            raise ValueError("continuous predictions given without targets")
        if cont_logvar is None:
            nll = 0.5 * (cont_mean - cont_target).pow(2).sum(1).mean()
        else:
            logvar = cont_logvar.clamp(-8.0, 8.0)  # keeps exp(-logvar) finite early in training
            nll = 0.5 * (logvar + (cont_mean - cont_target).pow(2) * torch.exp(-logvar)).sum(1).mean()
        loss = loss + cont_weight * nll
        logs["mi_cont"] = nll.item()
    return loss, logs

