"""Image configs (issue 20 item 5): one base with the shared fields, choices as Literals checked when built in
code and when loaded, the data sets a model offers read from its config."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from speechdis.config import from_dict
from speechdis.errors import ConfigError
from speechdis.image.config import DatasetConfig, ImageConfig
from speechdis.image.registry import IMAGE_MODELS, make_config


@pytest.mark.parametrize("name", IMAGE_MODELS.names())
def test_every_image_config_has_the_shared_fields_and_offers_its_default_data_set_first(name):
    spec = IMAGE_MODELS.get(name)
    cfg = spec.config_type()
    assert isinstance(cfg, ImageConfig)
    assert [f.name for f in dataclasses.fields(cfg)][:3] == ["steps", "batch_size", "width"]
    if isinstance(cfg, DatasetConfig):
        assert spec.datasets and spec.datasets[0] == cfg.dataset
    else:
        assert spec.datasets == ()


@pytest.mark.parametrize("name", IMAGE_MODELS.names())
def test_image_configs_have_no_free_string_choices(name):
    """A str field left is a path (data_dir), never a closed choice."""
    cls = IMAGE_MODELS.get(name).config_type
    hints = typing.get_type_hints(cls)
    assert [f.name for f in dataclasses.fields(cls) if hints[f.name] is str] in ([], ["data_dir"])


@pytest.mark.parametrize("name,key,value", [
    ("infogan", "loss", "lsgan"), ("infogan", "noise", "laplace"), ("infogan", "d_norm", "instance"),
    ("dann", "target", "sepia"), ("crossdomain", "domain_y", "sepia"), ("vaegan", "dataset", "digits"),
    ("edit", "dataset", "mnist"),
])
def test_a_bad_choice_is_a_config_error_built_in_code_or_loaded(name, key, value):
    cls = IMAGE_MODELS.get(name).config_type
    with pytest.raises(ConfigError, match=rf"config key '{key}': '{value}' is not one of"):
        cls(**{key: value})
    with pytest.raises(ConfigError, match=rf"'{key}': '{value}' is not one of"):
        from_dict(cls, {key: value})


@pytest.mark.parametrize("key", ["steps", "batch_size", "width"])
def test_shared_sizes_must_be_positive(key):
    with pytest.raises(ConfigError, match=rf"config key '{key}': must be ≥ 1, got 0"):
        IMAGE_MODELS.get("bigan").config_type(**{key: 0})
    with pytest.raises(ConfigError, match=key):
        make_config("twostage", overrides={key: "0"})


def test_each_preset_file_sets_a_data_set_of_its_model_and_changes_its_defaults():
    from speechdis.config import read_config_file, to_dict
    from speechdis.image.registry import PRESETS_DIR, preset_file

    files = sorted(PRESETS_DIR.glob("*.yaml"))
    assert files
    for path in files:
        name, _, dataset = path.stem.rpartition("_")
        assert preset_file(name, dataset) == path
        settings = read_config_file(path)
        assert settings["dataset"] == dataset and dataset in IMAGE_MODELS.get(name).datasets
        cfg = make_config(name, overrides={"dataset": dataset})
        defaults = to_dict(IMAGE_MODELS.get(name).config_type())
        assert {k: to_dict(cfg)[k] for k in settings} == settings and all(defaults[k] != v for k, v in
                                                                           settings.items() if k != "dataset")
    assert preset_file("infogan", "digits") is None and make_config("infogan") == IMAGE_MODELS.get(
        "infogan").config_type()


def test_the_recipe_conf_folder_is_the_package_presets():
    from pathlib import Path

    from speechdis.image.registry import PRESETS_DIR

    conf = Path(__file__).resolve().parents[3] / "recipes" / "images" / "conf"
    assert conf.resolve() == PRESETS_DIR.resolve()


def test_a_set_value_overrides_the_preset():
    cfg = make_config("dann", overrides={"dataset": "mnist", "lr": "0.01", "data_dir": "/x"})
    assert cfg.lr == 0.01 and cfg.target == "textured" and cfg.data_dir == "/x"
