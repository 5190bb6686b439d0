"""Reliability cases of issue 10: no silent corruption, no unsafe loading, no orphans, one-line errors."""
from __future__ import annotations

import pytest

from speechdis.config import from_dict
from speechdis.errors import ConfigError
from speechdis.training.config import TrainConfig


# ---------------------------------------------------------------- 3, 13: config values that pass types but not sense
@pytest.mark.parametrize("section,key,value,match", [
    ("train", "steps", -5, r"train\.steps must be ≥ 1, got -5"),
    ("train", "steps", 0, r"train\.steps must be ≥ 1, got 0"),
    ("train", "ckpt_every", 0, r"train\.ckpt_every must be ≥ 1"),
    ("train", "log_every", 0, r"train\.log_every must be ≥ 1"),
    ("train", "valid_every", 0, r"train\.valid_every must be ≥ 1"),
    ("data", "crop_frames", 0, r"data\.crop_frames must be ≥ 1"),
    ("data", "crop_frames", -3, r"data\.crop_frames must be ≥ 1"),
    ("data", "speakers_per_batch", 0, r"data\.speakers_per_batch must be ≥ 1"),
    ("optim", "lr", -0.1, r"optim\.lr must be > 0"),
    ("model", "kind", "images", r"model\.kind is 'images'; allowed: disentangled, baseline"),
    ("model", "rnn", "transformer", r"model\.rnn is 'transformer'; allowed: gru, lstm"),
    ("model", "hidden", 0, r"model\.hidden must be ≥ 1"),
])
def test_config_values_that_would_crash_later_are_config_errors(section, key, value, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(TrainConfig, {section: {key: value}})


def test_train_cli_rejects_zero_steps_in_one_line(tmp_path, capsys):
    from speechdis.cli import main

    rc = main(["train", "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "exp"),
               "--set", "train.steps=0"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "train.steps must be ≥ 1, got 0" in err
    assert not (tmp_path / "exp" / "model.pt").exists()
