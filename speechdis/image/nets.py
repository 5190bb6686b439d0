"""Small convolutional building blocks for 16x16 (any multiple of 4) images; no torchvision needed.

Two stride-2 convolutions take an S x S image to (S/4) x (S/4) feature maps; the decoder mirrors that with
two transposed convolutions. Widths are small on purpose: everything trains on a shared CPU.
"""
from __future__ import annotations

import typing
from typing import Literal

import torch
from torch import nn

from speechdis.errors import ConfigError

# Normalisation in ConvBody: "batch" for encoders/classifiers, "layer" or "none" for critics.
Norm = Literal["batch", "layer", "none"]


def feature_map_size(size: int) -> int:
    """Side of the feature maps after the two stride-2 convolutions (size / 4); checks the image size."""
    if size < 8 or size % 4:
        raise ConfigError(f"image size must be a multiple of 4 and at least 8, got {size}")
    return size // 4


class ConvBody(nn.Module):
    """Image → feature vector: conv(4, s2) → LReLU → conv(4, s2) [→ norm] → LReLU → Linear [→ BN] → LReLU.

    ``norm``: "batch" for encoders/classifiers, "layer" or "none" for critics (batch statistics would couple
    the samples in a batch, which breaks the per-sample gradient penalty of WGAN-GP).
    """

    def __init__(self, in_ch: int, size: int = 16, width: int = 32, out_dim: int = 128, norm: str = "none",
                 dropout: float = 0.0, fc_norm: bool = False) -> None:
        super().__init__()
        s = feature_map_size(size)
        if norm not in typing.get_args(Norm):
            raise ConfigError(f"norm must be batch, layer or none, not {norm!r}")
        norm_layer: nn.Module = {"batch": lambda: nn.BatchNorm2d(2 * width),
                                 "layer": lambda: nn.GroupNorm(1, 2 * width),
                                 "none": nn.Identity}[norm]()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), norm_layer, nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(2 * width * s * s, out_dim), nn.BatchNorm1d(out_dim) if fc_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
        )
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Vector → image in [0, 1]: [Linear → BN → ReLU →] Linear → (S/4)^2 maps → two transposed convs (BN + ReLU
    between) → sigmoid. ``hidden`` > 0 adds the first fully connected layer (InfoGAN's 1024 units)."""

    def __init__(self, in_dim: int, out_ch: int, size: int = 16, width: int = 32, hidden: int = 0) -> None:
        super().__init__()
        s = feature_map_size(size)
        first: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU()] if hidden else []
        self.net = nn.Sequential(
            *first,
            nn.Linear(hidden or in_dim, 2 * width * s * s), nn.BatchNorm1d(2 * width * s * s), nn.ReLU(),
            nn.Unflatten(1, (2 * width, s, s)),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, out_ch, 4, 2, 1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConvClassifier(nn.Module):
    """A :class:`ConvBody` with a linear head: logits over ``n_classes``."""

    def __init__(self, in_ch: int, n_classes: int, size: int = 16, width: int = 32, hidden: int = 128,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.body = ConvBody(in_ch, size, width, hidden, norm="batch", dropout=dropout)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

