"""Cross-domain disentanglement (after González-Garcia et al., 2018) on paired digits.

Domain X: plain grey digits. Domain Y: the same digits coloured (one of 4 stroke colours on one of 4
backgrounds). Each domain has an encoder splitting an image into a *shared* part S (what both domains
have: the digit) and an *exclusive* part E (what only this domain has: for Y the colours).

Losses: in-domain reconstruction; cross-domain reconstruction G_Y(S_x, E_y) ≈ y and G_X(S_y, E_x) ≈ x;
L1 between the shared parts of a pair; and, on the exclusive path, a gradient reversal layer feeding a
small decoder that tries to produce the *other* domain's image from E alone — the reversed gradient
removes from E whatever would help it (the shared content). One joint update per step (``n_critic=0``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechdis.adversarial import AlternatingTrainer, GradientReversal, dann_schedule
from speechdis.image.common import batches, run_steps
from speechdis.image.config import ImageConfig
from speechdis.image.datasets import Domain, colour_digits, load_digits_images, shift_domain, split_indices
from speechdis.image.metrics import chance_level, linear_probe, reconstruction_error
from speechdis.image.nets import ConvBody, ConvDecoder
from speechdis.image.registry import image_spec
from speechdis.image.viz import save_grid


@dataclass(frozen=True)
class CrossDomainConfig(ImageConfig):
    steps: int = 800
    shared_dim: int = 16
    exclusive_dim: int = 4
    domain_y: Domain = "coloured"
    cross_weight: float = 1.0
    shared_weight: float = 1.0  # L1 between S_x and S_y of a pair
    grl_weight: float = 1.0
    max_coeff: float = 1.0  # GRL coefficient at the end of the dann_schedule ramp
    lr: float = 1e-3


class SplitEncoder(nn.Module):
    """x → (shared, exclusive)."""

    def __init__(self, shared_dim: int, exclusive_dim: int, width: int) -> None:
        super().__init__()
        self.shared_dim = shared_dim
        self.body = ConvBody(3, 16, width, 128, norm="batch")
        self.out = nn.Linear(128, shared_dim + exclusive_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.out(self.body(x))
        return h[:, : self.shared_dim], h[:, self.shared_dim:]


class CrossDomain(nn.Module):
    def __init__(self, cfg: CrossDomainConfig) -> None:
        super().__init__()
        s, e, w = cfg.shared_dim, cfg.exclusive_dim, cfg.width
        self.enc_x, self.enc_y = SplitEncoder(s, e, w), SplitEncoder(s, e, w)
        self.dec_x, self.dec_y = ConvDecoder(s + e, 3, 16, w), ConvDecoder(s + e, 3, 16, w)
        self.grl = GradientReversal(0.0)
        # Small decoders behind the GRL: exclusive part of one domain → image of the other domain.
        self.excl_to_y = ConvDecoder(e, 3, 16, w // 2)
        self.excl_to_x = ConvDecoder(e, 3, 16, w // 2)

    def translate_x_to_y(self, x: torch.Tensor, y_style: torch.Tensor) -> torch.Tensor:
        """Content of ``x`` rendered with the exclusive features (style) of ``y_style``."""
        return self.dec_y(torch.cat([self.enc_x(x)[0], self.enc_y(y_style)[1]], 1))

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction, cross-reconstruction, shared-part and adversarial exclusive-part losses of a batch."""
        sx, ex = self.enc_x(x)
        sy, ey = self.enc_y(y)
        return {
            "rec": F.mse_loss(self.dec_x(torch.cat([sx, ex], 1)), x)
            + F.mse_loss(self.dec_y(torch.cat([sy, ey], 1)), y),
            "cross": F.mse_loss(self.dec_y(torch.cat([sx, ey], 1)), y)
            + F.mse_loss(self.dec_x(torch.cat([sy, ex], 1)), x),
            "shared": (sx - sy).abs().mean(),
            "excl": F.mse_loss(self.excl_to_y(self.grl(ex)), y) + F.mse_loss(self.excl_to_x(self.grl(ey)), x),
        }


def build(cfg: CrossDomainConfig) -> dict[str, nn.Module]:
    """The named modules of this model, built from its config."""
    return {"crossdomain": CrossDomain(cfg)}


def paired_splits(cfg: CrossDomainConfig, seed: int) -> dict[str, np.ndarray]:
    """Pairs (x, y) of one digit in both domains; 80/20 train/test; labels and Y's style factors for probes."""
    gray, labels = load_digits_images(16)
    x, _ = shift_domain(gray, "plain", seed)
    y, style = shift_domain(gray, cfg.domain_y, seed + 1)
    tr, te = split_indices(len(gray), (0.8, 0.2), seed=seed)
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te], "label_test": labels[te],
            "style_test": style[te], "gray_test": gray[te]}


def fit(cfg: CrossDomainConfig, modules: dict[str, nn.Module], seed: int) -> dict[str, float]:
    """Train the modules in place for the config's steps; returns the final metrics."""
    model: CrossDomain = modules["crossdomain"]  # type: ignore[assignment]
    data = paired_splits(cfg, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    trainer = AlternatingTrainer(torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.5, 0.999)), n_critic=0)
    weights = {"rec": 1.0, "cross": cfg.cross_weight, "shared": cfg.shared_weight, "excl": cfg.grl_weight}

    def loss_fn(batch):
        parts = model.losses(*batch)
        loss = sum(weights[k] * v for k, v in parts.items())
        return loss, {k: v.item() for k, v in parts.items()}

    def on_step(step: int, progress: float) -> None:
        model.grl.coeff = dann_schedule(progress, max_coeff=cfg.max_coeff)

    model.train()
    stream = batches(data["x_train"], data["y_train"], batch_size=cfg.batch_size, generator=gen)
    return run_steps(trainer, stream, None, loss_fn, cfg.steps, on_step=on_step, name="crossdomain")


@torch.no_grad()
def evaluate(cfg: CrossDomainConfig, modules: dict[str, nn.Module], seed: int, out_dir: Path) -> dict[str, Any]:
    """Reconstruction errors and probes: what the shared and exclusive parts of domain Y know."""
    model: CrossDomain = modules["crossdomain"]  # type: ignore[assignment]
    model.eval()
    d = paired_splits(cfg, seed)
    x, y = torch.from_numpy(d["x_test"]), torch.from_numpy(d["y_test"])
    sx, ex = model.enc_x(x)
    sy, ey = model.enc_y(y)
    out: dict[str, Any] = {
        "recon_mse_x": reconstruction_error(x, model.dec_x(torch.cat([sx, ex], 1))),
        "recon_mse_y": reconstruction_error(y, model.dec_y(torch.cat([sy, ey], 1))),
        # X → Y with the true partner's exclusive part: ground truth is the partner itself.
        "cross_mse_x_to_y": reconstruction_error(y, model.dec_y(torch.cat([sx, ey], 1))),
        "cross_mse_y_to_x": reconstruction_error(x, model.dec_x(torch.cat([sy, ex], 1))),
    }
    # Translation with a *different* image's style: content must come from S_x and the colours from E_y'.
    # The coloured domain has a known ground truth for that: the digit re-coloured with the borrowed style.
    perm = np.random.default_rng(seed).permutation(len(x))
    swapped = model.dec_y(torch.cat([sx, ey[torch.from_numpy(perm)]], 1))
    if cfg.domain_y == "coloured":
        out["swap_mse"] = reconstruction_error(colour_digits(d["gray_test"], d["style_test"][perm]), swapped)
    # Probes on a split of the test pairs: digit from S_y (want high) vs E_y (want chance); background
    # colour from E_y (want high) vs S_y (want low).
    n = len(x)
    a, b = np.arange(n) < n // 2, np.arange(n) >= n // 2
    for name, feats in (("shared", sy.numpy()), ("exclusive", ey.numpy())):
        for target_name, lab in (("digit", d["label_test"]), ("background", d["style_test"][:, 1]),
                                 ("stroke_colour", d["style_test"][:, 0])):
            out[f"probe_{target_name}_from_{name}"] = linear_probe(feats[a], lab[a], feats[b], lab[b], seed=seed)
    out["probe_digit_chance"] = chance_level(d["label_test"][b])
    out["probe_background_chance"] = chance_level(d["style_test"][b, 1])
    # Swap grid: top row = Y images giving the style, left column = X images giving the content.
    k = 8
    grid = [torch.ones(1, 3, 16, 16)] + [y[j:j + 1] for j in range(k)]
    for i in range(k):
        grid.append(x[i:i + 1])
        grid.append(model.dec_y(torch.cat([sx[i:i + 1].expand(k, -1), ey[:k]], 1)))
    save_grid(out_dir / "swap_grid.png", torch.cat(grid), nrow=k + 1)
    return out


SPEC = image_spec(
    name="crossdomain", description="Cross-domain disentanglement: shared/exclusive parts, GRL on exclusive path",
    config_cls=CrossDomainConfig, build=build, fit=fit, evaluate=evaluate,
    headline=("cross_mse_x_to_y", "swap_mse", "probe_digit_from_shared", "probe_digit_from_exclusive",
              "probe_background_from_exclusive", "probe_background_from_shared"),
)
