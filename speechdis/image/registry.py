"""The image models by name, and the train / evaluate entry points the CLI and recipe use.

Every model module defines ``SPEC = image_spec(...)`` (a :class:`~speechdis.registry.ModelSpec`, the spec type
both families share, of family ``image``): a config dataclass (an :class:`~speechdis.image.config.ImageConfig`),
``build`` (fresh modules from a config), ``fit`` (train them) and ``evaluate`` (metrics + pictures into a
directory); :data:`IMAGE_MODELS` lists the modules by name.
Training writes ``model.pt`` and ``metrics.json`` into the output directory; evaluation can be re-run from
the checkpoint alone because data sets are regenerated deterministically from the saved seed.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from speechdis.config import apply_overrides, from_dict, read_config_file, to_dict
from speechdis.errors import ConfigError, ModelError
from speechdis.image.common import (
    CHECKPOINT,
    METRICS,
    image_model_name,
    load_modules,
    read_image_model,
    save_image_model,
    seed_everything,
    write_metrics,
)
from speechdis.image.config import DatasetConfig, ImageConfig, dataset_choices
from speechdis.registry import ModelSpec, Registry

log = logging.getLogger(__name__)

Modules = dict[str, nn.Module]


# name -> module under speechdis.image defining its SPEC (imported lazily so `speechdis image list` stays fast)
IMAGE_MODELS = Registry("image", {name: f"speechdis.image.{module}" for name, module in {
    "infogan": "infogan",
    "vaegan": "vaegan",
    "bigan": "bigan",
    "triplegan": "triplegan",
    "dann": "dann",
    "edit": "editing",
    "crossdomain": "crossdomain",
    "twostage": "twostage",
}.items()})
MODEL_NAMES: tuple[str, ...] = IMAGE_MODELS.names()

# <model>_<dataset>.yaml: the config fields that differ from the model's defaults on that data set (the recipe
# links them as recipes/images/conf/); package data, so that an installed speechdis finds them.
PRESETS_DIR = Path(__file__).with_name("presets")


def image_spec(**fields: Any) -> ModelSpec:
    """The :class:`ModelSpec` of an image model (``family="image"``): what each model module's ``SPEC`` is.

    Its config class is an :class:`~speechdis.image.config.ImageConfig`; the data sets it trains on are those of
    the config's ``dataset`` field (a :class:`~speechdis.image.config.DatasetConfig`), the default first."""
    cls = fields["config_cls"]
    if not (isinstance(cls, type) and issubclass(cls, ImageConfig)):
        raise ValueError(f"image model {fields.get('name')}: config class {cls!r} is not an ImageConfig")
    return ModelSpec(family="image", datasets=dataset_choices(cls), **fields)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of model ``name``."""
    return IMAGE_MODELS.get(name)


def preset_file(name: str, dataset: str) -> Path | None:
    """The YAML file of model ``name``'s settings on ``dataset`` (``PRESETS_DIR``), None when the model's
    defaults are its settings there."""
    path = PRESETS_DIR / f"{name}_{dataset}.yaml"
    return path if path.is_file() else None


def make_config(name: str, steps: int | None = None, overrides: Mapping[str, Any] | None = None) -> Any:
    """The model's config on its data set (its defaults, then :func:`preset_file`'s settings when there is one)
    with ``steps`` and ``overrides`` (field=value; string values are parsed as YAML, as ``--set`` values are
    everywhere in the package, and type-checked by :mod:`speechdis.config`)."""
    spec = get_spec(name)
    overrides = dict(overrides or {})
    dataset = str(overrides.get("dataset", spec.datasets[0] if spec.datasets else ""))
    if "dataset" in overrides and dataset not in spec.datasets:
        known = ", ".join(spec.datasets) if spec.datasets else "its own built-in data only"
        raise ConfigError(f"{name}: no dataset {dataset!r}; it trains on {known}")
    preset = preset_file(name, dataset)
    base = read_config_file(preset) if preset is not None else {}
    items = [f"{k}={v}" for k, v in overrides.items() if isinstance(v, str)]
    data = apply_overrides(base, items)
    data.update({k: v for k, v in overrides.items() if not isinstance(v, str)})
    try:
        cfg = from_dict(spec.config_type, data)
    except ConfigError as e:
        raise ConfigError(f"{name}: {e}") from None
    if steps is not None:
        if steps <= 0:
            raise ConfigError(f"--steps must be positive, got {steps}")
        cfg = dataclasses.replace(cfg, steps=steps)
    return cfg


def train_model(name: str, out_dir: str | os.PathLike, steps: int | None = None, seed: int = 0,
                overrides: Mapping[str, Any] | None = None, init_dir: str | os.PathLike | None = None, *,
                resume: bool = False, checkpoint_every: int = 1000, stop_after: int | None = None,
                device: str = "cpu") -> dict[str, Any] | None:
    """Train model ``name`` into ``out_dir`` (checkpoint, pictures, metrics.json); returns the metrics.

    ``init_dir``: a trained model directory whose weights initialise this one (same architecture; the
    ``edit`` model uses it to start from a trained VAE-GAN).

    Training checkpoints (:mod:`speechdis.image.resume`) go to ``out_dir/checkpoints`` every
    ``checkpoint_every`` steps (0: only at each phase's end) and are removed once ``model.pt`` and
    ``metrics.json`` are written. ``resume`` continues an interrupted run from them, exactly as it would
    have gone on, and refuses another model, seed or config; without ``resume`` a directory holding an
    interrupted run is refused. ``stop_after``: end after that many steps without finishing (the checkpoint
    written there lets ``resume`` carry on); returns None then.

    ``device``: where ``fit`` trains (``cpu``, ``cuda``, ``cuda:1``, ``auto``), for the models whose spec says
    ``gpu`` (InfoGAN); the weights are initialised on the CPU (a seed gives the same start on every device)
    and the model is moved back to the CPU for saving and evaluation. A run may resume on another device.
    """
    from speechdis.devices import resolve_device
    from speechdis.fileio import remove_stale_tmp
    from speechdis.image.resume import (
        CHECKPOINT_DIR,
        Checkpointer,
        TrainingStopped,
        checkpoint_files,
        checkpointing,
        resume_differences,
    )
    from speechdis.modelfile import load_checkpoint, model_header

    spec = get_spec(name)
    cfg = make_config(name, steps, overrides)
    if not spec.gpu and device not in ("cpu", "auto"):
        gpu_models = ", ".join(n for n in MODEL_NAMES if get_spec(n).gpu)
        raise ConfigError(f"image model {name} trains on the CPU only (--device {device}); on a GPU: {gpu_models}")
    dev = resolve_device(device if spec.gpu else "cpu", option="--device")
    out = Path(out_dir)
    ckpt_dir = out / CHECKPOINT_DIR
    existing = checkpoint_files(out)
    if existing and not resume:
        raise ModelError(f"{out} holds an interrupted training run ({ckpt_dir}); use --resume to continue it "
                         f"or a new --out")
    if resume:
        if not existing:
            raise ModelError(f"--resume: no checkpoint in {ckpt_dir}")
        diffs = resume_differences(load_checkpoint(existing[0]), name, to_dict(cfg), seed)
        if diffs:
            raise ConfigError(f"--resume: {existing[0]} was trained with another setup ({'; '.join(diffs)}); "
                              f"use the same model, seed and settings, or a new --out")
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(ckpt_dir, "phase*.pt")  # leftovers of writes killed in an earlier run
    remove_stale_tmp(out, CHECKPOINT, METRICS)
    seed_everything(seed)  # weight initialisation: the same seed gives the same model
    modules = spec.build(cfg)
    if init_dir is not None:
        state = read_image_model(init_dir)
        try:
            load_modules(state, modules)
        except (RuntimeError, ModelError) as e:  # shape mismatch etc.: a wrong --init directory
            raise ModelError(f"{init_dir}: cannot initialise {name} from it ({e})") from e
    trained = init_dir is None or spec.fit_when_initialised
    ckpt = Checkpointer(ckpt_dir, {**model_header("image", name, to_dict(cfg)), "seed": seed}, modules,
                        every=checkpoint_every, resume=resume, stop_after=stop_after)
    train_logs: dict[str, float] = {}
    if trained:
        for m in modules.values():
            m.to(dev)
        with checkpointing(ckpt):
            try:
                train_logs = spec.fit(cfg, modules, seed)
            except TrainingStopped as e:
                log.info("%s; resume with --resume", e)
                return None
    train_time = ckpt.elapsed()
    for m in modules.values():
        m.cpu().eval()
    save_image_model(out, name, cfg, modules, seed)
    start = time.time()
    metrics = spec.evaluate(cfg, modules, seed, out)
    metrics = {"model": name, "seed": seed, **_dataset_of(cfg), "steps": cfg.steps if trained else 0,
               "train_seconds": train_time, "train_device": str(dev) if trained else "",
               "eval_seconds": time.time() - start, **metrics, "final_losses": train_logs}
    if init_dir is not None:
        metrics["initialised_from"] = str(init_dir)
    if resume:
        metrics["resumed"] = True
    write_metrics(out, metrics)
    for f in checkpoint_files(out):  # the run is complete: model.pt has what they held
        f.unlink()
    log.info("%s: trained %d steps in %.1fs; metrics in %s", name, metrics["steps"], train_time, out / METRICS)
    return metrics


def _dataset_of(cfg: Any) -> dict[str, str]:
    return {"dataset": cfg.dataset} if isinstance(cfg, DatasetConfig) else {}


@dataclass
class ImageModel:
    """A trained image model read back from its ``model.pt`` (see :func:`load_image_model`)."""

    name: str
    config: Any
    modules: Modules  # in eval mode
    seed: int
    path: Path
    provenance: dict

    @property
    def spec(self) -> ModelSpec:
        """The registry entry of this model."""
        return get_spec(self.name)


def load_image_model(path: str | os.PathLike, state: Mapping | None = None) -> ImageModel:
    """An image model from its directory or ``model.pt`` (``state``: the file's contents when already read)."""
    state = read_image_model(path) if state is None else state
    spec = get_spec(image_model_name(state))
    try:
        cfg = from_dict(spec.config_type, state["config"])
    except ConfigError as e:
        raise ModelError(f"{path}: stored config does not fit {spec.name} ({e})") from e
    modules = spec.build(cfg)
    try:
        load_modules(state, modules)
    except RuntimeError as e:
        raise ModelError(f"{path}: weights do not fit the stored config ({str(e).splitlines()[0]})") from e
    p = Path(path)
    return ImageModel(spec.name, cfg, modules, int(state["seed"]), p if p.is_file() else p / "model.pt",
                      dict(state.get("provenance") or {}))


def evaluate_model(model_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Re-evaluate a trained model directory (pictures + metrics.json into ``out_dir``, default the same)."""
    m = load_image_model(model_dir)
    spec, cfg, modules = m.spec, m.config, m.modules
    out = Path(out_dir) if out_dir is not None else Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    metrics = spec.evaluate(cfg, modules, m.seed, out)
    metrics = {"model": spec.name, "seed": m.seed, **_dataset_of(cfg), "steps": cfg.steps,
               "eval_seconds": time.time() - start, **metrics}
    previous = Path(model_dir) / METRICS
    if previous.is_file():  # keep what only training knew (time, losses, init) when rewriting the file
        try:
            old = json.loads(previous.read_text())
        except (OSError, ValueError):
            old = {}
        for key in ("train_seconds", "final_losses", "initialised_from", "steps"):
            if key in old:
                metrics[key] = old[key]
    write_metrics(out, metrics)
    return metrics
