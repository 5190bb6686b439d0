"""The adversarial core shared by speech and image models."""
from speechdis.adversarial.grl import GradientReversal, dann_schedule, grad_reverse, linear_schedule
from speechdis.adversarial.heads import MLP, PairCritic
from speechdis.adversarial.info import LatentCodes, mutual_info_loss
from speechdis.adversarial.losses import (
    LOSS_KINDS,
    binary_classifier_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from speechdis.adversarial.multiclass import multiclass_discriminator_loss, multiclass_generator_loss, realness
from speechdis.adversarial.trainer import AlternatingTrainer, frozen

__all__ = [
    "AlternatingTrainer", "GradientReversal", "LOSS_KINDS", "MLP", "PairCritic", "binary_classifier_loss",
    "dann_schedule", "discriminator_loss", "frozen", "generator_loss", "grad_reverse", "gradient_penalty",
    "linear_schedule",
    # added for the image models: K-class discriminators (VAE-GAN's 3-class D) and InfoGAN's MI terms
    "LatentCodes", "multiclass_discriminator_loss", "multiclass_generator_loss", "mutual_info_loss", "realness",
]
