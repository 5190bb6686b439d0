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
    ``ModelError`` pointing at :func:`speechdis.load_model`.

    Reads the file itself (not through :mod:`speechdis.inference`, a higher layer). The modules are built on
    the CPU, as before (``device`` is accepted for symmetry with :func:`speechdis.load_model`)."""
    from pathlib import Path

    from speechdis.errors import ModelError
    from speechdis.image.common import CHECKPOINT
    from speechdis.image.registry import load_image_model
    from speechdis.modelfile import load_checkpoint, model_family

    p = Path(path)
    file = p / CHECKPOINT if p.is_dir() else p
    if not file.is_file():
        raise ModelError(f"{file}: no model file (train a model into this directory first)")
    state = load_checkpoint(file, "cpu")
    if model_family(state) != "image":
        raise ModelError(f"{path} is a speech model, not an image model; load it with speechdis.load_model")
    return load_image_model(file, state)
