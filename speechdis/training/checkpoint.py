"""Checkpoint I/O: training checkpoints (resume), the deployable ``model.pt``, random-number state.

Checkpoints hold only tensors and plain Python values, so they load with ``torch.load(weights_only=True)``;
every write is atomic (a crash mid-write leaves the previous file intact).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from speechdis.config import from_dict, to_dict
from speechdis.errors import ModelError
from speechdis.fileio import atomic_open
from speechdis.speech.models import build_model
from speechdis.training.config import TrainConfig

__all__ = ["save_checkpoint", "load_checkpoint", "write_checkpoint", "save_model", "load_trained", "rng_state",
           "set_rng_state"]


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict) -> None:
    """Atomic: a crash mid-write leaves the previous checkpoint intact."""
    with atomic_open(path, "wb") as f:
        torch.save(payload, f)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"checkpoint {path} does not exist") from None
    except Exception as e:  # corrupt or foreign file
        raise ModelError(f"checkpoint {path} cannot be loaded: {e}") from e


def write_checkpoint(ckpt_dir: Path, step: int, cfg: TrainConfig, model, critic, trainer, keep: int) -> None:
    """A resumable training checkpoint (``ckpt-<step>.pt`` and ``latest.pt``), keeping the newest ``keep``."""
    payload = {
        "step": step,
        "config": to_dict(cfg),
        "model": model.state_dict(),
        "critic": critic.state_dict() if critic is not None else None,
        **trainer.state_dict(),
        "rng": rng_state(),
    }
    path = ckpt_dir / f"ckpt-{step:08d}.pt"
    save_checkpoint(path, payload)
    save_checkpoint(ckpt_dir / "latest.pt", payload)
    old = sorted(ckpt_dir.glob("ckpt-*.pt"))
    for p in old[: max(len(old) - keep, 0)]:
        p.unlink()


def save_model(path: Path, cfg: TrainConfig, model: torch.nn.Module, step: int) -> None:
    """The deployable artefact: config + autoencoder weights (no optimiser or critic state)."""
    save_checkpoint(path, {"config": to_dict(cfg), "model": model.state_dict(), "step": step})


def load_trained(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                 ) -> tuple[TrainConfig, torch.nn.Module, int]:
    """Loads ``model.pt`` (or a training checkpoint) → (config, model in eval mode, step)."""
    state = load_checkpoint(Path(path), map_location)
    try:
        cfg = from_dict(TrainConfig, state["config"])
    except KeyError:
        raise ModelError(f"{path} is not a speechdis model (no config inside)") from None
    model = build_model(cfg.model)
    model.load_state_dict(state["model"])
    model.to(map_location).eval()
    return cfg, model, int(state.get("step", 0))
