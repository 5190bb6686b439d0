"""Speech-model checkpoints: training checkpoints (resume) and the deployable ``model.pt`` of a speech model.

The file format itself (self-describing header, weights-only atomic files, random-number state) is
:mod:`speechdis.modelfile`, shared with the image models; its functions are re-exported here for older callers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from speechdis.audio.features import FeatureConfig, stored_feature_config
from speechdis.config import from_dict, to_dict
from speechdis.errors import ModelError
from speechdis.modelfile import (
    load_checkpoint,
    model_family,
    model_header,
    provenance,
    rng_state,
    save_checkpoint,
    set_rng_state,
)

if TYPE_CHECKING:  # the speech classes are imported where used, so image models load without them
    from speechdis.training.config import TrainConfig

__all__ = ["save_checkpoint", "load_checkpoint", "write_checkpoint", "save_model", "load_trained", "TrainedModel",
           "model_header", "model_family", "provenance", "rng_state", "set_rng_state"]

def write_checkpoint(ckpt_dir: Path, step: int, cfg: TrainConfig, features: FeatureConfig | None, model, critic,
                     trainer, keep: int, extra: dict | None = None) -> dict:
    """A resumable training checkpoint (``ckpt-<step>.pt`` and ``latest.pt``), keeping the newest ``keep``.

    It is a model file too (same header as ``model.pt``), so an interrupted run can be embedded with.
    ``extra`` (plain values, e.g. the best validation score so far) is stored beside. Returns the payload.
    """
    payload = {
        **model_header("speech", cfg.model.kind, to_dict(cfg), features),
        **(extra or {}),
        "step": step,
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
    return payload


def save_model(path: Path, cfg: TrainConfig, features: FeatureConfig | None, model: torch.nn.Module, step: int,
               extra: dict | None = None) -> None:
    """The deployable artefact: header (config, features, provenance) + autoencoder weights (no optimiser or
    critic state)."""
    save_checkpoint(path, {**model_header("speech", cfg.model.kind, to_dict(cfg), features), **(extra or {}),
                           "model": model.state_dict(), "step": step})


@dataclass
class TrainedModel:
    """A speech model file read back: config, model (eval mode), step, feature config (None in files of format 1,
    which kept it in ``feats.yaml`` beside), provenance (empty for format 1) and the raw state."""

    config: "TrainConfig"
    model: torch.nn.Module
    step: int
    features: FeatureConfig | None
    provenance: dict
    state: dict

    def __iter__(self):
        """Unpacks as ``config, model, step`` (what ``load_trained`` returned before it carried the rest)."""
        return iter((self.config, self.model, self.step))


def load_trained(path: str | os.PathLike, map_location: str | torch.device = "cpu", state: dict | None = None
                 ) -> TrainedModel:
    """Loads a speech ``model.pt`` (or a training checkpoint) → :class:`TrainedModel` (``state``: the file's
    contents when already read)."""
    from speechdis.speech.models import build_model
    from speechdis.training.config import TrainConfig

    if state is None:
        state = load_checkpoint(Path(path), map_location)
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise ModelError(f"{path} is not a speechdis model (no config inside)")
    if model_family(state) != "speech":
        raise ModelError(f"{path} holds an image model ({state.get('kind', state.get('model'))}), not a speech model")
    cfg = from_dict(TrainConfig, state["config"])
    model = build_model(cfg.model)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise ModelError(f"{path}: the weights do not fit the stored config ({str(e).splitlines()[0]})") from e
    model.to(map_location).eval()
    feats = state.get("features")
    return TrainedModel(cfg, model, int(state.get("step", 0)),
                        stored_feature_config(feats) if feats is not None else None,
                        dict(state.get("provenance") or {}), state)
