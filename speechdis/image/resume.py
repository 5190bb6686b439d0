"""Resumable image training: checkpoints of a run's phases, written with the speech trainer's checkpoint I/O.

A model's ``fit`` trains in one or more phases, each one :func:`speechdis.image.common.run_steps` call (most
models have one; Triple-GAN trains its baseline, two-stage its mapping, in a second). While a
:class:`Checkpointer` is active (:func:`checkpointing`, set up by ``speechdis image train``), every phase
writes ``checkpoints/phase<k>-<name>.pt`` every ``every`` steps and when it ends, atomically (a write killed
half-way leaves the previous file intact). A checkpoint holds every module's weights, the phase's optimiser
states, the batch stream's position and generator, the global random states, the caller's state dict (e.g.
the metric curve so far), the logs kept for the phase's summary and the training seconds so far.

On resume, ``fit`` runs again from the top: a finished phase loads its final checkpoint instead of training
(everything, not just weights, so whatever ``fit`` computes between phases comes out the same), and the
phase in progress continues from its latest checkpoint. The resumed run therefore equals the uninterrupted
one bit for bit on the same machine and library versions.
"""
from __future__ import annotations

import contextvars
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from torch import nn

from speechdis.errors import ConfigError, ModelError
from speechdis.modelfile import load_checkpoint, rng_state, save_checkpoint, set_rng_state

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
_ACTIVE: contextvars.ContextVar["Checkpointer | None"] = contextvars.ContextVar("image_checkpointer", default=None)


class TrainingStopped(Exception):
    """Raised inside ``fit`` when the run's ``stop_after`` steps are done (its checkpoint is written)."""


@dataclass
class Resumed:
    """What a phase's checkpoint gave back: where to continue, or (``done``) the phase's returned logs."""

    step: int
    done: bool
    tail: dict[str, list[float]]
    result: dict[str, float]


@dataclass
class Checkpointer:
    """Checkpoints of one training run in ``directory`` (see the module doc).

    ``header``: the model file header (:func:`speechdis.modelfile.model_header`) plus the seed, so
    a checkpoint is self-describing. ``stop_after``: end the run (:class:`TrainingStopped`) after that many
    steps in this process, counted over all phases (tests, time-sliced jobs).
    """

    directory: Path
    header: dict[str, Any]
    modules: Mapping[str, nn.Module]
    every: int = 1000
    resume: bool = False
    stop_after: int | None = None
    _phase: int = 0
    _steps_run: int = 0
    _seconds_before: float = 0.0
    _clock: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ConfigError(f"checkpoint interval must be >= 0 steps (0: only at the end), got {self.every}")
        if self.stop_after is not None and self.stop_after <= 0:
            raise ConfigError(f"stop_after must be positive, got {self.stop_after}")

    def begin_phase(self, name: str) -> str:
        """The next phase's key (``phase<k>-<name>``: the k-th run_steps call of this fit)."""
        key = f"phase{self._phase}-{name}"
        self._phase += 1
        return key

    def path(self, phase: str) -> Path:
        """Checkpoint file of a training phase."""
        return self.directory / f"{phase}.pt"

    def elapsed(self) -> float:
        """Training seconds of the whole run: those before the checkpoint resumed from, plus this process's."""
        return self._seconds_before + time.time() - self._clock

    def restore(self, phase: str, trainer, stream, state: dict | None) -> Resumed | None:
        """Load the phase's checkpoint into the run when resuming and there is one (else None)."""
        path = self.path(phase)
        if not self.resume or not path.is_file():
            return None
        ck = load_checkpoint(path)
        try:
            for name, m in self.modules.items():
                m.load_state_dict(ck["modules"][name])
            trainer.load_state_dict(ck["trainer"])
            stream.load_state_dict(ck["stream"])
            if state is not None:
                state.clear()
                state.update(ck["state"])
            set_rng_state(ck["rng"])
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"--resume: {path} does not fit this run ({first}); start a new --out instead") from e
        self._seconds_before, self._clock = float(ck["train_seconds"]), time.time()
        return Resumed(int(ck["step"]), bool(ck["done"]), {k: list(v) for k, v in ck["tail"].items()},
                       dict(ck["result"]))

    def after_step(self, phase: str, step: int, trainer, stream, state: dict | None,
                   tail: Mapping[str, list[float]]) -> None:
        """After ``step`` steps of an unfinished phase: checkpoint when due; stop when ``stop_after`` is reached."""
        self._steps_run += 1
        stopping = self.stop_after is not None and self._steps_run >= self.stop_after
        if stopping or (self.every and step % self.every == 0):
            self._save(phase, step, False, trainer, stream, state, tail, {})
        if stopping:
            raise TrainingStopped(f"{phase}: stopped after step {step} (stop_after={self.stop_after})")

    def finish_phase(self, phase: str, steps: int, trainer, stream, state: dict | None,
                     tail: Mapping[str, list[float]], result: Mapping[str, float]) -> None:
        """The phase's final checkpoint (a resumed run skips the phase with it)."""
        self._steps_run += 1
        self._save(phase, steps, True, trainer, stream, state, tail, result)
        if self.stop_after is not None and self._steps_run >= self.stop_after:
            raise TrainingStopped(f"{phase}: stopped at its end (stop_after={self.stop_after})")

    def _save(self, phase: str, step: int, done: bool, trainer, stream, state: dict | None,
              tail: Mapping[str, list[float]], result: Mapping[str, float]) -> None:
        if not hasattr(stream, "state_dict"):
            raise ConfigError(f"{phase}: its batch stream cannot be checkpointed (use common.BatchStream)")
        payload = {**self.header, "phase": phase, "step": step, "done": done,
                   "modules": {k: m.state_dict() for k, m in self.modules.items()},
                   "trainer": trainer.state_dict(), "stream": stream.state_dict(), "state": dict(state or {}),
                   "rng": rng_state(), "tail": {k: list(v) for k, v in tail.items()}, "result": dict(result),
                   "train_seconds": self.elapsed()}
        save_checkpoint(self.path(phase), payload)
        log.info("checkpoint %s at step %d", self.path(phase), step)


def current_checkpointer() -> Checkpointer | None:
    """The active :class:`Checkpointer` (None outside :func:`checkpointing`)."""
    return _ACTIVE.get()


@contextmanager
def checkpointing(ckpt: Checkpointer) -> Iterator[Checkpointer]:
    """Make ``ckpt`` the checkpointer of the run_steps calls inside the block."""
    token = _ACTIVE.set(ckpt)
    try:
        yield ckpt
    finally:
        _ACTIVE.reset(token)


def checkpoint_files(out_dir: str | Path) -> list[Path]:
    """The phase checkpoints of a run directory (empty when it has none)."""
    return sorted((Path(out_dir) / CHECKPOINT_DIR).glob("phase*.pt"))


def resume_differences(state: Mapping[str, Any], name: str, config: Mapping[str, Any], seed: int) -> list[str]:
    """How this run (model ``name``, ``config`` as a dict, ``seed``) differs from a checkpoint's (``key: stored
    → now``); a resumed run must be the same run."""
    diffs = []
    if state.get("kind") != name:
        diffs.append(f"model: {state.get('kind')!r} → {name!r}")
    if state.get("seed") != seed:
        diffs.append(f"--seed: {state.get('seed')!r} → {seed!r}")
    old = dict(state.get("config") or {})
    for k in sorted(set(old) | set(config)):
        a, b = old.get(k, "(unset)"), config.get(k, "(unset)")
        if (list(a) if isinstance(a, tuple) else a) != (list(b) if isinstance(b, tuple) else b):
            diffs.append(f"{k}: {a!r} → {b!r}")
    return diffs
