"""Every speech model kind is one registry entry: building, kind checks, vector names/dims/roles ask it."""
import dataclasses

import numpy as np
import pytest
import torch

import speechdis
from speechdis.errors import ConfigError
from speechdis.modelfile import load_checkpoint
from speechdis.pretrained import PRETRAINED, pretrained_path
from speechdis.registry import ModelSpec, Ref
from speechdis.speech.models import DisentangledAutoencoder, ModelConfig, Seq2SeqAutoencoder, build_model
from speechdis.speech.registry import SPEECH_MODELS, speech_spec
from speechdis.training.config import TrainConfig

SMALL = dict(feat_dim=5, hidden=16, layers=1, phonetic_dim=6, speaker_dim=4, embed_dim=8, decoder_hidden=16,
             decoder_layers=1, critic_hidden=(16,))


@pytest.mark.parametrize("kind", SPEECH_MODELS.names())
def test_each_registered_kind_builds_a_model_that_makes_its_declared_vectors(kind):
    spec = speech_spec(kind)
    cfg = ModelConfig(kind=kind, **SMALL)
    assert spec.config_type is ModelConfig and spec.family == "speech"
    model = build_model(cfg)
    x, lengths = torch.randn(3, 9, 5), torch.tensor([9, 7, 4])
    out = model.embed(x, lengths)
    assert list(out) == list(spec.vectors)
    assert {k: v.shape[1] for k, v in out.items()} == spec.dims(cfg)
    assert set(spec.roles) == {"phonetic", "speaker"} and set(spec.roles.values()) <= set(out)
    full = model(x, lengths)
    assert set(spec.vectors) | {"reconstruction", "target"} <= set(full)


def test_an_unknown_kind_is_refused_by_config_and_build():
    with pytest.raises(ValueError, match=r"model\.kind is 'nope'; allowed: disentangled, baseline"):
        TrainConfig(model=ModelConfig(kind="nope"))
    with pytest.raises(ConfigError, match="unknown model.kind 'nope'"):
        build_model(ModelConfig(kind="nope"))


def test_a_new_kind_needs_only_a_registration(monkeypatch):
    monkeypatch.setattr(SPEECH_MODELS, "_specs", dict(SPEECH_MODELS._specs))  # undone after the test
    SPEECH_MODELS.register(ModelSpec(
        name="plain", family="speech", description="test", config_cls=Ref("speechdis.speech.models:ModelConfig"),
        build=Ref("speechdis.speech.models:Seq2SeqAutoencoder"), vectors={"embedding": "embed_dim"},
        roles={"phonetic": "embedding", "speaker": "embedding"}))
    cfg = TrainConfig(model=ModelConfig(kind="plain", **SMALL))
    assert isinstance(build_model(cfg.model), Seq2SeqAutoencoder)


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_packaged_model_files_give_the_vectors_of_their_classes(name):
    """The files written before the registry load through it unchanged: same class, same weights, identical
    vectors as the class built by hand from the stored config."""
    state = load_checkpoint(pretrained_path(name), "cpu")
    m = speechdis.load_model(name, device="cpu", backend=False)  # raw network vectors (english has a back end)
    cls = {"disentangled": DisentangledAutoencoder, "baseline": Seq2SeqAutoencoder}[state["kind"]]
    assert type(m.model) is cls and m.kind == state["kind"]
    direct = cls(dataclasses.replace(m.train_config.model))
    direct.load_state_dict(state["model"])
    direct.eval()
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((n, m.train_config.model.feat_dim)).astype(np.float32) for n in (12, 30)]
    got = m.embed_features(feats)
    assert list(got) == m.keys and {k: v.shape[1] for k, v in got.items()} == m.dims
    with torch.no_grad():
        for i, f in enumerate(feats):
            want = direct.embed(torch.from_numpy(f)[None], torch.tensor([len(f)]))
            for k in m.keys:
                np.testing.assert_allclose(got[k][i], want[k][0].numpy(), rtol=0, atol=1e-6)
