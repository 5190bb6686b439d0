"""The models that ship in the package load by name and embed real-speech-like input."""
import numpy as np
import pytest

import speechdis
from speechdis.errors import ModelError
from speechdis.pretrained import PRETRAINED, pretrained_path


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_packaged_model_loads_by_name_and_embeds(name):
    path = pretrained_path(name)
    assert path is not None, f"{name}: packaged file missing"
    assert path.stat().st_size <= 5 * 2**20  # small enough to ship
    m = speechdis.load_model(name, device="cpu")
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * np.hanning(16000) + 0.01 * rng.normal(size=16000)).astype(np.float32)
    v = m.embed_waveform(wave, 16000)
    expected = {"speechcommands": {"phonetic", "speaker"}, "english": {"phonetic", "speaker"},
                "speechcommands-baseline": {"embedding"}}[name]
    assert set(v) == expected
    assert all(x.shape[0] == 1 and np.isfinite(x).all() for x in v.values())
    assert m.feature_config.cmvn == "none" and m.feature_config.sample_rate == 16000


def test_unknown_model_name_lists_the_packaged_ones():
    with pytest.raises(ModelError, match="speechcommands"):
        speechdis.load_model("no-such-model-name")
