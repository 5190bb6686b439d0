"""InfoGAN (Chen et al., 2016) on the digits: a GAN whose generator also receives latent codes c
(one categorical, a few continuous) beside the noise z'; an auxiliary head Q recovers c from G(z', c).

Q shares the discriminator's body; only the last layer differs. Both D (with Q) and G minimise the
mutual-information loss (the negative variational bound), as in the authors' code, so D's update trains Q
on detached fakes and G's update makes its codes recoverable.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from speechdis.adversarial import AlternatingTrainer, discriminator_loss, generator_loss
from speechdis.adversarial.info import LatentCodes, mutual_info_loss
from speechdis.adversarial.losses import LossKind
from speechdis.image.common import apply_batched, batches, module_device, run_steps
from speechdis.image.config import DatasetConfig
from speechdis.image.datasets import DigitDataset, image_size, load_digits_images, load_labelled_images
from speechdis.image.metrics import (
    aligned_accuracy,
    classifier_scores,
    code_information,
    predict_proba,
    reference_classifier,
)
from speechdis.image.nets import ConvBody, ConvDecoder, Norm
from speechdis.image.registry import image_spec
from speechdis.image.viz import save_grid, traversal_values

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InfoGANConfig(DatasetConfig):
    steps: int = 1500
    noise_dim: int = 16
    cat_dim: int = 10
    n_cont: int = 2
    loss: LossKind = "bce"
    info_weight: float = 1.0  # λ for the categorical term
    cont_weight: float = 0.1  # extra factor on the continuous (Gaussian NLL) term, as in the paper
    lr_g: float = 1e-3
    lr_d: float = 2e-4
    lr_q: float = 0.0  # learning rate of Q's own layers (0 = lr_d, as in the authors' code; 1e-3 = G's, as in
    #                    several reimplementations)
    dataset: DigitDataset = "digits"  # digits (16x16, all 1797 images) | mnist (28x28 training set, from data_dir)
    hidden: int = 128  # width of the discriminator's fully connected layer (the paper: 1024)
    d_norm: Norm = "layer"  # normalisation in D's conv body (the paper: batch)
    curve_every: int = 0  # log the unsupervised error every this many steps (0 = never)
    q_hidden: int = 0  # hidden units of Q's own layer (0 = Q is one linear layer on D's features)
    g_hidden: int = 0  # G's first fully connected layer before the feature-map projection (0 = none; paper: 1024)
    d_fc_norm: bool = False  # batch norm on D's fully connected layer (the paper: yes)
    # Q's Gaussian for the continuous codes: learned variance | fixed (unit; authors' code)
    cont_std: Literal["learned", "fixed"] = "learned"
    noise: Literal["normal", "uniform"] = "normal"  # of the noise z': uniform is U(-1, 1), the authors' code
    cat_balance: float = 0.0  # weight of the code-balance term: Q's mean code distribution on real batches
    #                           pushed towards uniform (log K - its entropy); no labels involved


class InfoGAN(nn.Module):
    """Generator G(z', c) and discriminator body with two heads: D (real/fake) and Q (codes)."""

    def __init__(self, cfg: InfoGANConfig, channels: int = 1) -> None:
        super().__init__()
        self.codes = LatentCodes(cat_dim=cfg.cat_dim, n_cat=1, n_cont=cfg.n_cont)
        self.noise_dim = cfg.noise_dim
        size = image_size(cfg.dataset)
        self.fixed_std = cfg.cont_std == "fixed"
        self.uniform_noise = cfg.noise == "uniform"
        self.generator = ConvDecoder(cfg.noise_dim + self.codes.dim, channels, size, cfg.width, hidden=cfg.g_hidden)
        self.discriminator = nn.ModuleDict({
            "body": ConvBody(channels, size, cfg.width, cfg.hidden, norm=cfg.d_norm, fc_norm=cfg.d_fc_norm),
            "d_head": nn.Linear(cfg.hidden, 1),
            # Q's own layers: one linear layer (q_hidden = 0) or, as in the paper, FC-BN-LReLU then the output.
            "q_head": nn.Linear(cfg.hidden, self.codes.q_dim) if not cfg.q_hidden else nn.Sequential(
                nn.Linear(cfg.hidden, cfg.q_hidden), nn.BatchNorm1d(cfg.q_hidden), nn.LeakyReLU(0.2),
                nn.Linear(cfg.q_hidden, self.codes.q_dim)),
        })

    def sample_latent(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(noise z', categorical code indices (n, 1), continuous codes (n, n_cont)), drawn on the CPU (from
        `generator`, so a run's latents do not depend on its device) and moved to `device`."""
        z = self.sample_noise(n, generator)
        cat, cont = self.codes.sample(n, generator)
        return z.to(device), cat.to(device), cont.to(device)

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The incompressible noise z' (n, noise_dim)."""
        if self.uniform_noise:
            return torch.rand(n, self.noise_dim, generator=generator) * 2 - 1
        return torch.randn(n, self.noise_dim, generator=generator)

    def generate(self, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """Images from noise `z`, categorical codes `cat` and continuous codes `cont`."""
        return self.generator(torch.cat([z, self.codes.encode(cat, cont)], dim=1))

    def critic(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(D logit (N,), Q output (N, q_dim)) from one pass through the shared body."""
        h = self.discriminator["body"](x)
        return self.discriminator["d_head"](h).squeeze(-1), self.discriminator["q_head"](h)

    def info_loss(self, q: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor, cont_weight: float
                  ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mutual-information loss of Q's output `q` against the codes the images were made from."""
        logits, mean, logvar = self.codes.split_q(q)
        return mutual_info_loss(logits, cat, mean, cont, None if self.fixed_std else logvar, cont_weight=cont_weight)

    def code_balance(self, q_real: torch.Tensor) -> torch.Tensor:
        """log K minus the entropy of Q's mean categorical distribution over a batch of real images: zero when
        the batch spreads evenly over the code values, log K when it all lands on one (merged classes)."""
        p = torch.softmax(self.codes.split_q(q_real)[0], -1).mean(0)  # (n_cat, K)
        return (math.log(self.codes.cat_dim) + (p * torch.log(p + 1e-8)).sum(-1)).mean()


def build(cfg: InfoGANConfig) -> dict[str, nn.Module]:
    """The named modules of this model, built from its config."""
    return {"infogan": InfoGAN(cfg)}


def real_images(cfg: InfoGANConfig, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training images, evaluation images, their labels): digits are all used for both (the model never
    sees a label); MNIST trains on its training set and is judged on its test set."""
    if cfg.dataset == "digits":
        x, y = load_digits_images(16)
        return x, x, y
    d = load_labelled_images(cfg.dataset, cfg.data_dir, seed)
    return d.x_train, d.x_test, d.y_test


def fit(cfg: InfoGANConfig, modules: dict[str, nn.Module], seed: int) -> dict[str, float]:
    """Train the modules in place for the config's steps; returns the final metrics."""
    model: InfoGAN = modules["infogan"]  # type: ignore[assignment]
    gen = torch.Generator().manual_seed(seed + 1)
    # Training never sees a label; the evaluation images and labels only feed the monitoring curve.
    x, x_eval, y_eval = real_images(cfg, seed)
    device = module_device(model)
    stream = batches(x, batch_size=cfg.batch_size, generator=gen, device=device)
    trainer = AlternatingTrainer(
        torch.optim.Adam(model.generator.parameters(), lr=cfg.lr_g, betas=(0.5, 0.999)),
        torch.optim.Adam([{"params": [*model.discriminator["body"].parameters(),
                                      *model.discriminator["d_head"].parameters()]},
                          {"params": model.discriminator["q_head"].parameters(), "lr": cfg.lr_q or cfg.lr_d}],
                         lr=cfg.lr_d, betas=(0.5, 0.999)),
        critic=model.discriminator, n_critic=1,
    )

    def critic_fn(batch: tuple[torch.Tensor]):
        real = batch[0]
        z, cat, cont = model.sample_latent(len(real), gen, device)
        with torch.no_grad():
            fake = model.generate(z, cat, cont)
        d_real, q_real = model.critic(real)
        d_fake, q = model.critic(fake)
        adv = discriminator_loss(cfg.loss, d_real, d_fake)
        info, logs = model.info_loss(q, cat, cont, cfg.cont_weight)
        loss = adv + cfg.info_weight * info
        if cfg.cat_balance > 0:
            balance = model.code_balance(q_real)
            loss = loss + cfg.cat_balance * balance
            logs["code_balance"] = balance.item()
        return loss, {"d": adv.item(), **{f"d_{k}": v for k, v in logs.items()}}

    def generator_fn(batch: tuple[torch.Tensor]):
        z, cat, cont = model.sample_latent(len(batch[0]), gen, device)
        d_fake, q = model.critic(model.generate(z, cat, cont))
        adv = generator_loss(cfg.loss, d_fake)
        info, logs = model.info_loss(q, cat, cont, cfg.cont_weight)
        return adv + cfg.info_weight * info, {"g": adv.item(), **logs}

    curve: dict[str, float] = {}

    def on_step(step: int, progress: float) -> None:
        # The training curve of the unsupervised error (first 2000 evaluation images; monitoring only).
        if cfg.curve_every and step and step % cfg.curve_every == 0:
            err = unsupervised_error(model, x_eval[:2000], y_eval[:2000])
            curve[f"curve_unsupervised_error_step{step}"] = err
            log.info("infogan step %d: unsupervised error %.4f (first 2000 evaluation images)", step, err)
            model.train()

    logs = run_steps(trainer, stream, critic_fn, generator_fn, cfg.steps, on_step=on_step, name="infogan",
                     state=curve)
    return {**logs, **curve}


SELECTION_IMAGES = 10_000  # training images the label-free selection metrics are computed on


@torch.no_grad()
def real_code_probs(model: InfoGAN, images: np.ndarray) -> np.ndarray:
    """Q's distribution over the categorical code's values for each real image (N, K)."""
    model.eval()
    q = apply_batched(lambda x: model.critic(x)[1], images, device=module_device(model))
    return torch.softmax(model.codes.split_q(q)[0][:, 0], -1).numpy()


def unsupervised_error(model: InfoGAN, images: np.ndarray, labels: np.ndarray) -> float:
    """The paper's unsupervised classification error: Q's categorical code read off real images, each code
    value matched one-to-one to a class (Hungarian)."""
    return 1.0 - aligned_accuracy(real_code_probs(model, images).argmax(1), labels)


@torch.no_grad()
def evaluate(cfg: InfoGANConfig, modules: dict[str, nn.Module], seed: int, out_dir: Path) -> dict[str, Any]:
    """Code ↔ class alignment via the reference digit classifier, Q's code recovery, pictures."""
    model: InfoGAN = modules["infogan"]  # type: ignore[assignment]
    model.eval()
    gen = torch.Generator().manual_seed(seed + 99)
    per_code = 100
    cat = torch.arange(cfg.cat_dim).repeat_interleave(per_code).unsqueeze(1)
    z = model.sample_noise(len(cat), gen)
    cont = torch.rand(len(cat), cfg.n_cont, generator=gen) * 2 - 1
    fake = model.generate(z, cat, cont)
    clf, clf_acc = reference_classifier(cfg.dataset, seed=0, data_dir=cfg.data_dir)
    probs = predict_proba(clf, fake)
    pred = probs.argmax(1)
    from sklearn.metrics import normalized_mutual_info_score

    scores = classifier_scores(probs)
    q = apply_batched(lambda x: model.critic(x)[1], fake)
    logits, mean, _ = model.codes.split_q(q)
    q_acc = float((logits[:, 0].argmax(1) == cat[:, 0]).float().mean())
    # R^2 of Q's continuous predictions: how much of each continuous code survives into the image.
    resid = ((mean - cont) ** 2).mean(0) / cont.var(0)
    x_train, x_eval, y_eval = real_images(cfg, seed)
    # Label-free: what Q's code says about real training images (picks among restarts without test labels).
    info = code_information(real_code_probs(model, x_train[:SELECTION_IMAGES]))
    metrics = {
        "code_class_alignment": aligned_accuracy(cat[:, 0].numpy(), pred),
        "code_class_nmi": float(normalized_mutual_info_score(cat[:, 0].numpy(), pred)),
        "sample_coverage": scores["coverage"], "sample_confidence": scores["confidence"],
        "q_cat_accuracy": q_acc, "q_cont_r2": (1 - resid).tolist(),
        "unsupervised_error": unsupervised_error(model, x_eval, y_eval),
        "q_train_code_mi": info["mi"], "q_train_code_balance": info["balance"],
        "sample_class_entropy": scores["class_entropy"],
        "reference_classifier_accuracy": clf_acc, "chance": 1.0 / cfg.cat_dim,
    }
    # Pictures: one row per categorical value, columns traverse one continuous code (z' fixed).
    vals = traversal_values(7, 2.0)
    z0 = model.sample_noise(1, gen).expand(cfg.cat_dim * len(vals), -1)
    rows = torch.arange(cfg.cat_dim).repeat_interleave(len(vals)).unsqueeze(1)
    for j in range(cfg.n_cont):
        c = torch.zeros(len(rows), cfg.n_cont)
        c[:, j] = vals.repeat(cfg.cat_dim)
        save_grid(out_dir / f"traversal_cont{j}.png", model.generate(z0, rows, c), nrow=len(vals))
    order = np.argsort(cat[:, 0].numpy(), kind="stable").reshape(cfg.cat_dim, per_code)[:, :10].ravel()
    save_grid(out_dir / "samples_by_code.png", fake[order], nrow=10)
    return metrics


SPEC = image_spec(
    name="infogan", description="InfoGAN on digits: categorical + continuous codes, Q head shares D's body",
    config_cls=InfoGANConfig, build=build, fit=fit, evaluate=evaluate,
    headline=("code_class_alignment", "unsupervised_error", "sample_coverage", "q_cat_accuracy"), gpu=True,
)
