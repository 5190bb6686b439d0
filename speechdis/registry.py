"""The model registry shared by both families: one :class:`ModelSpec` per model, kept in a :class:`Registry`.

A spec says what a model *is* (name, family, config class, how to build it, which vectors it makes and which
role each plays, whether it trains against a critic); everything that used to ask "which kind is this?"
asks its spec instead. Each family keeps its own registry: :data:`speechdis.speech.registry.SPEECH_MODELS`
(``model.kind`` of ``speechdis train``) and :data:`speechdis.image.registry.IMAGE_MODELS` (``speechdis image
train MODEL``).

Core layer and torch-free: a spec may name its build function and config class as ``"module:attr"``
(:class:`Ref`, imported on first use), so reading which vectors a model makes (search, evaluation of archives)
never imports torch. An image model module defines ``SPEC`` and is imported when its name is first looked up
(``lazy``), so listing the models stays fast.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from speechdis.errors import ConfigError

__all__ = ["ModelSpec", "Ref", "Registry", "ROLES"]

# The roles a vector can play: "phonetic" is searched and compared for words, "speaker" verifies speakers.
ROLES = ("phonetic", "speaker")


class Ref:
    """A function or class named ``"package.module:attr"``, imported on first use (calling it calls the target)."""

    def __init__(self, target: str) -> None:
        module, _, attr = target.partition(":")
        if not module or not attr:
            raise ValueError(f"Ref target must be 'module:attr', got {target!r}")
        self.target = target
        self._module, self._attr = module, attr

    def resolve(self) -> Any:
        """The object named (imports its module)."""
        return getattr(importlib.import_module(self._module), self._attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Ref({self.target!r})"


def _resolved(x: Any) -> Any:
    return x.resolve() if isinstance(x, Ref) else x


@dataclass(frozen=True)
class ModelSpec:
    """What one model is, for every part of the package that handles it (see the module doc)."""

    name: str
    family: Literal["speech", "image"]
    description: str
    config_cls: type | Ref  # the config dataclass: image models' own, ``ModelConfig`` for speech models
    build: Callable[[Any], Any]  # config -> the module (speech) or {name: module} (image), freshly initialised
    # Vectors the model embeds into: name -> the config field holding its dimension (in the order returned).
    vectors: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Which vector plays each role (ROLES); one vector may play both (the baseline autoencoder's embedding).
    roles: Mapping[str, str] = dataclasses.field(default_factory=dict)
    critic: bool = False  # trains against an adversarial critic (the speaker pair classifier on its phonetic vector)
    # Image models: how they train and are evaluated (speechdis.image.registry).
    fit: Callable[[Any, Any, int], dict[str, float]] | None = None  # (config, modules, seed) -> training logs
    evaluate: Callable[[Any, Any, int, Any], dict[str, Any]] | None = None  # (config, modules, seed, out_dir)
    headline: tuple[str, ...] = ()  # metric keys for the combined table
    fit_when_initialised: bool = True  # False: weights from --init are used as they are (no training)
    gpu: bool = False  # image models: ``fit`` trains on the modules' device (``speechdis image train --device``)
    # Data sets the model trains on (the config's ``dataset`` field; the first is the default). The config
    # defaults that differ on another data set are YAML files (speechdis.image.registry.preset_file).
    datasets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in ("speech", "image"):
            raise ValueError(f"model {self.name}: family must be 'speech' or 'image', not {self.family!r}")
        bad = {r: v for r, v in self.roles.items() if r not in ROLES or v not in self.vectors}
        if bad:
            raise ValueError(f"model {self.name}: roles {bad} must map {'/'.join(ROLES)} to one of its vectors "
                             f"({', '.join(self.vectors) or 'none'})")

    @property
    def config_type(self) -> type:
        """The config class (imported if the spec names it as a :class:`Ref`)."""
        return _resolved(self.config_cls)

    @property
    def disentangled(self) -> bool:
        """Whether the phonetic and speaker roles are played by different vectors (heads and critics on each)."""
        return bool(self.roles) and self.roles.get("phonetic") != self.roles.get("speaker")

    def dims(self, config: Any) -> dict[str, int]:
        """``{vector: dimension}`` for a model built from ``config``."""
        return {v: int(getattr(config, field)) for v, field in self.vectors.items()}


class Registry:
    """The models of one family by name: registered specs, and modules that define ``SPEC`` (``lazy``)."""

    def __init__(self, family: str, lazy: Mapping[str, str] | None = None) -> None:
        self.family = family
        self._specs: dict[str, ModelSpec] = {}
        self._lazy = dict(lazy or {})  # name -> module whose SPEC is that model's, imported on first get()

    def register(self, spec: ModelSpec) -> ModelSpec:
        """Add ``spec`` (a name may be registered once); returns it."""
        if spec.family != self.family:
            raise ValueError(f"model {spec.name} is a {spec.family} model, not {self.family}")
        if spec.name in self._specs or spec.name in self._lazy:
            raise ValueError(f"{self.family} model {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order (lazy ones after)."""
        return (*self._specs, *(n for n in self._lazy if n not in self._specs))

    def __contains__(self, name: object) -> bool:
        return name in self._specs or name in self._lazy

    def get(self, name: str, what: str | None = None) -> ModelSpec:
        """The spec of ``name``; an unknown name is a :class:`ConfigError` listing the known ones (``what``:
        how the message names the setting, default ``"<family> model"``)."""
        if name not in self:
            raise ConfigError(f"unknown {what or self.family + ' model'} {name!r}; expected one of "
                              f"{', '.join(self.names())}")
        if name not in self._specs:
            spec = importlib.import_module(self._lazy[name]).SPEC
            if spec.name != name or spec.family != self.family:
                raise ValueError(f"{self._lazy[name]}.SPEC is {spec.family} model {spec.name!r}, not {name!r}")
            self._specs[name] = spec
        return self._specs[name]

    def specs(self) -> Iterable[ModelSpec]:
        """Every spec, in :meth:`names` order (imports the lazy ones)."""
        return (self.get(n) for n in self.names())

    def roles_for(self, keys: Sequence[str], roles: Sequence[str] = ROLES) -> dict[str, str] | None:
        """Which of ``keys`` (the vector names of an archive or an embedder) plays each of ``roles``.

        The first registered model whose vectors for those roles are all among ``keys`` decides (an archive
        of a disentangled model holds ``phonetic`` and ``speaker``, one of the baseline ``embedding``); a
        single vector plays every role. None when neither tells.
        """
        keys = list(keys)
        for spec in self.specs():
            if all(r in spec.roles for r in roles) and all(spec.roles[r] in keys for r in roles):
                return {r: spec.roles[r] for r in roles}
        if len(keys) == 1:
            return {r: keys[0] for r in roles}
        return None
