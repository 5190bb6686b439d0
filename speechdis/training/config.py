"""Training configuration: the config tree of ``speechdis train`` (model, loss, optimiser, data, loop)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from speechdis.errors import ConfigError
from speechdis.speech.models import ModelConfig
from speechdis.speech.objective import LossConfig

__all__ = ["TrainConfig", "OptimConfig", "DataConfig", "LoopConfig", "resolve_device"]


@dataclass
class OptimConfig:
    lr: float = 1e-3
    critic_lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 0.0
    clip_grad: float = 5.0  # 0 disables
    clip_mode: Literal["value", "norm"] = "value"  # reference code clips each gradient to ±5


@dataclass
class DataConfig:
    speakers_per_batch: int = 8
    segments_per_speaker: int = 8
    crop_frames: int = 70
    min_frames: int = 5
    max_frames: int | None = None
    valid_speakers: int = 2  # held out from the training data when no validation dir is given
    max_valid_segments: int = 1000
    preload: bool = False
    num_workers: int = 0


@dataclass
class LoopConfig:
    steps: int = 2000
    log_every: int = 20
    valid_every: int = 250
    ckpt_every: int = 250
    keep_checkpoints: int = 2
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = False  # bf16 autocast on CUDA


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: LoopConfig = field(default_factory=LoopConfig)

    def __post_init__(self) -> None:
        if self.loss.critic_group_size > 1 and 2 * self.loss.critic_group_size > self.data.segments_per_speaker:
            raise ValueError(f"loss.critic_group_size {self.loss.critic_group_size} needs "
                             f"data.segments_per_speaker ≥ {2 * self.loss.critic_group_size} "
                             f"(two disjoint groups of one speaker), not {self.data.segments_per_speaker}")

    @property
    def batch_size(self) -> int:
        return self.data.speakers_per_batch * self.data.segments_per_speaker


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device is {name!r} but CUDA is not available")
    return torch.device(name)
