"""InfoGAN's paper-layout options: the authors' layers, noise, fixed-variance continuous codes, code balance."""
from __future__ import annotations

import math

import pytest
import torch

from speechdis.errors import ConfigError
from speechdis.image.infogan import InfoGAN
from speechdis.image.registry import get_spec, make_config

PAPER = {"width": "8", "hidden": "32", "q_hidden": "16", "g_hidden": "24", "d_fc_norm": "true",
         "cont_std": "fixed", "cont_weight": "1.0", "noise": "uniform", "cat_balance": "0.5", "lr_q": "0.001"}


def test_paper_layout_has_its_layers_and_trains():
    cfg = make_config("infogan", steps=2, overrides=PAPER)
    modules = get_spec("infogan").build(cfg)
    model = modules["infogan"]
    linears = [m for m in model.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears][0] == 24  # G's extra fully connected layer comes first
    assert any(isinstance(m, torch.nn.BatchNorm1d) and m.num_features == 32
               for m in model.discriminator["body"].modules())  # batch norm on D's fully connected layer
    z = model.sample_noise(500, torch.Generator().manual_seed(0))
    assert z.min() >= -1 and z.max() <= 1 and z.std() < 0.7  # U(-1, 1) has std 0.58, N(0, 1) 1
    logs = get_spec("infogan").fit(cfg, modules, seed=0)
    assert {"d_code_balance", "mi_cat", "mi_cont"} <= logs.keys() and all(math.isfinite(v) for v in logs.values())


def test_code_balance_is_zero_when_spread_and_log_k_when_merged():
    model = InfoGAN(make_config("infogan", overrides={"width": "8"}))
    k = model.codes.cat_dim
    q = torch.zeros(2 * k, model.codes.q_dim)
    q[torch.arange(2 * k), torch.arange(2 * k) % k] = 30.0  # confident, every value used equally
    assert model.code_balance(q).item() == pytest.approx(0.0, abs=1e-4)
    q[:, :k] = 0.0
    q[:, 3] = 30.0  # every image on one code value
    assert model.code_balance(q).item() == pytest.approx(math.log(k), abs=1e-4)


def test_unknown_choices_are_refused():
    for key in ("cont_std", "noise"):
        with pytest.raises(ConfigError, match=key):
            InfoGAN(make_config("infogan", overrides={key: "gamma"}))
