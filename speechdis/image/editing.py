"""Latent editing with an encoder/generator/discriminator trio (here the VAE-GAN's, on the shapes).

- Attribute vectors (Larsen et al., 2016): z_attr = mean code of images with the attribute − mean code of
  images without it; an edit is G(E(x) + α z_attr).
- Photo editing by optimisation (in the spirit of Zhu et al.'s iGAN / Brock et al.'s Neural Photo Editor):
  z* = argmin_z U(G(z)) + λ1 ||z − z0||² − λ2 D(G(z)), started from z0 = E(x), where U measures how far the
  image is from the user's edit (here: paint strokes, a masked target) and D's "realness" keeps the result
  on the image manifold.

Training (the ``edit`` model) is a VAE-GAN's, unless the model is initialised from a trained ``vaegan``
directory (``speechdis image train edit --init DIR``), in which case its weights are used as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
from torch import nn

from speechdis.image import vaegan
from speechdis.image.datasets import SHAPE_FACTOR_SIZES, SHAPE_FACTORS, Shapes, render_shapes
from speechdis.image.metrics import predict_proba, reconstruction_error, reference_classifier
from speechdis.image.registry import image_spec
from speechdis.image.viz import save_grid

# (name, factor, value with the attribute, value without it)
ATTRIBUTES: tuple[tuple[str, str, int, int], ...] = (
    ("large", "scale", 2, 0),
    ("right", "pos_x", 4, 0),
    ("low", "pos_y", 4, 0),
    ("square", "shape", 0, 1),
    ("red", "colour", 0, 2),
)


@dataclass(frozen=True)
class EditConfig(vaegan.VAEGANConfig):
    dataset: Literal["shapes"] = "shapes"  # the attributes are the shapes' known factors
    alphas: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5)
    n_edit: int = 200  # images edited per attribute
    edit_steps: int = 200
    edit_lr: float = 0.05
    lambda_prior: float = 0.01  # λ1: stay near the encoder's code
    lambda_disc: float = 0.05  # λ2: stay realistic according to D (on log D(G(z)))


def attribute_vector(codes: torch.Tensor, has_attribute: np.ndarray, lacks_attribute: np.ndarray) -> torch.Tensor:
    """Mean code with the attribute minus mean code without it."""
    pos, neg = torch.as_tensor(has_attribute), torch.as_tensor(lacks_attribute)
    if pos.sum() == 0 or neg.sum() == 0:
        raise ValueError("need examples both with and without the attribute")
    return codes[pos].mean(0) - codes[neg].mean(0)


def apply_attribute(encode: Callable[[torch.Tensor], torch.Tensor], generate: Callable[[torch.Tensor], torch.Tensor],
                    x: torch.Tensor, vector: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """G(E(x) + alpha * vector)."""
    return generate(encode(x) + alpha * vector)


def edit_by_optimisation(
    generate: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    user_loss: Callable[[torch.Tensor], torch.Tensor],
    realness: Callable[[torch.Tensor], torch.Tensor] | None = None,
    lambda_prior: float = 0.05,
    lambda_disc: float = 0.05,
    steps: int = 150,
    lr: float = 0.05,
) -> tuple[torch.Tensor, dict[str, list[float]]]:
    """z* = argmin U(G(z)) + λ1||z − z0||² − λ2 D(G(z)) from z0 (per sample; Adam on z only).

    ``user_loss`` and ``realness`` take images (N, C, H, W) and return per-sample values (N,). Returns z*
    (detached) and the history of the three terms (batch means).
    """
    z = z0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    hist: dict[str, list[float]] = {"user": [], "prior": [], "realness": []}
    for _ in range(steps):
        img = generate(z)
        u = user_loss(img)
        prior = (z - z0).pow(2).sum(1)
        total = u + lambda_prior * prior
        real = realness(img) if realness is not None else torch.zeros_like(u)
        if realness is not None:
            total = total - lambda_disc * real
        opt.zero_grad(set_to_none=True)
        total.sum().backward()  # per-sample objectives are independent: summing keeps their gradients apart
        opt.step()
        hist["user"].append(u.mean().item())
        hist["prior"].append(prior.mean().item())
        hist["realness"].append(real.mean().item())
    return z.detach(), hist


def build(cfg: EditConfig) -> dict[str, nn.Module]:
    """The named modules of this model, built from its config."""
    return vaegan.build(cfg)


def fit(cfg: EditConfig, modules: dict[str, nn.Module], seed: int) -> dict[str, float]:
    """Train the modules in place for the config's steps; returns the final metrics."""
    return vaegan.fit(cfg, modules, seed)


def _frozen_eval(modules: dict[str, nn.Module]) -> None:
    for m in modules.values():
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)  # editing optimises z only


def evaluate(cfg: EditConfig, modules: dict[str, nn.Module], seed: int, out_dir: Path) -> dict[str, Any]:
    """Attribute-vector edits and optimisation edits, scored by the reference shapes classifier."""
    _frozen_eval(modules)
    enc, dec, disc = modules["encoder"], modules["decoder"], modules["discriminator"]
    train, held = vaegan.shapes_splits(cfg, seed)
    clf, clf_acc = reference_classifier("shapes", seed=0)
    with torch.no_grad():
        codes = vaegan.encode_mean(enc, train.images)
    encode = lambda x: enc(x)[0]  # noqa: E731
    out: dict[str, Any] = {"reference_classifier_accuracy": clf_acc}
    for name, factor, pos, neg in ATTRIBUTES:
        k = SHAPE_FACTORS.index(factor)
        vec = attribute_vector(codes, train.factors[:, k] == pos, train.factors[:, k] == neg)
        idx = np.flatnonzero(held.factors[:, k] == neg)[: cfg.n_edit]
        x = torch.from_numpy(held.images[idx])
        edits = []
        with torch.no_grad():
            for a in cfg.alphas:
                img = apply_attribute(encode, dec, x, vec, a)
                edits.append(img)
                hit = predict_proba(clf, img, head=k).argmax(1) == pos
                out[f"attr_{name}_alpha{a:g}_success"] = float(hit.mean())
            # Did the edit leave the other factors alone? (classifier agreement with the originals' factors)
            others = [j for j in range(len(SHAPE_FACTORS)) if j != k]
            img1 = edits[cfg.alphas.index(1.0)] if 1.0 in cfg.alphas else edits[-1]
            kept = [(predict_proba(clf, img1, head=j).argmax(1) == held.factors[idx, j]).mean() for j in others]
            out[f"attr_{name}_others_kept"] = float(np.mean(kept))
        rows = torch.stack([x[:8], *[e[:8] for e in edits]], 1).flatten(0, 1)
        save_grid(out_dir / f"attribute_{name}.png", rows, nrow=len(cfg.alphas) + 1)
    out.update(_photo_edit(cfg, enc, dec, disc, held, clf, out_dir))
    return out


def _photo_edit(cfg: EditConfig, enc: nn.Module, dec: nn.Module, disc: nn.Module, held: Shapes, clf: nn.Module,
                out_dir: Path) -> dict[str, float]:
    """The user moves the shape to the right edge: strokes paint it at the new place and paint the
    background over the old one (U = squared error to the edited image on the stroked pixels); optimise z."""
    k = SHAPE_FACTORS.index("pos_x")
    idx = np.flatnonzero(held.factors[:, k] <= 1)[:64]
    x = torch.from_numpy(held.images[idx])
    target_factors = held.factors[idx].copy()
    target_factors[:, k] = SHAPE_FACTOR_SIZES[k] - 1
    target, tmask = render_shapes(target_factors)
    strokes = (tmask > 0.05) | (held.masks[idx] > 0.05)  # include the anti-aliased rims
    target, stroke = torch.from_numpy(target), torch.from_numpy(strokes.astype(np.float32)).unsqueeze(1)

    def user_loss(img: torch.Tensor) -> torch.Tensor:
        return ((img - target).pow(2) * stroke).sum((1, 2, 3)) / stroke.sum((1, 2, 3)).clamp_min(1)

    def realness(img: torch.Tensor) -> torch.Tensor:
        # log D(G(z)) rather than the raw logit: bounded above, so the optimiser cannot trade the user's
        # edit for ever larger logits on images D already calls real.
        return torch.nn.functional.logsigmoid(vaegan.realness_score(disc, img))

    with torch.no_grad():
        z0 = enc(x)[0]
        before = dec(z0)
    z_star, hist = edit_by_optimisation(dec, z0, user_loss, realness, cfg.lambda_prior, cfg.lambda_disc,
                                        cfg.edit_steps, cfg.edit_lr)
    with torch.no_grad():
        after = dec(z_star)
        pos_before = predict_proba(clf, before, head=k).argmax(1)
        pos_after = predict_proba(clf, after, head=k).argmax(1)
        out = {
            "photo_edit_user_loss_before": float(user_loss(before).mean()),
            "photo_edit_user_loss_after": float(user_loss(after).mean()),
            "photo_edit_mse_to_target_before": reconstruction_error(target, before),
            "photo_edit_mse_to_target_after": reconstruction_error(target, after),
            "photo_edit_realness_before": float(realness(before).mean()),
            "photo_edit_realness_after": float(realness(after).mean()),
            "photo_edit_z_distance": float((z_star - z0).norm(dim=1).mean()),
            "photo_edit_success": float((pos_after == target_factors[:, k]).mean()),
            "photo_edit_moved_right": float((pos_after > pos_before).mean()),
        }
        painted = x * (1 - stroke) + target * stroke
        save_grid(out_dir / "photo_edit.png", torch.stack([x[:12], painted[:12], before[:12], after[:12]], 0)
                  .flatten(0, 1), nrow=12)
    return out


SPEC = image_spec(
    name="edit", description="Latent editing with the VAE-GAN: attribute vectors and optimisation edits",
    config_cls=EditConfig, build=build, fit=fit, evaluate=evaluate,
    headline=("attr_right_alpha1_success", "attr_large_alpha1_success", "attr_red_alpha1_success",
              "photo_edit_user_loss_before", "photo_edit_user_loss_after", "photo_edit_success",
              "photo_edit_moved_right"),
    fit_when_initialised=False,
)
