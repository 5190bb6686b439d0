"""The Kaldi-style speaker back end: what it removes, how it is stored in the model file and applied on load."""
from __future__ import annotations

import numpy as np
import pytest

import speechdis
from speechdis.errors import ConfigError, ModelError
from speechdis.eval.speaker import eer
from speechdis.inference.backend import SpeakerBackend, attach_speaker_backend, fit_backend_on_data, fit_speaker_backend


def _speakers(rng: np.random.Generator, n_spk: int, per: int, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Vectors whose speaker lives in 4 dims and a large per-vector nuisance (channel, words) in the others,
    all riding on a large common offset: raw cosine sees mostly nuisance and offset."""
    means = np.zeros((n_spk, dim))
    means[:, :4] = rng.normal(0, 1, (n_spk, 4))
    x = np.repeat(means, per, axis=0) + 0.2 * rng.normal(0, 1, (n_spk * per, dim))
    x[:, 4:] += rng.normal(0, 3, (n_spk * per, dim - 4))
    x += 10.0
    return x, np.repeat(np.arange(n_spk), per)


def _eer(x: np.ndarray, spk: np.ndarray) -> float:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    iu = np.triu_indices(len(x), 1)
    return eer((x @ x.T)[iu], spk[iu[0]] == spk[iu[1]])[0]


def test_lda_fitted_on_training_speakers_lowers_the_eer_of_unseen_speakers():
    rng = np.random.default_rng(0)
    train, train_spk = _speakers(rng, 40, 10)
    test, test_spk = _speakers(rng, 15, 6)  # other speakers from the same population
    be = fit_speaker_backend(train, train_spk, lda_dim=4)
    assert (be.in_dim, be.out_dim, be.n_speakers, be.n_vectors) == (16, 4, 40, 400)
    out = be.apply(test)
    assert out.dtype == np.float32 and out.shape == (90, 4)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    raw, centred, lda = _eer(test, test_spk), _eer(fit_speaker_backend(train, train_spk, 0).apply(test), test_spk), \
        _eer(out, test_spk)
    assert raw > 0.3 and lda < 0.1 and lda < centred, (raw, centred, lda)


def test_centring_only_and_default_dimension():
    rng = np.random.default_rng(1)
    x, spk = _speakers(rng, 5, 4)
    be0 = fit_speaker_backend(x, spk, lda_dim=0)
    assert be0.lda is None and be0.out_dim == 16
    np.testing.assert_allclose(be0.apply(x), (x - x.mean(0)) / np.linalg.norm(x - x.mean(0), axis=1, keepdims=True),
                               rtol=1e-5, atol=1e-6)
    assert fit_speaker_backend(x, spk).out_dim == 4  # min(dim 16, 5 speakers - 1)


@pytest.mark.parametrize("kwargs,message", [
    ({"lda_dim": 5}, "lda_dim must be in 1..4"),
    ({"speakers": [0] * 20}, "at least 2 speakers"),
    ({"speakers": list(range(20))}, r"20 speaker\(s\), 0 with 2\+ vectors"),
])
def test_bad_fits_are_refused_with_the_reason(kwargs, message):
    x, spk = _speakers(np.random.default_rng(2), 5, 4)
    spk = kwargs.pop("speakers", spk)
    with pytest.raises(ConfigError, match=message):
        fit_speaker_backend(x, spk, **kwargs)


def test_state_round_trip_and_wrong_input_dimension():
    x, spk = _speakers(np.random.default_rng(3), 6, 5)
    be = fit_speaker_backend(x, spk, lda_dim=3)
    again = SpeakerBackend.from_state(be.to_state())
    np.testing.assert_array_equal(again.apply(x), be.apply(x))
    with pytest.raises(ConfigError, match=r"\(N, 16\)"):
        be.apply(x[:, :8])
    with pytest.raises(ModelError, match="model.pt: malformed speaker_backend"):
        SpeakerBackend.from_state({"lda": [[1.0]]}, "model.pt")


def test_backend_in_the_model_file_is_applied_to_speaker_vectors_only(tmp_path, tiny_data_dir, tiny_corpus):
    raw = speechdis.load_model("speechcommands", device="cpu", backend=False)
    assert raw.speaker_backend is None
    report = fit_backend_on_data(raw, [tiny_data_dir], lda_dim=1)
    assert report.per_dir == [(str(tiny_data_dir), 8, 2)] and "fitted on 8 vectors of 2 speakers" in report.summary()
    out = attach_speaker_backend(raw.path, report.backend, tmp_path / "with_backend.pt",
                                 fitted_on={"data": [str(tiny_data_dir)]})
    wav = next(tiny_corpus.root.rglob("*.flac"))
    before = raw.embed_file(wav)
    emb = speechdis.load_model(out, device="cpu")
    assert emb.dims["speaker"] == 1 and emb.dims["phonetic"] == raw.dims["phonetic"]
    after = emb.embed_file(wav)
    np.testing.assert_allclose(after["speaker"], report.backend.apply(before["speaker"]), atol=1e-5)
    np.testing.assert_allclose(after["phonetic"], before["phonetic"], atol=1e-6)
    np.testing.assert_allclose(speechdis.load_model(out, device="cpu", backend=False).embed_file(wav)["speaker"],
                               before["speaker"], atol=1e-6)
    with pytest.raises(ConfigError, match="backend=False"):
        fit_backend_on_data(emb, [tiny_data_dir])
    with pytest.raises(ModelError, match="takes 3"):
        attach_speaker_backend(raw.path, SpeakerBackend(mean=np.zeros(3)), tmp_path / "bad.pt")


def test_backend_command_writes_a_model_that_loads(tmp_path, tiny_data_dir, capsys):
    from speechdis.cli import main

    src = tmp_path / "sc.pt"
    src.write_bytes(speechdis.load_model("speechcommands", device="cpu").path.read_bytes())
    assert main(["backend", str(src), "--data", str(tiny_data_dir), "--out", str(src), "--lda-dim", "0"]) == 0
    assert "centring + no LDA + length norm, fitted on 8 vectors of 2 speakers" in capsys.readouterr().out
    emb = speechdis.load_model(src, device="cpu")
    assert emb.speaker_backend is not None and emb.speaker_backend.lda is None


def test_packaged_english_model_carries_a_sentence_backend_and_extract_can_skip_it(tmp_path, tiny_corpus):
    from speechdis.cli import main

    emb = speechdis.load_model("english", device="cpu")
    be = emb.speaker_backend
    assert be is not None and be.lda is not None and emb.dims["speaker"] == be.out_dim < be.in_dim
    wav = next(tiny_corpus.root.rglob("*.flac"))
    for flag, dim in (([], be.out_dim), (["--no-backend"], be.in_dim)):
        out = tmp_path / f"e{len(flag)}.npz"
        assert main(["extract", "--model", "english", str(wav), "--out", str(out), "--no-progress", *flag]) == 0
        assert np.load(out)["speaker"].shape == (1, dim)
