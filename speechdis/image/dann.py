"""DANN (Ganin & Lempitsky, 2015): unsupervised domain adaptation with a gradient reversal layer.

Source domain: the plain grey digits (labelled). Target domain (default): the same kind of digits drawn
in colour on coloured backgrounds (unlabelled during training; disjoint digit instances). The MNIST-M-like
``textured`` target is available too, but at this scale (800 source images, 16x16, a few hundred steps)
neither source-only nor DANN gets beyond chance on it. A feature
extractor F feeds a label predictor (trained on source labels) and, through the core's GradientReversal
with the ``dann_schedule`` ramp, a domain classifier; the reversed gradient makes F's features
domain-invariant in one joint update (``n_critic=0``). Source-only training is the same network and loop
with the domain loss switched off; both are trained and compared on the target domain.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechdis.adversarial import MLP, AlternatingTrainer, GradientReversal, binary_classifier_loss, dann_schedule
from speechdis.image.common import apply_batched, batches, run_steps, zip_streams
from speechdis.image.config import DatasetConfig
from speechdis.image.datasets import (
    DigitDataset,
    Domain,
    image_size,
    load_digits_images,
    load_labelled_images,
    shift_domain,
    split_indices,
)
from speechdis.image.metrics import linear_probe
from speechdis.image.nets import ConvBody, Norm
from speechdis.image.registry import image_spec
from speechdis.image.viz import save_grid


@dataclass(frozen=True)
class DANNConfig(DatasetConfig):
    steps: int = 800
    source: Domain = "plain"
    target: Domain = "coloured"
    feature_dim: int = 64
    # Per-sample normalisation: batch norm would adapt by itself (target batches shift its statistics, i.e.
    # AdaBN), which would blur what the gradient reversal contributes.
    norm: Norm = "layer"
    domain_weight: float = 1.0
    # GRL coefficient at the end of the dann_schedule ramp: 0.3 helped on every seed tried; 1.0 erased the
    # gain (the features lose class information faster than the domains align on this little data).
    max_coeff: float = 0.3
    lr: float = 1e-2  # annealed as lr / (1 + 10 p)^0.75 (the paper's schedule)
    texture_range: float = 1.0  # textured domain: texture values in [0, texture_range]
    dataset: DigitDataset = "digits"  # digits (16x16) | mnist (28x28, from data_dir)


class DANN(nn.Module):
    """Feature extractor, label predictor and (behind the GRL) domain classifier."""

    def __init__(self, cfg: DANNConfig, n_classes: int = 10) -> None:
        super().__init__()
        self.features = ConvBody(3, image_size(cfg.dataset), cfg.width, cfg.feature_dim, norm=cfg.norm)
        self.label_predictor = MLP(cfg.feature_dim, (64,), n_classes, activation="relu")
        self.grl = GradientReversal(0.0)
        self.domain_classifier = MLP(cfg.feature_dim, (64,), 1, activation="relu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits, domain logits) for a batch."""
        h = self.features(x)
        return self.label_predictor(h), self.domain_classifier(self.grl(h)).squeeze(-1)


def build(cfg: DANNConfig) -> dict[str, nn.Module]:
    """The named modules of this model, built from its config."""
    return {"dann": DANN(cfg), "source_only": DANN(cfg)}


def domain_splits(cfg: DANNConfig, seed: int) -> dict[str, np.ndarray]:
    """Disjoint digit instances in the two domains, labelled source and unlabelled target, and test images
    drawn in both. Digits: 45% source, 35% target, 20% test; MNIST: the training set halved at random
    into source and target, the test set for testing."""
    def render(images: np.ndarray, domain: str, s: int) -> np.ndarray:
        return shift_domain(images, domain, seed=s, texture_range=cfg.texture_range)[0]

    if cfg.dataset == "digits":
        gray, y = load_digits_images(16)
        src, tgt, test = split_indices(len(gray), (0.45, 0.35, 0.2), seed=seed)
        xs, xt = render(gray, cfg.source, seed), render(gray, cfg.target, seed + 1)
        return {"x_src": xs[src], "y_src": y[src], "x_tgt": xt[tgt], "y_tgt_hidden": y[tgt],
                "x_test_src": xs[test], "x_test_tgt": xt[test], "y_test": y[test]}
    d = load_labelled_images(cfg.dataset, cfg.data_dir, seed)
    src, tgt = split_indices(len(d.x_train), (0.5, 0.5), seed=seed)
    return {"x_src": render(d.x_train[src], cfg.source, seed), "y_src": d.y_train[src],
            "x_tgt": render(d.x_train[tgt], cfg.target, seed + 1), "y_tgt_hidden": d.y_train[tgt],
            "x_test_src": render(d.x_test, cfg.source, seed + 2),
            "x_test_tgt": render(d.x_test, cfg.target, seed + 3), "y_test": d.y_test}


def make_loss_fn(model: DANN, domain_weight: float):
    """Joint loss on batches ((x_s, y_s), (x_t,)): source CE + domain_weight * domain BCE (through the GRL)."""

    def loss_fn(batch):
        (xs, ys), (xt,) = batch
        if domain_weight <= 0:
            # Source-only never sees target images (with norm="batch" even their statistics would adapt it).
            cls = F.cross_entropy(model(xs)[0], ys)
            return cls, {"cls": cls.item()}
        logits, dom = model(torch.cat([xs, xt]))
        cls = F.cross_entropy(logits[: len(xs)], ys)
        logs = {"cls": cls.item()}
        target = torch.cat([torch.ones(len(xs)), torch.zeros(len(xt))])
        dl = binary_classifier_loss("bce", dom, target)
        logs.update(dom=dl.item(), grl=model.grl.coeff)
        return cls + domain_weight * dl, logs

    return loss_fn


def train_one(cfg: DANNConfig, model: DANN, data: dict[str, np.ndarray], domain_weight: float, seed: int,
              name: str) -> dict[str, float]:
    """One run of the joint loop; ``domain_weight = 0`` is source-only training."""
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    trainer = AlternatingTrainer(opt, n_critic=0)  # the GRL does the min-max inside one backward pass
    stream = zip_streams(batches(data["x_src"], data["y_src"], batch_size=cfg.batch_size, generator=gen),
                         batches(data["x_tgt"], batch_size=cfg.batch_size, generator=gen))

    def on_step(step: int, progress: float) -> None:
        model.grl.coeff = dann_schedule(progress, max_coeff=cfg.max_coeff)
        for g in opt.param_groups:
            g["lr"] = cfg.lr / (1 + 10 * progress) ** 0.75

    model.train()
    return run_steps(trainer, stream, None, make_loss_fn(model, domain_weight), cfg.steps, on_step=on_step,
                     name=name)


def fit(cfg: DANNConfig, modules: dict[str, nn.Module], seed: int) -> dict[str, float]:
    """Train the modules in place for the config's steps; returns the final metrics."""
    data = domain_splits(cfg, seed)
    torch.manual_seed(seed)
    logs = {f"dann_{k}": v for k, v in train_one(cfg, modules["dann"], data, cfg.domain_weight, seed,
                                                  "dann").items()}
    logs.update({f"source_only_{k}": v for k, v in train_one(cfg, modules["source_only"], data, 0.0, seed,
                                                             "source-only").items()})
    return logs


@torch.no_grad()
def evaluate(cfg: DANNConfig, modules: dict[str, nn.Module], seed: int, out_dir: Path) -> dict[str, Any]:
    """Target and source test accuracy of DANN vs source-only; how separable the domains are in F's features."""
    data = domain_splits(cfg, seed)
    out: dict[str, Any] = {"source": cfg.source, "target": cfg.target}
    for key in ("dann", "source_only"):
        model: DANN = modules[key]  # type: ignore[assignment]
        model.eval()
        for dom in ("src", "tgt"):
            logits = apply_batched(lambda x, m=model: m(x)[0], data[f"x_test_{dom}"])
            out[f"{key}_{'source' if dom == 'src' else 'target'}_accuracy"] = float(
                (logits.argmax(1).numpy() == data["y_test"]).mean())
        # Domain probe on features (held-out split of the test images): ~0.5 means the features no longer
        # tell the domains apart, 1.0 means fully separable.
        hs = apply_batched(model.features, data["x_test_src"]).numpy()
        ht = apply_batched(model.features, data["x_test_tgt"]).numpy()
        h, d = np.concatenate([hs, ht]), np.r_[np.ones(len(hs)), np.zeros(len(ht))].astype(int)
        perm = np.random.default_rng(seed).permutation(len(h))
        half = len(h) // 2
        out[f"{key}_domain_probe_accuracy"] = linear_probe(h[perm[:half]], d[perm[:half]], h[perm[half:]],
                                                           d[perm[half:]], seed=seed)
    out["target_gain"] = out["dann_target_accuracy"] - out["source_only_target_accuracy"]
    save_grid(out_dir / "domains.png", np.concatenate([data["x_test_src"][:16], data["x_test_tgt"][:16]]), nrow=16)
    return out


SPEC = image_spec(
    name="dann", description="DANN: plain → coloured digits with a gradient reversal layer, vs source-only",
    config_cls=DANNConfig, build=build, fit=fit, evaluate=evaluate,
    headline=("dann_target_accuracy", "source_only_target_accuracy", "dann_source_accuracy",
              "dann_domain_probe_accuracy", "source_only_domain_probe_accuracy"),
)
