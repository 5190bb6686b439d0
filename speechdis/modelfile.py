"""The model-file format shared by every model (speech and image): the self-describing header, atomic
weights-only checkpoint files, random-number state. Core layer: imports nothing above errors/config/fileio.

Checkpoints hold only tensors and plain Python values, so they load with ``torch.load(weights_only=True)``;
every write is atomic (a crash mid-write leaves the previous file intact).

A model file describes itself (:func:`model_header`): ``format``/``format_version``, ``family`` (``speech``
or ``image``), ``kind`` (``baseline``/``disentangled``, or the image model's name), the config, and
``provenance`` (speechdis, torch and Python versions, the git revision of the source tree when it is a
checkout). Speech models also carry ``features``, the resolved feature config they were trained on, so
``model.pt`` alone is enough to embed audio exactly as in training.

:mod:`speechdis.training.checkpoint` builds training checkpoints and ``model.pt`` on it (and re-exports it).
"""
from __future__ import annotations

import errno
import functools
import os
import platform
import random
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from speechdis.config import to_dict
from speechdis.errors import ModelError
from speechdis.fileio import atomic_open

if TYPE_CHECKING:  # a type only: the header stores features.resolved() as a dict
    from speechdis.audio.features import FeatureConfig

__all__ = ["FORMAT", "FORMAT_VERSION", "model_header", "model_family", "provenance", "rng_state", "set_rng_state",
           "save_checkpoint", "load_checkpoint"]

FORMAT = "speechdis-model"
FORMAT_VERSION = 2  # 1: no header, no features (feats.yaml beside the file)


@functools.lru_cache(maxsize=1)
def _git_revision() -> str | None:
    """The source tree's commit (``+dirty`` with local changes) when the package runs from a git checkout."""
    root = Path(__file__).resolve().parents[1]
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


def model_header(family: str, kind: str, config: dict, features: "FeatureConfig | None" = None) -> dict[str, Any]:
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
