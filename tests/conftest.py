"""Shared fixtures (helpers without fixtures live in tests/helpers.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import MINI_CORPUS, REPO, TinyCorpus, build_tiny_corpus


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> TinyCorpus:
    return build_tiny_corpus(tmp_path / "corpus")


@pytest.fixture
def tiny_data_dir(tmp_path: Path, tiny_corpus: TinyCorpus) -> Path:
    """The tiny corpus prepared into a Kaldi data dir (with word_segments)."""
    from speechdis.data.corpora.librispeech import prepare_librispeech

    out = tmp_path / "data" / "dev"
    prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, out)
    return out


@pytest.fixture(scope="session")
def mini_data(tmp_path_factory) -> dict[str, Path]:
    """The synthetic corpus' train and test subsets prepared with 39-dim MFCC (per-utterance CMVN), once per session."""
    from speechdis.audio.features import load_feature_config
    from speechdis.data.corpora.librispeech import prepare_librispeech
    from speechdis.data.featjobs import make_features

    root = tmp_path_factory.mktemp("mini")
    cfg = load_feature_config(REPO / "recipes" / "librispeech" / "conf" / "mfcc.yaml")
    out = {}
    for part in ("train", "test"):
        d = root / part
        prepare_librispeech(MINI_CORPUS, f"{part}-clean-mini", d)
        make_features(d, cfg, nj=1)
        out[part] = d
    return out
