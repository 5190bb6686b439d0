"""The word-discriminative objective of the phonetic encoder (cosine-softmax word classifier on v_p)."""
import json

import numpy as np
import pytest
import torch

from speechdis.errors import ConfigError
from speechdis.speech.words import cosine_softmax_loss, word_class_table
from speechdis.training.loop import train
from tests.helpers import tiny_train_config as _cfg


def test_word_class_table_keeps_words_with_enough_tokens():
    classes, n = word_class_table(np.array([0, 0, 1, 2, 2, 2, -1]), n_words=4, min_count=2)
    assert n == 2
    assert classes.tolist() == [0, -1, 1, -1]  # word 1 has one token, word 3 none


def test_cosine_softmax_loss_ignores_rows_without_a_class_and_rewards_alignment():
    weight = torch.eye(3, 4)
    v = torch.tensor([[5.0, 0, 0, 0], [0, 5.0, 0, 0], [1.0, 1.0, 1.0, 1.0]])
    good, acc = cosine_softmax_loss(v, weight, torch.tensor([0, 1, -1]), scale=16.0)
    bad, acc_bad = cosine_softmax_loss(v, weight, torch.tensor([1, 0, -1]), scale=16.0)
    assert good < 0.01 < bad and float(acc) == 1.0 and float(acc_bad) == 0.0
    margin, _ = cosine_softmax_loss(v, weight, torch.tensor([0, 1, -1]), scale=16.0, margin=0.3)
    assert margin > good  # the margin asks for more than the nearest class
    none, _ = cosine_softmax_loss(v, weight, torch.tensor([-1, -1, -1]), scale=16.0)
    assert float(none) == 0.0


def test_word_objective_trains_and_the_model_file_rebuilds(mini_data, tmp_path):
    """The word classifier's loss falls on the mini corpus and model.pt (with its head) loads for embedding."""
    from speechdis import load_model

    cfg = _cfg(train__steps=60, train__ckpt_every=1000, train__valid_every=1000, loss__word_ce_weight=1.0,
               loss__adv_mode="none", optim__lr=0.005)
    train(cfg, mini_data["train"], tmp_path / "exp")
    recs = [json.loads(ln) for ln in (tmp_path / "exp" / "train_log.jsonl").read_text().splitlines()
            if '"train"' in ln]
    first = sum(r["loss/word_ce"] for r in recs[:10]) / 10
    last = sum(r["loss/word_ce"] for r in recs[-10:]) / 10
    assert last < 0.8 * first, (first, last)
    model = load_model(tmp_path / "exp" / "model.pt")
    assert model.model.cfg.word_classes > 1 and model.model.word_head is not None


def test_word_options_are_checked():
    with pytest.raises(ConfigError, match="word_margin"):
        _cfg(loss__word_margin=1.5)


def test_speaker_context_trains_the_speaker_encoder_on_utterance_windows(mini_data, tmp_path):
    """data.speaker_context: training runs with the speaker encoder reading utterance windows, and the
    speaker vectors of the result separate speakers on the training corpus (better than chance)."""
    from speechdis import load_model

    cfg = _cfg(train__steps=30, train__ckpt_every=1000, train__valid_every=1000, data__speaker_context=80,
               loss__adv_mode="none", loss__speaker_ce_weight=1.0, optim__lr=0.005)
    train(cfg, mini_data["train"], tmp_path / "exp")
    recs = [json.loads(ln) for ln in (tmp_path / "exp" / "train_log.jsonl").read_text().splitlines()
            if '"train"' in ln]
    first = sum(r["loss/spk_ce"] for r in recs[:5]) / 5
    last = sum(r["loss/spk_ce"] for r in recs[-5:]) / 5
    assert last < first, (first, last)
    assert load_model(tmp_path / "exp" / "model.pt") is not None


def test_word_pairs_give_the_correspondence_loss_partners(mini_data, tmp_path):
    """data.word_pairs: in the same number of steps, more training segments get another speaker's token of
    their word to reconstruct (the logged correspondence rate) than with random batches."""
    rates = {}
    for pairs in (0.0, 1.0):
        cfg = _cfg(train__steps=10, train__log_every=1, train__ckpt_every=1000, train__valid_every=1000,
                   loss__correspondence=1.0, data__word_pairs=pairs, loss__adv_mode="none")
        train(cfg, mini_data["train"], tmp_path / f"exp{pairs}")
        recs = [json.loads(ln) for ln in (tmp_path / f"exp{pairs}" / "train_log.jsonl").read_text().splitlines()
                if '"train"' in ln]
        rates[pairs] = np.mean([r["correspondence"] for r in recs])
    assert rates[1.0] > rates[0.0] + 0.1, rates
    with pytest.raises(ConfigError, match="data.word_pairs"):
        _cfg(data__word_pairs=-0.5)
