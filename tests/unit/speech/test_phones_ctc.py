"""The phone-sequence (CTC) objective and SpecAugment-style masking of the phonetic encoder's input."""
import json

import pytest
import torch

from speechdis.speech.models import SpecMask
from speechdis.speech.phones import ARPABET, load_pronunciations, phone_table
from speechdis.training.loop import train
from tests.helpers import tiny_train_config as _cfg


def test_phone_table_maps_words_and_counts_the_missing(tmp_path):
    lex = tmp_path / "lex.txt"
    lex.write_text("CAT K AE1 T\nDOG D AO1 G\nZERO Z IY1 R OW0\n")
    prons = {w: p for w, p in load_pronunciations(lex).items() if w in ("cat", "dog", "zero")}
    table = phone_table({"cat": 0, "dog": 1, "blorf": 2, "0": 3}, prons)
    k = {p: i + 1 for i, p in enumerate(ARPABET)}
    assert table.targets[0, :3].tolist() == [k["K"], k["AE"], k["T"]]
    assert table.lengths.tolist() == [3, 3, 0, 4]  # the digit label "0" is read as "zero"
    assert table.missing == ["blorf"]


def test_spec_mask_masks_only_in_training():
    x = torch.ones(4, 50, 39)
    lengths = torch.tensor([50, 40, 30, 20])
    mask = SpecMask(2, 10, 2, 4)
    mask.eval()
    assert torch.equal(mask(x, lengths), x)
    mask.train()
    torch.manual_seed(0)
    zeros = (mask(x, lengths) == 0).float().mean().item()
    assert 0.0 < zeros < 0.6  # at most 2x10 of ≥ 20 frames and 2x4 of 39 dims


def _log(path):
    return [json.loads(ln) for ln in path.read_text().splitlines() if '"train"' in ln]


def test_ctc_objective_trains_and_the_model_file_rebuilds(mini_data, tmp_path):
    """CTC on v_p against CMUdict phones of the word labels: the loss falls, and model.pt (with its phone
    decoder and masks) loads for embedding."""
    pytest.importorskip("pocketsphinx")
    from speechdis import load_model

    cfg = _cfg(train__steps=60, train__ckpt_every=1000, train__valid_every=1000, loss__ctc_weight=1.0,
               loss__adv_mode="none", model__spec_time_masks=1, model__spec_freq_masks=1, optim__lr=0.005)
    train(cfg, mini_data["train"], tmp_path / "exp")
    recs = _log(tmp_path / "exp" / "train_log.jsonl")
    assert all(r["ctc_items"] > 0 for r in recs)
    first = sum(r["loss/ctc"] for r in recs[:10]) / 10
    last = sum(r["loss/ctc"] for r in recs[-10:]) / 10
    assert last < 0.9 * first, (first, last)
    model = load_model(tmp_path / "exp" / "model.pt")
    assert model is not None
