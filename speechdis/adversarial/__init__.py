"""The adversarial core shared by speech and image models."""
from speechdis.adversarial.grl import GradientReversal, dann_schedule, grad_reverse, linear_schedule
from speechdis.adversarial.heads import MLP, PairCritic
from speechdis.adversarial.losses import (
    LOSS_KINDS,
    binary_classifier_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from speechdis.adversarial.trainer import AlternatingTrainer, frozen

__all__ = [
    "AlternatingTrainer", "GradientReversal", "LOSS_KINDS", "MLP", "PairCritic", "binary_classifier_loss",
    "dann_schedule", "discriminator_loss", "frozen", "generator_loss", "grad_reverse", "gradient_penalty",
    "linear_schedule",
]
