"""Image-domain models sharing the speech model's adversarial core (``speechdis.adversarial``).

Models (``speechdis image train MODEL``; see :mod:`speechdis.image.registry`): ``infogan``, ``vaegan``,
``bigan``, ``triplegan``, ``dann``, ``edit`` (latent editing), ``crossdomain``, ``twostage``.
Data: :mod:`speechdis.image.datasets` (digits, shapes with known factors, domain-shifted digits).
Evaluation: :mod:`speechdis.image.metrics` (classifier-based scores, MIG, DCI, FactorVAE score, ...).
"""
from __future__ import annotations

import os

from speechdis.image.registry import MODEL_NAMES, ImageModel, evaluate_model, get_spec, make_config, train_model

__all__ = ["MODEL_NAMES", "ImageModel", "evaluate_model", "get_spec", "load_model", "make_config", "train_model"]


def load_model(path: str | os.PathLike, device: str = "auto") -> ImageModel:
    """An image model (``speechdis image train``) from its directory or ``model.pt``; a speech model file is a
    ``ModelError`` pointing at :func:`speechdis.load_model`."""
    from speechdis.errors import ModelError
    from speechdis.inference.model import load_model as load_any

    model = load_any(path, device=device)
    if not isinstance(model, ImageModel):
        raise ModelError(f"{path} is a speech model, not an image model; load it with speechdis.load_model")
    return model
