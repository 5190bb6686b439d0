"""Untrained model files made in a test (no training, well under a second): for tests of loading and
validation where the vectors' quality does not matter."""
from __future__ import annotations

from pathlib import Path


def untrained_speech_model(path: Path, kind: str = "disentangled", seed: int = 0) -> Path:
    """A tiny speech ``model.pt`` (39-dim MFCC front end) with random weights; returns its path."""
    import torch

    from speechdis.audio.features import FeatureConfig
    from speechdis.config import from_dict
    from speechdis.speech.models import build_model
    from speechdis.training.checkpoint import save_model
    from speechdis.training.config import TrainConfig

    cfg = from_dict(TrainConfig, {"model": {"kind": kind, "feat_dim": 39, "hidden": 8, "layers": 1,
                                            "decoder_hidden": 8, "decoder_layers": 1, "phonetic_dim": 4,
                                            "speaker_dim": 4, "embed_dim": 4, "critic_hidden": [8]}})
    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(path, cfg, FeatureConfig(), build_model(cfg.model), step=0)
    return path


def untrained_image_model(out_dir: Path, name: str = "dann") -> Path:
    """An image model directory (``model.pt``) with random weights; returns the directory."""
    from speechdis.image.common import save_image_model
    from speechdis.image.registry import get_spec, make_config

    spec = get_spec(name)
    cfg = make_config(name)
    save_image_model(out_dir, name, cfg, spec.build(cfg), 0)
    return out_dir


def write_archive(path: Path, ids: list[str], vectors, kind: str = "phonetic", **arrays) -> Path:
    """An ``.npz`` laid out as ``speechdis extract`` writes it (string arrays, one vector array per kind);
    ``arrays`` replace or add arrays as given (to make malformed archives)."""
    import numpy as np

    n = len(ids)
    data = {"ids": np.array(ids, dtype=str), "utts": np.array(ids, dtype=str),
            "words": np.array([f"w{i % 2}" for i in range(n)], dtype=str),
            "speakers": np.array(["s"] * n, dtype=str), "starts": np.zeros(n), "ends": np.ones(n),
            "kind": np.array("disentangled" if kind in ("phonetic", "speaker") else "baseline"),
            "model": np.array(""), kind: np.asarray(vectors, dtype=np.float32)}
    data.update(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    return path
