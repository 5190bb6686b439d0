"""Speed perturbation of training batches (data.speed_perturb): shapes, values, seeding, training only."""
import json

import numpy as np
import pytest
import torch

from speechdis.data.augment import batch_rng, speed_perturb
from speechdis.errors import ConfigError
from speechdis.training.loop import batch_stream, build_run, load_data, train, validate_run
from tests.helpers import tiny_train_config as _cfg


def _ramp_batch(lengths, dim=3):
    """Frame t of every segment holds t (all dims), zero padding past its length: interpolation is exact."""
    t = max(lengths)
    feats = torch.arange(t, dtype=torch.float32)[None, :, None].repeat(len(lengths), 1, dim)
    lens = torch.tensor(lengths)
    feats = feats * (torch.arange(t)[None] < lens[:, None])[:, :, None]
    return feats, lens


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_one_factor_resamples_time_by_it(factor):
    feats, lens = _ramp_batch([40, 23, 5])
    out, new = speed_perturb(feats, lens, [factor], np.random.default_rng(0))
    assert new.tolist() == [round(n / factor) for n in (40, 23, 5)]
    assert out.shape == (3, int(new.max()), 3)
    for k, n in enumerate(new.tolist()):
        expect = torch.clamp(torch.arange(n, dtype=torch.float64) * factor, max=lens[k].item() - 1)
        assert torch.allclose(out[k, :n, 0].double(), expect, atol=1e-4)
        assert bool((out[k, n:] == 0).all())  # padding stays zero
    if factor == 1.0:
        assert torch.equal(out, feats)


def test_factors_are_drawn_per_item_and_capped_at_the_crop():
    feats, lens = _ramp_batch([40] * 64)
    _, new = speed_perturb(feats, lens, [0.9, 1.0, 1.1], np.random.default_rng(1), max_frames=40)
    assert set(new.tolist()) == {36, 40}  # 40 / 1.1, 40, and 40 / 0.9 = 44 cut to the training crop of 40
    assert 10 < (new == 36).sum() < 40


def test_batches_are_a_pure_function_of_seed_rank_and_index():
    feats, lens = _ramp_batch([30] * 32)
    factors = [0.9, 1.0, 1.1]
    a = speed_perturb(feats, lens, factors, batch_rng(0, 0, 7))
    b = speed_perturb(feats, lens, factors, batch_rng(0, 0, 7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    others = [speed_perturb(feats, lens, factors, rng)[1] for rng in
              (batch_rng(0, 0, 8), batch_rng(1, 0, 7), batch_rng(0, 1, 7))]
    assert all(not torch.equal(a[1], o) for o in others)


def test_an_empty_list_is_off():
    feats, lens = _ramp_batch([10, 4])
    out, new = speed_perturb(feats, lens, [], np.random.default_rng(0))
    assert out is feats and new is lens


def test_bad_factor_is_a_config_error():
    with pytest.raises(ConfigError, match="data.speed_perturb"):
        _cfg(data__speed_perturb=[0.0])


def test_training_batches_are_perturbed_and_validation_is_not(mini_data):
    """The same run with and without speed_perturb: the same segments in each training batch, other lengths;
    validation (and so best.pt's score) computed on the clean features, identical for identical weights."""
    runs = {}
    for name, factors in (("off", []), ("on", [0.9, 1.1])):
        cfg = _cfg(data__speed_perturb=factors, data__max_valid_segments=64)
        train_ds, valid_ds, features, _ = load_data(cfg, mini_data["train"])
        run = build_run(cfg, train_ds, features, torch.device("cpu"))
        stream = batch_stream(run, train_ds)
        runs[name] = (run, valid_ds, [next(stream) for _ in range(3)])
    for off, on in zip(runs["off"][2], runs["on"][2]):
        assert torch.equal(off["index"], on["index"])
        assert not torch.equal(off["lengths"], on["lengths"])
        assert int(on["lengths"].max()) <= 40 and on["feats"].shape[1] == int(on["lengths"].max())
    v_off = validate_run(runs["off"][0], runs["off"][1])
    v_on = validate_run(runs["on"][0], runs["on"][1])
    assert v_off == v_on


def test_training_with_speed_perturbation_resumes_exactly(mini_data, tmp_path):
    cfg = _cfg(train__steps=4, train__ckpt_every=2, loss__adv_mode="none", data__speed_perturb=[0.9, 1.0, 1.1])
    train(cfg, mini_data["train"], tmp_path / "full")
    train(cfg, mini_data["train"], tmp_path / "cut", stop_after=2)
    train(cfg, mini_data["train"], tmp_path / "cut", resume=True)
    logs = {r: [json.loads(ln) for ln in (tmp_path / r / "train_log.jsonl").read_text().splitlines()
                if '"train"' in ln] for r in ("full", "cut")}
    assert [r["step"] for r in logs["cut"]] == [1, 2, 3, 4]
    for a, b in zip(logs["full"], logs["cut"]):
        assert np.isfinite(a["loss/total"])
        assert a["loss/rec"] == pytest.approx(b["loss/rec"], rel=1e-5, abs=1e-7), a["step"]
