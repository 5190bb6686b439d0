"""The top-level Python API (issue 23 item 6): typed load_model, Embedder exported, cosine, Embedder.verify."""
from __future__ import annotations

import typing

import numpy as np
import pytest

import speechdis
from tests.helpers import untrained_image_model, write_wave


def test_load_model_is_typed_and_embedder_exported():
    from speechdis.inference.model import Embedder

    assert speechdis.Embedder is Embedder and "Embedder" in speechdis.__all__
    hints = typing.get_type_hints(speechdis.load_model, vars(speechdis) | {"Embedder": Embedder})
    assert hints["return"] is Embedder and "model" in hints
    with pytest.raises(AttributeError):
        speechdis.no_such_name  # noqa: B018


def test_cosine():
    assert speechdis.cosine([1, 0], [2, 0]) == pytest.approx(1.0)
    assert speechdis.cosine([1, 0], [0, 3]) == pytest.approx(0.0)
    assert speechdis.cosine([1, 1], [-1, -1]) == pytest.approx(-1.0)
    assert speechdis.cosine([0, 0], [1, 0]) == 0.0
    with pytest.raises(ValueError):
        speechdis.cosine([1, 0], [1, 0, 0])


def test_verify_scores_two_speakers_files(tmp_path):
    m = speechdis.load_model("speechcommands", device="cpu")
    a = write_wave(tmp_path / "a.wav", 0.6, freq=180.0, seed=1)
    a2 = write_wave(tmp_path / "a2.wav", 0.7, freq=180.0, seed=2)
    b = write_wave(tmp_path / "b.wav", 0.6, freq=900.0, seed=3)
    same, other = m.verify(a, a2), m.verify([a, a2], b)
    assert -1.0 <= other <= 1.0 and m.verify(a, a) == pytest.approx(1.0, abs=1e-5)
    ref = speechdis.cosine(m.embed_speaker([a, a2]), m.embed_speaker(b))
    assert other == pytest.approx(ref) and np.isfinite(same)


def test_image_models_load_through_speechdis_image(tmp_path):
    import speechdis.image
    from speechdis.errors import ModelError

    d = untrained_image_model(tmp_path / "img")
    with pytest.raises(ModelError, match="speechdis.image.load_model"):
        speechdis.load_model(d, device="cpu")
    assert speechdis.image.load_model(d, device="cpu").name == "dann"
    with pytest.raises(ModelError, match="speechdis.load_model"):
        speechdis.image.load_model(speechdis.inference.model.find_model_file("speechcommands")[0], device="cpu")
