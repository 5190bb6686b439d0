"""One config convention (issue 20 item 5): choices are Literals checked by the loader *and* when a config is built
in code, and every config check raises ConfigError (still a ValueError for callers that caught that)."""
from __future__ import annotations

import dataclasses
import typing
from typing import Literal, Optional

import pytest

from speechdis.audio.features import FeatureConfig
from speechdis.config import check_choices, from_dict
from speechdis.errors import ConfigError, SpeechdisError
from speechdis.speech.models import ModelConfig
from speechdis.speech.objective import LossConfig
from speechdis.training.config import DataConfig, LoopConfig, OptimConfig, TrainConfig


def test_config_error_is_both_a_speechdis_error_and_a_value_error():
    assert issubclass(ConfigError, SpeechdisError) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("cls,kwargs,key", [
    (ModelConfig, {"rnn": "transformer"}, "model.rnn"),
    (ModelConfig, {"speaker_pooling": "max"}, "model.speaker_pooling"),
    (LossConfig, {"adv_mode": "gan"}, "loss.adv_mode"),
    (LossConfig, {"critic_batches": "stale"}, "loss.critic_batches"),
    (OptimConfig, {"clip_mode": "both"}, "optim.clip_mode"),
    (DataConfig, {"storage_dtype": "int8"}, "data.storage_dtype"),
    (DataConfig, {"cmvn": "global"}, "data.cmvn"),
    (LoopConfig, {"amp": "fp8"}, "train.amp"),
    (FeatureConfig, {"window": "blackman"}, "window"),
])
def test_a_config_built_in_code_is_held_to_its_choices(cls, kwargs, key):
    with pytest.raises(ConfigError, match=rf"config key '{key}': .* is not one of|config key '{key}': .* does not"):
        cls(**kwargs)


def test_choices_allow_their_values_and_none_where_optional():
    assert DataConfig(cmvn=None).cmvn is None and DataConfig(cmvn="none").cmvn == "none"
    assert LoopConfig(amp=True).amp == "bf16" and LoopConfig(amp="fp16").amp == "fp16"


@pytest.mark.parametrize("section,key,value", [
    ("loss", "same_fraction", 1.5), ("data", "speed_perturb", [3.0]), ("train", "steps", 0),
])
def test_value_checks_raise_config_error_when_built_in_code(section, key, value):
    cls = {"loss": LossConfig, "data": DataConfig, "train": LoopConfig}[section]
    with pytest.raises(ConfigError, match=rf"{section}\.{key}"):
        TrainConfig(**{section: cls(**{key: value})}) if section == "train" else cls(**{key: value})


def test_the_loader_gives_a_post_init_error_as_it_is_raised(tmp_path):
    with pytest.raises(ConfigError, match=r"^loss\.same_fraction must be strictly between 0 and 1$"):
        from_dict(TrainConfig, {"loss": {"same_fraction": 2.0}})


def test_check_choices_names_the_key_with_its_prefix():
    @dataclasses.dataclass
    class C:
        mode: Literal["a", "b"] = "a"
        maybe: Optional[Literal["x"]] = None
        free: str = "anything"

    check_choices(C(free="zzz"))
    with pytest.raises(ConfigError, match=r"config key 'sec\.mode': 'c' is not one of 'a', 'b'"):
        check_choices(C(mode="c"), "sec.")
    with pytest.raises(ConfigError, match=r"config key 'maybe'"):
        check_choices(C(maybe="y"))


def _str_fields(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls) if hints[f.name] is str]


def test_speech_config_choices_are_literals():
    """Free strings left in the speech configs are names or paths, not closed choices."""
    assert _str_fields(ModelConfig) == ["kind"]  # a registry name (SPEECH_MODELS), checked by TrainConfig
    assert _str_fields(LoopConfig) == ["device"]  # auto | cpu | cuda | cuda:N
