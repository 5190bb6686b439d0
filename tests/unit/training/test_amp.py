"""Mixed precision (train.amp: none | bf16 | fp16) on CPU: config switch, autocast dtype, fp16 gradient scaling."""
import math

import pytest
import torch

from speechdis.adversarial import AlternatingTrainer
from speechdis.config import load_config
from speechdis.errors import ConfigError
from speechdis.training.config import TrainConfig
from speechdis.training.loop import train
from tests.helpers import tiny_train_config as _cfg


@pytest.mark.parametrize("value,mode", [("true", "bf16"), ("false", "none"), ("bf16", "bf16"), ("fp16", "fp16"),
                                        ("none", "none")])
def test_amp_values_and_the_old_boolean(value, mode):
    assert load_config(TrainConfig, None, [f"train.amp={value}"]).train.amp == mode


@pytest.mark.parametrize("value", ["fp32", "float16", "3"])
def test_bad_amp_value_names_the_key(value):
    with pytest.raises(ConfigError, match="train.amp"):
        load_config(TrainConfig, None, [f"train.amp={value}"])


def test_bad_amp_value_for_the_trainer():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="amp must be one of"):
        AlternatingTrainer(opt, n_critic=0, amp="fp8")


@pytest.mark.parametrize("amp,dtype", [("none", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_autocast_dtype_on_cpu(amp, dtype):
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    trainer = AlternatingTrainer(torch.optim.SGD(net.parameters(), lr=0.1), n_critic=0, amp=amp)
    seen = []

    def loss_fn(x):
        y = net(x)
        seen.append(y.dtype)
        return y.float().pow(2).mean(), {}

    before = net.weight.detach().clone()
    # Small inputs: fp16's first gradient scale (65536) would overflow on larger ones and skip the step.
    trainer.generator_step(loss_fn, 1e-3 * torch.randn(8, 4))
    assert seen == [dtype]
    assert net.weight.dtype == torch.float32 and not torch.equal(net.weight, before)  # master weights stay fp32


def test_fp16_scaler_skips_an_overflowing_step_and_clips_true_gradients():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    trainer = AlternatingTrainer(torch.optim.SGD(net.parameters(), lr=1.0), n_critic=0, amp="fp16",
                                 clip_grad=1e-4, clip_mode="value")
    scaler = trainer.scalers["generator"]
    scale = scaler.get_scale()

    def loss_fn(x):
        return net(x).float().sum(), {}  # d loss / d w = x

    # x = 10: the scaled fp16 gradient (10 x 65536) overflows: the step is skipped and the scale halved.
    trainer.generator_step(loss_fn, torch.full((1, 1), 10.0))
    assert net.weight.item() == 1.0 and scaler.get_scale() == scale / 2
    # x = 1e-3: the true gradient is clipped to 1e-4; clipping the scaled one (~33) instead would have moved
    # w by 1e-4 / 32768 only.
    trainer.generator_step(loss_fn, torch.full((1, 1), 1e-3))
    assert net.weight.item() == pytest.approx(1.0 - 1e-4, rel=1e-6)
    fresh = AlternatingTrainer(torch.optim.SGD(net.parameters(), lr=1.0), n_critic=0, amp="fp16")
    fresh.load_state_dict(trainer.state_dict())
    assert fresh.scalers["generator"].get_scale() == scale / 2


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_training_steps_under_amp_on_cpu(mini_data, tmp_path, amp):
    # WGAN-GP: the gradient penalty's double backward runs under autocast too.
    cfg = _cfg(train__steps=3, train__amp=amp, loss__adv_mode="wgan", loss__n_critic=1)
    res = train(cfg, mini_data["train"], tmp_path / "exp")
    assert res.steps == 3
    assert all(math.isfinite(v) for v in res.final.values()) and "loss/rec" in res.final
    state = torch.load(tmp_path / "exp" / "checkpoints" / "latest.pt", weights_only=True)
    assert ("grad_scalers" in state) == (amp == "fp16")
    if amp == "fp16":
        assert set(state["grad_scalers"]) == {"generator", "critic"}
