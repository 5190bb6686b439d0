"""Shared set-up for the extraction/evaluation/recipe tests (no tests here).

:func:`tiny_setup` prepares a 4-speaker subset of the mini test corpus with MFCC features and trains a
tiny baseline and a tiny disentangled model on it for a few steps — once per test process, however many
test modules ask for it (a module-level memo: fixtures in different modules are separate).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conftest import MINI_CORPUS, REPO

SPEAKERS = ["1017", "1018", "1019", "1020"]

# hidden 16, a few steps: the point is the plumbing, not the quality.
TINY_MODEL = {"hidden": 16, "layers": 1, "decoder_hidden": 16, "decoder_layers": 1, "phonetic_dim": 8,
              "speaker_dim": 8, "embed_dim": 8, "critic_hidden": [16]}
TINY_REST = {
    "loss": {"pairs_per_batch": 16, "n_critic": 1},
    "data": {"speakers_per_batch": 4, "segments_per_speaker": 4, "crop_frames": 40, "valid_speakers": 0},
    "train": {"steps": 3, "log_every": 1, "valid_every": 1000, "ckpt_every": 1000, "device": "cpu"},
}


def tiny_config_dict(kind: str) -> dict:
    """A complete tiny training config (as a dict / YAML) for ``kind``."""
    cfg = {"model": {"kind": kind, "feat_dim": 39, **TINY_MODEL}, **TINY_REST}
    if kind == "baseline":
        cfg = {k: v for k, v in cfg.items() if k != "loss"}
    return cfg


@dataclass
class TinySetup:
    data: Path  # 4-speaker data dir with features and word_segments
    baseline: Path  # experiment dirs
    disentangled: Path


_CACHE: dict[str, TinySetup] = {}


def tiny_setup(tmp_path_factory) -> TinySetup:
    """Build (once per process) the data dir and the two tiny models."""
    if "setup" in _CACHE:
        return _CACHE["setup"]
    import torch

    from speechdis.audio.features import load_feature_config
    from speechdis.config import from_dict
    from speechdis.data.datadir import DataDir
    from speechdis.data.featjobs import make_features
    from speechdis.data.librispeech import prepare_librispeech
    from speechdis.training.config import TrainConfig
    from speechdis.training.loop import train

    root = tmp_path_factory.mktemp("tiny_eval")
    full = root / "test_full"
    prepare_librispeech(MINI_CORPUS, "test-clean-mini", full)
    data = root / "test4"
    DataDir.load(full).subset(speakers=SPEAKERS).save(data)
    make_features(data, load_feature_config(REPO / "recipes" / "librispeech" / "conf" / "mfcc.yaml"), nj=1)
    exps = {}
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny RNNs: extra threads only add contention on shared cores
    try:
        for kind in ("baseline", "disentangled"):
            exps[kind] = root / "exp" / kind
            train(from_dict(TrainConfig, tiny_config_dict(kind)), data, exps[kind])
    finally:
        torch.set_num_threads(saved)
    _CACHE["setup"] = TinySetup(data, exps["baseline"], exps["disentangled"])
    return _CACHE["setup"]
