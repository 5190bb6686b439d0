"""Reliability cases of issue 10 (training configs and runs): no silent corruption, no unsafe loading, no orphans,
one-line errors."""
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
    ("model", "rnn", "transformer", r"config key 'model\.rnn': 'transformer' is not one of 'gru', 'lstm'"),
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


# ----------------------------------------------------------------------------------------------- training
_TINY_TRAIN = {
    "model": {"hidden": 16, "layers": 1, "phonetic_dim": 8, "speaker_dim": 8, "embed_dim": 8,
              "decoder_hidden": 16, "decoder_layers": 1, "critic_hidden": [16]},
    "loss": {"pairs_per_batch": 8, "n_critic": 1},
    "data": {"speakers_per_batch": 4, "segments_per_speaker": 4, "crop_frames": 30, "valid_speakers": 2,
             "preload": True},
    "train": {"steps": 4, "log_every": 1, "valid_every": 1000, "ckpt_every": 2, "seed": 1, "device": "cpu"},
}


def _tcfg(**over):
    import copy

    data = copy.deepcopy(_TINY_TRAIN)
    for key, value in over.items():
        section, name = key.split("__")
        data[section][name] = value
    return from_dict(TrainConfig, data)


def test_resume_with_another_setup_is_refused_in_one_line(mini_data, tmp_path):
    """6: another adv_mode, model size or --data on --resume is refused (one line), unless forced."""
    import shutil

    from speechdis.errors import ModelError
    from speechdis.training.loop import train

    exp = tmp_path / "exp"
    train(_tcfg(), mini_data["train"], exp, stop_after=2)
    config_before = (exp / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"loss\.adv_mode: 'wgan' → 'grl'.*--force") as e:
        train(_tcfg(loss__adv_mode="grl"), mini_data["train"], exp, resume=True)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"model\.hidden: 16 → 32"):
        train(_tcfg(model__hidden=32), mini_data["train"], exp, resume=True)
    other = tmp_path / "other_train"
    shutil.copytree(mini_data["train"], other)
    with pytest.raises(ConfigError, match=r"--data: .*train → .*other_train"):
        train(_tcfg(), other, exp, resume=True)
    assert (exp / "config.yaml").read_text() == config_before  # not overwritten by a refused resume
    # forced with weights that cannot fit: still one line
    with pytest.raises(ModelError, match="does not fit this config") as e:
        train(_tcfg(model__hidden=32), mini_data["train"], exp, resume=True, force=True)
    assert "\n" not in str(e.value)
    # allowed changes: more steps, another logging cadence
    res = train(_tcfg(train__steps=5, train__log_every=2), mini_data["train"], exp, resume=True)
    assert res.steps == 5


def test_resume_survives_a_half_written_log_line_and_cleans_tmp_files(mini_data, tmp_path):
    """10 (checkpoints) and 14 (log): leftovers of a killed run do not break or litter the resume."""
    from speechdis.training.loop import train

    exp = tmp_path / "exp"
    train(_tcfg(), mini_data["train"], exp, stop_after=2)
    with open(exp / "train_log.jsonl", "a") as f:
        f.write('{"step": 3, "split": "tr')
    stale = [exp / "checkpoints" / ".ckpt-00000004.pt.ab12cd.tmp", exp / "checkpoints" / ".latest.pt.x9.tmp",
             exp / ".model.pt.q1.tmp"]
    for p in stale:
        p.write_bytes(b"\0" * 1000)
    res = train(_tcfg(), mini_data["train"], exp, resume=True)
    assert res.steps == 4 and not any(p.exists() for p in stale)
    import json

    recs = [json.loads(ln) for ln in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["split"] == "train"] == [1, 2, 3, 4]


def test_train_with_a_missing_data_dir_creates_nothing(tmp_path, capsys):
    from speechdis.cli import main

    rc = main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "exp")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "missing: no such data dir" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "exp").exists()


def test_set_typo_is_an_override_problem_not_the_config_files(tmp_path, capsys):
    from speechdis.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  steps: 5\n")
    for argv, blamed in [
        (["--set", "trian.steps=3"], "--set trian.steps=3: unknown config key 'trian'"),
        (["--set", "train.steps=3", "--set", "model.hiden=4"], "--set model.hiden=4: unknown config key 'model.hiden'"),
        (["--set", "model.hidden=0"], "--set model.hidden=0: "),
    ]:
        rc = main(["train", "--config", str(cfg), "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "x")]
                  + argv)
        err = capsys.readouterr().err.strip()
        assert rc != 0 and len(err.splitlines()) == 1 and blamed in err and str(cfg) not in err, err
    cfg.write_text("train:\n  stpes: 5\n")  # the file's own typo is still the file's
    rc = main(["train", "--config", str(cfg), "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "x"),
               "--set", "train.seed=1"])
    err = capsys.readouterr().err
    assert rc != 0 and f"{cfg}: unknown config key 'train.stpes'" in err and "--set" not in err
    rc = main(["features", str(tmp_path / "nodata"), "--set", "windw=hamming"])
    assert rc != 0 and "--set windw=hamming: unknown config key 'windw'" in capsys.readouterr().err
