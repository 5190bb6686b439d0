"""Checkpoint I/O for every model (speech and image): training checkpoints (resume), the deployable
``model.pt``, random-number state.

Checkpoints hold only tensors and plain Python values, so they load with ``torch.load(weights_only=True)``;
every write is atomic (a crash mid-write leaves the previous file intact).

A model file describes itself (:func:`model_header`): ``format``/``format_version``, ``family`` (``speech``
or ``image``), ``kind`` (``baseline``/``disentangled``, or the image model's name), the config, and
``provenance`` (speechdis, torch and Python versions, the git revision of the source tree when it is a
checkout). Speech models also carry ``features``, the resolved feature config they were trained on, so
``model.pt`` alone is enough to embed audio exactly as in training.
"""
from __future__ import annotations

import errno
import functools
import os
import platform
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from speechdis.audio.features import FeatureConfig, stored_feature_config
from speechdis.config import from_dict, to_dict
from speechdis.errors import ModelError
from speechdis.fileio import atomic_open

if TYPE_CHECKING:  # the speech classes are imported where used, so image models load without them
    from speechdis.training.config import TrainConfig

__all__ = ["save_checkpoint", "load_checkpoint", "write_checkpoint", "save_model", "load_trained", "TrainedModel",
           "model_header", "model_family", "provenance", "rng_state", "set_rng_state"]

FORMAT = "speechdis-model"
FORMAT_VERSION = 2  # 1: no header, no features (feats.yaml beside the file)


@functools.lru_cache(maxsize=1)
def _git_revision() -> str | None:
    """The source tree's commit (``+dirty`` with local changes) when the package runs from a git checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "") if rev else None


def provenance() -> dict[str, Any]:
    """What made a file: package, torch and Python versions and (when known) the git revision."""
    from speechdis import __version__

    return {"speechdis": str(__version__), "torch": str(torch.__version__), "python": platform.python_version(),
            "git": _git_revision()}


def model_header(family: str, kind: str, config: dict, features: FeatureConfig | None = None) -> dict[str, Any]:
    """The self-description every saved model carries (see the module doc)."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "family": family, "kind": kind, "config": config,
            "features": to_dict(features.resolved()) if features is not None else None,
            "provenance": provenance()}


def model_family(state: dict) -> str:
    """``speech`` or ``image`` for a loaded model file (also for files written before the header existed)."""
    if "family" in state:
        return str(state["family"])
    if isinstance(state.get("model"), str) and "modules" in state:  # image model.pt of format 1
        return "image"
    return "speech"


def rng_state() -> dict:
    """The global random states (torch, CUDA, NumPy's legacy global generator, Python's ``random``) as tensors
    and plain values, so a checkpoint holding them still loads weights-only."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state` (checkpoints written before it held NumPy's and Python's keep those as they are)."""
    torch.set_rng_state(state["torch"])
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                             n["cached_gaussian"]))
    if "python" in state:
        v = state["python"]
        random.setstate((v[0], tuple(v[1]), v[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict) -> None:
    """Atomic: a crash mid-write leaves the previous checkpoint intact. A failed write (disk full) is an
    :class:`OSError` naming the file."""
    try:
        with atomic_open(path, "wb") as f:
            torch.save(payload, f)
    except RuntimeError as e:
        # torch's zip writer turns the file's OSError (ENOSPC, EFBIG) into "[enforce fail at inline_container.cc]"
        if "inline_container" not in str(e) and "PytorchStreamWriter" not in str(e):
            raise
        import shutil

        if shutil.disk_usage(path.parent).free < (1 << 20):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from e
        raise OSError(errno.EIO, "writing failed (disk full or a file size limit?)", str(path)) from e


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a model file or training checkpoint (weights only: tensors and plain values, never code).
    Every failure is a one-line ModelError naming the file and the reason."""
    import pickle
    import zipfile

    path = Path(path)
    if path.is_dir():
        raise ModelError(f"checkpoint {path} is a folder, not a model file")
    if path.is_file():
        if path.stat().st_size == 0:
            raise ModelError(f"checkpoint {path} is empty (0 bytes; an interrupted copy?)")
        if not zipfile.is_zipfile(path):
            raise ModelError(f"checkpoint {path} is not a PyTorch model file (corrupt, truncated or another format)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"checkpoint {path} does not exist") from None
    except pickle.UnpicklingError as e:  # weights_only refused a global: code or foreign objects inside
        what = str(e).split("GLOBAL ", 1)[1].split(" ", 1)[0] if "GLOBAL " in str(e) else "objects"
        raise ModelError(f"checkpoint {path} holds {what}, not just tensors and plain values; refusing to load it "
                         f"(it was not written by speechdis, or was altered)") from e
    except Exception as e:  # corrupt or foreign file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"checkpoint {path} cannot be loaded: {first}") from e
    if not isinstance(state, dict):  # e.g. a bare tensor or list saved with torch.save
        raise ModelError(f"checkpoint {path} holds a {type(state).__name__}, not a speechdis model file "
                         f"(a mapping with its config and weights)")
    return state


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
