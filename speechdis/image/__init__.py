"""Image-domain models sharing the speech model's adversarial core (``speechdis.adversarial``).

Models (``speechdis image train MODEL``; see :mod:`speechdis.image.registry`): ``infogan``, ``vaegan``,
``bigan``, ``triplegan``, ``dann``, ``edit`` (latent editing), ``crossdomain``, ``twostage``.
Data: :mod:`speechdis.image.datasets` (digits, shapes with known factors, domain-shifted digits).
Evaluation: :mod:`speechdis.image.metrics` (classifier-based scores, MIG, DCI, FactorVAE score, ...).
"""
from speechdis.image.registry import MODEL_NAMES, evaluate_model, get_spec, make_config, train_model

__all__ = ["MODEL_NAMES", "evaluate_model", "get_spec", "make_config", "train_model"]
