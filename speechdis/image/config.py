"""What every image model's config shares: :class:`ImageConfig` (training steps, batch size, network width) and
:class:`DatasetConfig` (+ the data set to train on and the directory of its files).

Each model's config dataclass (``InfoGANConfig``, ...) subclasses one of them, redeclaring a field only to give it
its own default (or, for ``dataset``, its own ``Literal`` of data sets; the registry reads a model's data sets
from it). Like every config of the package, choices are ``Literal`` fields, checked by the YAML loader and, for
configs built in code, by :func:`~speechdis.config.check_choices`; every check raises ``ConfigError``.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass

from speechdis.config import check_choices
from speechdis.errors import ConfigError

__all__ = ["ImageConfig", "DatasetConfig", "dataset_choices"]


@dataclass(frozen=True)
class ImageConfig:
    """The fields every image model's config has."""

    steps: int = 1000  # training steps (of the first stage, for models trained in stages)
    batch_size: int = 64
    width: int = 32  # channels of the first convolution (the second has twice as many)

    def __post_init__(self) -> None:
        check_choices(self)
        for key in ("steps", "batch_size", "width"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}': must be ≥ 1, got {getattr(self, key)}")


@dataclass(frozen=True)
class DatasetConfig(ImageConfig):
    """An image config whose model trains on a choice of data sets (a subclass narrows ``dataset`` to a
    ``Literal``, its default first)."""

    dataset: str = "digits"
    data_dir: str = ""  # directory of the data set's files (mnist: the four original idx .gz files)


def dataset_choices(config_cls: type) -> tuple[str, ...]:
    """The data sets a config class offers (its ``dataset`` Literal, default first); () without one."""
    if not (isinstance(config_cls, type) and issubclass(config_cls, DatasetConfig)):
        return ()
    return tuple(typing.get_args(typing.get_type_hints(config_cls)["dataset"]))
