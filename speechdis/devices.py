"""Which torch device a run uses: one rule for speech training, extraction and image training."""
from __future__ import annotations

import torch

from speechdis.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(name: str, local_rank: int = 0, option: str = "train.device") -> torch.device:
    """The torch device for `name` (`auto`: this rank's GPU when CUDA is available, else CPU); `option` names
    the setting in the error raised when CUDA is asked for but absent."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{option} is {name!r} but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"{option} is {name!r}: not a torch device ({e})") from None
