"""Training on the synthetic corpus: loss goes down, resume is exact, checkpoints round-trip, configs fail loudly."""
import json

import pytest
import torch

from speechdis.config import load_config
from speechdis.errors import ConfigError, ModelError
from speechdis.training.checkpoint import load_trained
from speechdis.training.config import TrainConfig
from speechdis.training.loop import train
from tests.helpers import tiny_train_config as _cfg


def _log(path):
    return [json.loads(ln) for ln in path.read_text().splitlines() if '"train"' in ln]


def test_loss_decreases_on_mini_corpus(mini_data, tmp_path):
    cfg = _cfg(train__steps=150, train__ckpt_every=1000, loss__n_critic=1, optim__lr=0.005)
    train(cfg, mini_data["train"], tmp_path / "exp")
    recs = _log(tmp_path / "exp" / "train_log.jsonl")
    # Means of 20 steps, bounds with margin: over train seeds 0, 1, 3, 7 (1 and 2 threads) the last 20 steps'
    # mean was 0.92-0.95 x the first's for rec (0.95 was the old bound: one seed from failing) and 0.59-0.63 x
    # for spk.
    for key, bound in (("loss/rec", 0.98), ("loss/spk", 0.8)):
        first = sum(r[key] for r in recs[:20]) / 20
        last = sum(r[key] for r in recs[-20:]) / 20
        assert last < bound * first, (key, first, last)
    valid = [json.loads(ln) for ln in (tmp_path / "exp" / "train_log.jsonl").read_text().splitlines()
             if '"valid"' in ln]
    assert valid and {"rec", "spk_auc_speaker", "critic_auc_phonetic", "spk_probe_content"} <= set(valid[-1])
    assert 0.0 <= valid[-1]["spk_probe_content"] <= 1.0
    assert (tmp_path / "exp" / "model.pt").exists() and (tmp_path / "exp" / "feats.yaml").exists()


@pytest.mark.parametrize("mode,group,critic_batches", [("wgan", 1, "fresh"), ("grl", 1, "fresh"),
                                                       ("bce", 2, "fresh"), ("wgan", 1, "shared")])
def test_resume_reproduces_next_step_losses(mini_data, tmp_path, mode, group, critic_batches):
    cfg = _cfg(train__steps=6, train__valid_every=3, loss__adv_mode=mode, loss__n_critic=2,
               loss__critic_group_size=group, loss__critic_batches=critic_batches)
    train(cfg, mini_data["train"], tmp_path / "full")
    first = train(cfg, mini_data["train"], tmp_path / "cut", stop_after=3)
    assert first.steps == 3 and not (tmp_path / "cut" / "model.pt").exists()
    with pytest.raises(ModelError, match="--resume"):
        train(cfg, mini_data["train"], tmp_path / "cut")
    train(cfg, mini_data["train"], tmp_path / "cut", resume=True)
    full = _log(tmp_path / "full" / "train_log.jsonl")
    cut = _log(tmp_path / "cut" / "train_log.jsonl")
    assert [r["step"] for r in cut] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full[3:], cut[3:]):
        for key in ("loss/total", "loss/rec", "loss/spk", "loss/adv"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (a["step"], key)
    # The best-on-dev model sits beside the latest checkpoint, and resuming carries the best score on.
    valid = [json.loads(ln) for ln in (tmp_path / "cut" / "train_log.jsonl").read_text().splitlines()
             if '"valid"' in ln]
    best = {r: load_trained(tmp_path / r / "checkpoints" / "best.pt") for r in ("full", "cut")}
    assert best["cut"].step == best["full"].step == min(valid, key=lambda r: r["rec"])["step"]
    assert best["cut"].state["valid"]["rec"] == pytest.approx(best["full"].state["valid"]["rec"], rel=1e-5)


@pytest.mark.parametrize("mode", ["grl", "bce"])
def test_every_mode_trains_the_critic(mini_data, tmp_path, mode):
    cfg = _cfg(train__steps=2, loss__adv_mode=mode, loss__n_critic=1)
    latest = tmp_path / "a" / "checkpoints" / "latest.pt"
    train(cfg, mini_data["train"], tmp_path / "a", stop_after=1)
    before = torch.load(latest, weights_only=True)["critic"]
    train(cfg, mini_data["train"], tmp_path / "a", resume=True)
    after = torch.load(latest, weights_only=True)["critic"]
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_checkpoint_round_trip_and_weights_only(mini_data, tmp_path):
    cfg = _cfg(train__steps=2, loss__adv_mode="bce", loss__n_critic=1)
    train(cfg, mini_data["train"], tmp_path / "exp")
    state = torch.load(tmp_path / "exp" / "checkpoints" / "latest.pt", weights_only=True)
    assert state["step"] == 2 and state["critic"] is not None
    trained = load_trained(tmp_path / "exp" / "model.pt")
    assert trained.step == 2 and trained.config == cfg
    # The file describes itself: kind, the feature front end, versions.
    assert trained.state["family"] == "speech" and trained.state["kind"] == "disentangled"
    assert trained.features is not None and trained.features.dim == cfg.model.feat_dim
    assert trained.provenance["torch"] == torch.__version__ and "speechdis" in trained.provenance
    x, lengths = torch.randn(3, 20, 39), torch.tensor([20, 15, 9])
    again = load_trained(tmp_path / "exp" / "checkpoints" / "latest.pt")
    assert again.features == trained.features
    model, again = trained.model, again.model
    a, b = model.embed(x, lengths), again.embed(x, lengths)
    assert torch.allclose(a["phonetic"], b["phonetic"]) and torch.allclose(a["speaker"], b["speaker"])


def test_baseline_trains(mini_data, tmp_path):
    cfg = _cfg(train__steps=3, model__kind="baseline")
    res = train(cfg, mini_data["train"], tmp_path / "exp")
    assert res.steps == 3 and "loss/rec" in res.final and "loss/adv" not in res.final


def test_float16_storage_holds_half_the_bytes_and_trains(mini_data, tmp_path):
    from speechdis.training.loop import load_data

    ds32 = load_data(_cfg(), mini_data["train"])[0]
    ds16 = load_data(_cfg(data__storage_dtype="float16"), mini_data["train"])[0]
    i = list(range(8))
    a, b = ds32.__getitems__(i)["feats"], ds16.__getitems__(i)["feats"]
    assert b.dtype == torch.float32 and torch.allclose(a, b, rtol=1e-3, atol=1e-3) and not torch.equal(a, b)
    assert ds16.feature_bytes * 2 == ds32.feature_bytes > 0
    res = train(_cfg(train__steps=3, data__storage_dtype="float16"), mini_data["train"], tmp_path / "exp")
    assert res.steps == 3 and all(torch.isfinite(torch.tensor(v)) for v in res.final.values())
    with pytest.raises(ConfigError, match="storage_dtype"):
        _cfg(data__storage_dtype="int8")


def test_malformed_config_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss:\n  adv_mod: wgan\n")
    with pytest.raises(ConfigError, match=r"loss\.adv_mod"):
        load_config(TrainConfig, bad)
    bad.write_text("train:\n  steps: many\n")
    with pytest.raises(ConfigError, match=r"train\.steps"):
        load_config(TrainConfig, bad)
    bad.write_text("loss:\n  adv_mode: adversarial\n")
    with pytest.raises(ConfigError, match=r"loss\.adv_mode"):
        load_config(TrainConfig, bad)
    bad.write_text("loss:\n  critic_group_size: 3\ndata:\n  segments_per_speaker: 4\n")
    with pytest.raises(ConfigError, match=r"loss\.critic_group_size 3 needs data\.segments_per_speaker ≥ 6"):
        load_config(TrainConfig, bad)


def test_feature_dim_mismatch_is_reported(mini_data, tmp_path):
    with pytest.raises(ConfigError, match="feat_dim"):
        train(_cfg(train__steps=1, model__feat_dim=40), mini_data["train"], tmp_path / "exp")


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_trained(tmp_path / "nothing.pt")


def test_real_speech_options_train_and_travel_inside_the_model(mini_data, tmp_path):
    """Correspondence targets, the speaker softmax head, raw features with global normalisation, frame
    stacking and stats pooling: the run trains, and model.pt alone rebuilds the model with its statistics."""
    from speechdis import load_model

    cfg = _cfg(train__steps=6, loss__correspondence=1.0, loss__speaker_ce_weight=1.0, loss__adv_mode="none",
               model__frame_stack=2, model__input_norm="global", model__phonetic_cmvn=True,
               model__speaker_pooling="stats", data__cmvn="none")
    train(cfg, mini_data["train"], tmp_path / "exp")
    recs = _log(tmp_path / "exp" / "train_log.jsonl")
    assert sum(r["correspondence"] for r in recs) > 0  # some items decode another speaker's token of their word
    assert all("loss/spk_ce" in r for r in recs)
    _, model, _ = load_trained(tmp_path / "exp" / "model.pt")
    assert model.cfg.speaker_classes > 0 and model.speaker_head is not None
    assert float(model.input_norm.std.min()) > 0 and float(model.input_norm.mean.abs().max()) > 0  # set, not identity
    m = load_model(tmp_path / "exp")
    assert m.feature_config.cmvn == "none"  # the model records the features it was trained on
