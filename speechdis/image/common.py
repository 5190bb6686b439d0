"""Plumbing shared by the image models: seeding, batch streams, the step driver, configs, checkpoints."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from speechdis.adversarial import AlternatingTrainer
from speechdis.errors import ConfigError, ModelError
from speechdis.fileio import atomic_open

log = logging.getLogger(__name__)

CHECKPOINT = "model.pt"
METRICS = "metrics.json"


def seed_everything(seed: int) -> None:
    """Seed the global RNGs (weight initialisation, dropout); data sampling uses its own generators."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def as_tensor(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))


def batches(*arrays: np.ndarray | torch.Tensor, batch_size: int, generator: torch.Generator,
            device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless stream of random mini-batches (reshuffled every epoch) over arrays of equal length."""
    tensors = [as_tensor(a) for a in arrays]
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ConfigError("arrays of a batch stream must have the same length")
    if n == 0:
        raise ConfigError("cannot draw batches from an empty data set")
    bs = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=generator)
        for lo in range(0, n - bs + 1, bs):
            idx = perm[lo:lo + bs]
            yield tuple(t[idx].to(device) for t in tensors)


def zip_streams(*streams: Iterator[tuple[torch.Tensor, ...]]) -> Iterator[tuple[tuple[torch.Tensor, ...], ...]]:
    """Combine several batch streams (e.g. labelled + unlabelled, source + target) into one."""
    while True:
        yield tuple(next(s) for s in streams)


def run_steps(
    trainer: AlternatingTrainer,
    stream: Iterator[Any],
    critic_fn: Callable | None,
    generator_fn: Callable,
    steps: int,
    *,
    on_step: Callable[[int, float], None] | None = None,
    log_every: int = 100,
    name: str = "train",
) -> dict[str, float]:
    """Drive ``trainer.step`` for ``steps`` steps; ``on_step(step, progress)`` runs first (schedules).

    Returns the mean of each logged value over the last 10% of the steps (a less noisy summary than the
    final step alone).
    """
    if steps <= 0:
        raise ConfigError(f"steps must be positive, got {steps}")
    tail_from = int(steps * 0.9)
    tail: dict[str, list[float]] = {}
    start = time.time()
    for step in range(steps):
        if on_step is not None:
            on_step(step, step / max(steps - 1, 1))
        logs = trainer.step(stream, critic_fn, generator_fn)
        if step >= tail_from:
            for k, v in logs.items():
                tail.setdefault(k, []).append(float(v))
        if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
            shown = " ".join(f"{k}={v:.3g}" for k, v in sorted(logs.items()))
            log.info("%s step %d/%d (%.1fs) %s", name, step + 1, steps, time.time() - start, shown)
    return {k: float(np.mean(v)) for k, v in tail.items()}


# ------------------------------------------------------------------------------------------------ configs


def apply_overrides(config: Any, overrides: Mapping[str, Any] | None) -> Any:
    """A copy of dataclass ``config`` with fields replaced; string values are parsed by the field's type."""
    if not overrides:
        return config
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ConfigError(f"unknown option {key!r} for {type(config).__name__}; known: {sorted(fields)}")
        current = getattr(config, key)
        if isinstance(value, str) and not isinstance(current, str):
            value = _parse(key, value, current)
        changes[key] = value
    return dataclasses.replace(config, **changes)


def _parse(key: str, text: str, current: Any) -> Any:
    try:
        if isinstance(current, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, tuple):
            return tuple(type(current[0])(t) if current else t for t in text.split(","))
    except ValueError:
        raise ConfigError(f"option {key}: cannot parse {text!r} as {type(current).__name__}") from None
    return text


# ------------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(out_dir: str | os.PathLike, model: str, config: Any, modules: Mapping[str, nn.Module],
                    seed: int, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``model.pt`` (atomically): model name, config, seed and each module's state dict."""
    path = Path(out_dir) / CHECKPOINT
    state = {
        "model": model,
        "config": dataclasses.asdict(config),
        "seed": seed,
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "extra": dict(extra or {}),
    }
    with atomic_open(path, "wb") as f:
        torch.save(state, f)
    return path


def load_checkpoint(model_dir: str | os.PathLike) -> dict:
    """Read ``model.pt`` from a model directory written by ``speechdis image train``."""
    path = Path(model_dir) / CHECKPOINT
    if not path.is_file():
        raise ModelError(f"{path}: no checkpoint (train a model into this directory first)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # corrupt or foreign file: report it as the user's problem, not a crash
        raise ModelError(f"{path}: cannot read checkpoint ({e})") from e


def load_modules(state: Mapping, modules: Mapping[str, nn.Module]) -> None:
    """Load the checkpoint's state dicts into freshly built modules (by name)."""
    missing = set(modules) - set(state["modules"])
    if missing:
        raise ModelError(f"checkpoint lacks modules {sorted(missing)}")
    for k, m in modules.items():
        m.load_state_dict(state["modules"][k])
        m.eval()


def write_metrics(out_dir: str | os.PathLike, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics.json`` atomically (sorted keys, floats rounded for readable diffs)."""
    path = Path(out_dir) / METRICS
    with atomic_open(path, "w") as f:
        json.dump(_round(metrics), f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 5)
    if isinstance(x, (np.floating, np.integer)):
        return _round(x.item())
    if isinstance(x, Mapping):
        return {str(k): _round(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v) for v in x]
    return x


@torch.no_grad()
def apply_batched(fn: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray | torch.Tensor,
                  batch_size: int = 256) -> torch.Tensor:
    """``fn`` over ``x`` in chunks (evaluation without building one huge batch)."""
    t = as_tensor(x)
    return torch.cat([fn(t[i:i + batch_size]) for i in range(0, len(t), batch_size)])
