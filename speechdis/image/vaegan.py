"""VAE-GAN (Larsen et al., 2016) on the shapes: a VAE whose decoder doubles as a GAN generator.

- Encoder E(x) → q(z|x), KL to the N(0, I) prior.
- Decoder/generator G: reconstructs x from z ~ q(z|x) (pixel loss and/or the *learned similarity* loss: a
  Gaussian in the discriminator's intermediate features, "Dis_l") and fools D on both reconstructions
  and samples from the prior.
- Discriminator D: 2-class (real vs fake; the reconstructed and sampled batches are both "fake") or
  3-class (real / generated / reconstructed), the variant where D must also tell the two kinds of fakes apart.

As in the paper, the encoder gets no gradient from the GAN loss (only KL + reconstruction): the GAN term
decodes a detached copy of z.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechdis.adversarial import AlternatingTrainer, discriminator_loss, generator_loss
from speechdis.adversarial.losses import LossKind
from speechdis.adversarial.multiclass import multiclass_discriminator_loss, multiclass_generator_loss, realness
from speechdis.errors import ConfigError
from speechdis.image.common import apply_batched, batches, run_steps
from speechdis.image.config import DatasetConfig
from speechdis.image.datasets import Shapes, image_size, load_labelled_images, make_shapes
from speechdis.image.metrics import (
    classifier_scores,
    disentanglement_report,
    predict_proba,
    reconstruction_error,
    reference_classifier,
)
from speechdis.image.nets import ConvBody, ConvDecoder, feature_map_size
from speechdis.image.registry import image_spec
from speechdis.image.viz import interpolate, save_grid, traversal_values


@dataclass(frozen=True)
class VAEGANConfig(DatasetConfig):
    steps: int = 900
    z_dim: int = 10
    n_train: int = 4000
    n_eval: int = 2000
    three_class: bool = False  # D classifies real / generated / reconstructed
    loss: LossKind = "bce"  # 2-class GAN loss kind
    kl_weight: float = 1.0
    pixel_weight: float = 1.0  # pixel BCE (per image, summed over pixels)
    feature_weight: float = 1.0  # learned-similarity loss in D's conv features (0 = off)
    gan_weight: float = 1.0
    lr: float = 1e-3
    lr_d: float = 2e-4
    dataset: Literal["shapes", "mnist"] = "shapes"  # shapes (16x16 colour, known factors) | mnist (28x28 grey)


class Encoder(nn.Module):
    """x → (mu, logvar) of a diagonal Gaussian q(z|x)."""

    def __init__(self, channels: int, z_dim: int, size: int = 16, width: int = 32) -> None:
        super().__init__()
        self.body = ConvBody(channels, size, width, 128, norm="batch")
        self.out = nn.Linear(128, 2 * z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.out(self.body(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)


class FeatureDiscriminator(nn.Module):
    """Conv discriminator that also exposes its intermediate features (the similarity layer Dis_l)."""

    def __init__(self, channels: int, n_out: int, size: int = 16, width: int = 32) -> None:
        super().__init__()
        s = feature_map_size(size)
        self.convs = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.GroupNorm(1, 2 * width),
        )
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * width * s * s, 128),
                                  nn.LeakyReLU(0.2), nn.Linear(128, n_out))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's last convolutional features (the VAE-GAN's learned similarity)."""
        return self.convs(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: (N,) for a 2-class D, (N, 3) for the 3-class one."""
        out = self.head(self.convs(x))
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def build(cfg: VAEGANConfig) -> dict[str, nn.Module]:
    """The named modules of this model, built from its config."""
    if cfg.dataset == "shapes":
        ch, size = 3, 16
    else:
        ch, size = 1, image_size(cfg.dataset)
    return {
        "encoder": Encoder(ch, cfg.z_dim, size, cfg.width),
        "decoder": ConvDecoder(cfg.z_dim, ch, size, cfg.width),
        "discriminator": FeatureDiscriminator(ch, 3 if cfg.three_class else 1, size, cfg.width),
    }


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) summed over dims, averaged over the batch."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()


def realness_score(d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """D's log-odds of "real" for either discriminator variant (used by photo editing)."""
    out = d(x)
    return realness(out) if out.dim() == 2 else out


def shapes_splits(cfg: Any, seed: int) -> tuple[Shapes, Shapes]:
    """(train, held-out) shapes; the held-out set has its own seed, so it is new renderings."""
    return make_shapes(cfg.n_train, seed=seed), make_shapes(cfg.n_eval, seed=seed + 1000)


def make_loss_fns(cfg: VAEGANConfig, modules: dict[str, nn.Module], gen: torch.Generator):
    """(critic_fn, generator_fn) of a VAE-GAN for :meth:`AlternatingTrainer.step`; batches are (x,)."""
    if cfg.loss == "wgan":
        raise ConfigError("VAE-GAN supports bce or hinge (wgan needs a gradient penalty this model lacks)")
    enc, dec, disc = modules["encoder"], modules["decoder"], modules["discriminator"]

    def encode_sample(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = enc(x)
        return mu + torch.randn(mu.shape, generator=gen) * (0.5 * logvar).exp(), mu, logvar

    def critic_fn(batch):
        (x,) = batch
        with torch.no_grad():
            recon = dec(encode_sample(x)[0])
            sampled = dec(torch.randn(len(x), cfg.z_dim, generator=gen))
        if cfg.three_class:
            loss = multiclass_discriminator_loss([disc(x), disc(sampled), disc(recon)])
        else:
            real = disc(x)
            loss = 0.5 * (discriminator_loss(cfg.loss, real, disc(recon))
                          + discriminator_loss(cfg.loss, real, disc(sampled)))
        return loss, {"d": loss.item()}

    def generator_fn(batch):
        (x,) = batch
        z, mu, logvar = encode_sample(x)
        recon = dec(z)
        kl = kl_divergence(mu, logvar)
        pixel = F.binary_cross_entropy(recon, x, reduction="sum") / len(x)
        loss = cfg.kl_weight * kl + cfg.pixel_weight * pixel
        logs = {"kl": kl.item(), "pixel": pixel.item()}
        if cfg.feature_weight > 0:
            feat = 0.5 * (disc.features(recon) - disc.features(x)).pow(2).sum(1).mean()
            loss = loss + cfg.feature_weight * feat
            logs["feature"] = feat.item()
        if cfg.gan_weight > 0:
            recon_g = dec(z.detach())  # the encoder learns from KL + reconstruction only
            sampled = dec(torch.randn(len(x), cfg.z_dim, generator=gen))
            if cfg.three_class:
                adv = 0.5 * (multiclass_generator_loss(disc(recon_g)) + multiclass_generator_loss(disc(sampled)))
            else:
                adv = 0.5 * (generator_loss(cfg.loss, disc(recon_g)) + generator_loss(cfg.loss, disc(sampled)))
            loss = loss + cfg.gan_weight * adv
            logs["g"] = adv.item()
        return loss, logs

    return critic_fn, generator_fn


def fit(cfg: VAEGANConfig, modules: dict[str, nn.Module], seed: int) -> dict[str, float]:
    """Train the modules in place for the config's steps; returns the final metrics."""
    gen = torch.Generator().manual_seed(seed + 1)
    if cfg.dataset == "shapes":
        x = shapes_splits(cfg, seed)[0].images
    else:
        x = load_labelled_images(cfg.dataset, cfg.data_dir, seed).x_train
    stream = batches(x, batch_size=cfg.batch_size, generator=gen)
    enc, dec, disc = modules["encoder"], modules["decoder"], modules["discriminator"]
    trainer = AlternatingTrainer(
        torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=cfg.lr, betas=(0.5, 0.999)),
        torch.optim.Adam(disc.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999)),
        critic=disc, n_critic=1 if cfg.gan_weight > 0 or cfg.feature_weight > 0 else 0,
    )
    critic_fn, generator_fn = make_loss_fns(cfg, modules, gen)
    for m in modules.values():
        m.train()
    return run_steps(trainer, stream, critic_fn, generator_fn, cfg.steps, name="vaegan")


@torch.no_grad()
def encode_mean(encoder: nn.Module, images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The encoder's mean codes of `images`, in batches, in eval mode."""
    encoder.eval()
    return apply_batched(lambda x: encoder(x)[0], images)


@torch.no_grad()
def evaluate(cfg: VAEGANConfig, modules: dict[str, nn.Module], seed: int, out_dir: Path) -> dict[str, Any]:
    """Held-out reconstruction error, MIG/DCI/FactorVAE of the encoder means, sample scores, pictures."""
    enc, dec = modules["encoder"], modules["decoder"]
    for m in modules.values():
        m.eval()
    if cfg.dataset == "shapes":
        held = shapes_splits(cfg, seed)[1]
        images, factors = held.images, held.factors
    else:
        images, factors = load_labelled_images(cfg.dataset, cfg.data_dir, seed).x_test, None
    mu = encode_mean(enc, images)
    recon = apply_batched(dec, mu)
    metrics: dict[str, Any] = {"recon_mse": reconstruction_error(images, recon),
                               "recon_mse_mean_image": reconstruction_error(
                                   images, np.broadcast_to(images.mean(0), images.shape))}
    if factors is not None:
        metrics.update(disentanglement_report(mu.numpy(), factors, seed=seed))
    gen = torch.Generator().manual_seed(seed + 7)
    samples = dec(torch.randn(1000, cfg.z_dim, generator=gen))
    clf, clf_acc = reference_classifier(cfg.dataset, seed=0, data_dir=cfg.data_dir)
    # Shapes: the shape head; MNIST: the digit classifier (confident, all ten digits = good samples).
    scores = classifier_scores(predict_proba(clf, samples, head=0))
    prefix = "sample_shape_" if cfg.dataset == "shapes" else "sample_"
    metrics.update({f"{prefix}coverage": scores["coverage"], f"{prefix}confidence": scores["confidence"],
                    f"{prefix}class_entropy": scores["class_entropy"],
                    "sample_realness": float(realness_score(modules["discriminator"], samples).mean()),
                    "reference_classifier_accuracy": clf_acc})
    x = torch.from_numpy(images[:16])
    save_grid(out_dir / "reconstructions.png", torch.stack([x, recon[:16]], 1).flatten(0, 1), nrow=8)
    save_grid(out_dir / "samples.png", samples[:64], nrow=8)
    # Traversal: each row moves one latent dim of the first held-out image's code from -2.5 to 2.5.
    vals = traversal_values(9, 2.5)
    codes = mu[0].repeat(cfg.z_dim * len(vals), 1)
    codes[torch.arange(len(codes)), torch.arange(cfg.z_dim).repeat_interleave(len(vals))] = vals.repeat(cfg.z_dim)
    save_grid(out_dir / "traversal.png", dec(codes), nrow=len(vals))
    inter = torch.cat([interpolate(mu[2 * i], mu[2 * i + 1], 8) for i in range(6)])
    save_grid(out_dir / "interpolation.png", dec(inter), nrow=8)
    return metrics


SPEC = image_spec(
    name="vaegan", description="VAE-GAN on shapes (optional 3-class D and learned-similarity reconstruction)",
    config_cls=VAEGANConfig, build=build, fit=fit, evaluate=evaluate,
    headline=("recon_mse", "mig", "dci_disentanglement", "factor_vae", "sample_shape_coverage"),
)
