"""Plumbing shared by the image models: seeding, batch streams, the step driver, configs, checkpoints."""
from __future__ import annotations

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
    """A tensor view of `a` (no copy for contiguous arrays, tensors pass through)."""
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))


class BatchStream:
    """Endless stream of random mini-batches (reshuffled every epoch) over arrays of equal length.

    Its position (the epoch's permutation, the next index) and its generator's state are its
    :meth:`state_dict`, so a resumed run draws exactly the batches the uninterrupted one would have.
    """

    def __init__(self, *arrays: np.ndarray | torch.Tensor, batch_size: int, generator: torch.Generator,
                 device: torch.device | str = "cpu") -> None:
        self.tensors = [as_tensor(a) for a in arrays]
        self.n = len(self.tensors[0])
        if any(len(t) != self.n for t in self.tensors):
            raise ConfigError("arrays of a batch stream must have the same length")
        if self.n == 0:
            raise ConfigError("cannot draw batches from an empty data set")
        self.batch_size = min(batch_size, self.n)
        self.generator = generator
        self.device = device
        self.perm: torch.Tensor | None = None  # drawn at the first batch of each epoch
        self.pos = 0

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> tuple[torch.Tensor, ...]:
        if self.perm is None or self.pos + self.batch_size > self.n:  # the incomplete last batch is dropped
            self.perm = torch.randperm(self.n, generator=self.generator)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return tuple(t[idx].to(self.device) for t in self.tensors)

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm, "pos": self.pos, "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.perm, self.pos = state["perm"], int(state["pos"])
        self.generator.set_state(state["generator"])


class ZipStream:
    """Several batch streams (e.g. labelled + unlabelled, source + target) drawn together: one tuple each."""

    def __init__(self, *streams: BatchStream) -> None:
        self.streams = streams

    def __iter__(self) -> "ZipStream":
        return self

    def __next__(self) -> tuple[tuple[torch.Tensor, ...], ...]:
        return tuple(next(s) for s in self.streams)

    def state_dict(self) -> dict[str, Any]:
        return {"streams": [s.state_dict() for s in self.streams]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        # Streams sharing a generator restore the same saved state in turn (it was saved at one moment).
        for s, st in zip(self.streams, state["streams"]):
            s.load_state_dict(st)


batches = BatchStream
zip_streams = ZipStream


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
    state: dict[str, Any] | None = None,
    checkpoint: bool = True,
) -> dict[str, float]:
    """Drive ``trainer.step`` for ``steps`` steps; ``on_step(step, progress)`` runs first (schedules).

    Returns the mean of each logged value over the last 10% of the steps (a less noisy summary than the
    final step alone).

    Inside :func:`speechdis.image.resume.checkpointing` (``speechdis image train``) each call is one phase of
    the run, checkpointed every N steps and at its end, and resumed from its checkpoint: modules, the
    trainer's optimisers, ``stream`` (a :class:`BatchStream` / :class:`ZipStream`, with its generator), the
    global random states and ``state`` (a dict of plain values the caller keeps across steps, e.g. a metric
    curve; restored in place). Training randomness must come from those (or be a pure function of the step)
    for a resumed run to equal an uninterrupted one. ``checkpoint=False``: a helper's training run (e.g. a
    reference classifier) that is not part of the model's.
    """
    from speechdis.image.resume import current_checkpointer

    if steps <= 0:
        raise ConfigError(f"steps must be positive, got {steps}")
    tail_from = int(steps * 0.9)
    tail: dict[str, list[float]] = {}
    ckpt = current_checkpointer() if checkpoint else None
    phase = ckpt.begin_phase(name) if ckpt is not None else ""
    first = 0
    if ckpt is not None:
        resumed = ckpt.restore(phase, trainer, stream, state)
        if resumed is not None:
            if resumed.done:
                log.info("%s: finished before (checkpoint %s)", name, phase)
                return resumed.result
            first, tail = resumed.step, resumed.tail
            log.info("%s: resumed at step %d/%d", name, first, steps)
    start = time.time()
    for step in range(first, steps):
        if on_step is not None:
            on_step(step, step / max(steps - 1, 1))
        logs = trainer.step(stream, critic_fn, generator_fn)
        if step >= tail_from:
            for k, v in logs.items():
                tail.setdefault(k, []).append(float(v))
        if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
            shown = " ".join(f"{k}={v:.3g}" for k, v in sorted(logs.items()))
            log.info("%s step %d/%d (%.1fs) %s", name, step + 1, steps, time.time() - start, shown)
        if ckpt is not None and step + 1 < steps:
            ckpt.after_step(phase, step + 1, trainer, stream, state, tail)
    result = {k: float(np.mean(v)) for k, v in tail.items()}
    if ckpt is not None:
        ckpt.finish_phase(phase, steps, trainer, stream, state, tail, result)
    return result


# ------------------------------------------------------------------------------------------- checkpoints


def save_image_model(out_dir: str | os.PathLike, model: str, config: Any, modules: Mapping[str, nn.Module],
                     seed: int, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``model.pt`` (atomically, with the package's self-describing header): the model name as ``kind``,
    config, seed and each module's state dict."""
    from speechdis.config import to_dict
    from speechdis.modelfile import model_header, save_checkpoint

    path = Path(out_dir) / CHECKPOINT
    save_checkpoint(path, {**model_header("image", model, to_dict(config)), "seed": seed,
                           "modules": {k: m.state_dict() for k, m in modules.items()}, "extra": dict(extra or {})})
    return path


def read_image_model(model_dir: str | os.PathLike) -> dict:
    """The contents of an image model's ``model.pt`` (a model directory or the file), loaded weights-only."""
    from speechdis.modelfile import load_checkpoint, model_family

    path = Path(model_dir)
    path = path / CHECKPOINT if path.is_dir() else path
    if not path.is_file():
        raise ModelError(f"{path}: no checkpoint (train a model into this directory first)")
    state = load_checkpoint(path)
    if not isinstance(state, dict) or model_family(state) != "image":
        raise ModelError(f"{path} is not an image model of speechdis")
    return state


def image_model_name(state: Mapping) -> str:
    """The model name of a loaded image ``model.pt`` (``kind``; ``model`` in files of format 1)."""
    return str(state["kind"] if "kind" in state else state["model"])


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
                  batch_size: int = 256, device: torch.device | str = "cpu") -> torch.Tensor:
    """``fn`` over ``x`` in chunks (evaluation without building one huge batch), each chunk moved to
    ``device`` (the model's) and the result gathered on the CPU."""
    t = as_tensor(x)
    return torch.cat([fn(t[i:i + batch_size].to(device)).cpu() for i in range(0, len(t), batch_size)])


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's parameters (where ``fit`` runs when the model was moved there)."""
    return next(module.parameters()).device


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Every image translated by its own random whole-pixel offset in [-max_shift, max_shift] (zero fill)."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    s = max_shift
    padded = torch.nn.functional.pad(x, (s, s, s, s))
    dy = torch.randint(0, 2 * s + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * s + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None])[:, None, :, None].expand(n, x.shape[1], h, w + 2 * s)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None])[:, None, None, :].expand(n, x.shape[1], h, w)
    return out.gather(3, cols)


class EMA:
    """An exponential moving average of a module's weights (a "mean teacher"); buffers are copied."""

    def __init__(self, source: nn.Module, target: nn.Module, decay: float) -> None:
        if not 0 <= decay < 1:
            raise ConfigError(f"EMA decay must be in [0, 1), got {decay}")
        self.source, self.target, self.decay = source, target, decay
        target.load_state_dict(source.state_dict())
        target.requires_grad_(False)

    @torch.no_grad()
    def update(self) -> None:
        """Move the target's parameters towards the source's by (1 - decay); copy its buffers."""
        for pt, ps in zip(self.target.parameters(), self.source.parameters()):
            pt.lerp_(ps, 1.0 - self.decay)
        for bt, bs in zip(self.target.buffers(), self.source.buffers()):
            bt.copy_(bs)
