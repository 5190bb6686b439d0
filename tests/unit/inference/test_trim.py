"""extract --trim / Embedder.trim (issue 21 item 3): inputs embedded whole are energy-trimmed as prepare trims."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import speechdis
from speechdis.audio.trim import energy_bounds, energy_bounds_blocks, file_energy_bounds
from speechdis.cli import main as cli_main

RATE = 16000


def _clip(seed: int = 0) -> np.ndarray:
    """0.5 s of faint noise, 0.4 s of a loud harmonic burst, 0.3 s of faint noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.4 * RATE)) / RATE
    burst = sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 8)) * 0.3
    faint = lambda s: 0.001 * rng.standard_normal(int(s * RATE))  # noqa: E731
    return np.concatenate([faint(0.5), burst, faint(0.3)]).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return speechdis.load_model("speechcommands", device="cpu")


@pytest.mark.parametrize("block", [1, 250, 399, 401, 4000, 100000])
def test_block_energy_bounds_equal_whole_wave_bounds(block):
    wave = _clip()
    got = energy_bounds_blocks((wave[i:i + block] for i in range(0, len(wave), block)), RATE)
    assert got == energy_bounds(wave, RATE)
    assert 0.4 < got[0] < 0.5 and 0.9 < got[1] < 1.0  # the burst, padded by 30 ms


def test_packaged_models_record_their_trim_and_it_can_be_turned_off(model):
    # recipes/speechcommands/run.sh prepares with prepare's defaults (35 dB, 30 ms pad): recorded in model.pt.
    assert model.trim == {"trim_db": 35.0, "pad": 0.03}
    assert speechdis.load_model("speechcommands", device="cpu", trim=False).trim is None


def test_a_file_embedded_whole_is_its_trimmed_span(model, tmp_path):
    wave = _clip()
    sf.write(tmp_path / "c.wav", wave, RATE)
    span = file_energy_bounds(tmp_path / "c.wav")
    feats = model.file_features(tmp_path / "c.wav")
    want = model.embed_features(model.cut(feats, [span]))  # whole-file features, then the trimmed span
    got = model.embed_file(tmp_path / "c.wav")
    untrimmed = model.embed_features([feats])
    for k in want:
        np.testing.assert_allclose(got[k], want[k], atol=1e-5)
        assert not np.allclose(got[k], untrimmed[k], atol=1e-3)
    wave, _ = sf.read(tmp_path / "c.wav", dtype="float32")  # the 16-bit samples of the file
    np.testing.assert_allclose(model.embed_waveform(wave, RATE)["speaker"], want["speaker"], atol=1e-5)
    np.testing.assert_allclose(model.embed_speaker([tmp_path / "c.wav"]), want["speaker"][0], atol=1e-5)


def test_extract_trims_by_default_for_the_packaged_model_and_no_trim_keeps_the_file(tmp_path):
    sf.write(tmp_path / "c.wav", _clip(), RATE)
    start, end = file_energy_bounds(tmp_path / "c.wav")
    assert cli_main(["extract", "--model", "speechcommands", str(tmp_path / "c.wav"), "--out",
                     str(tmp_path / "t.npz"), "--device", "cpu"]) == 0
    assert cli_main(["extract", "--model", "speechcommands", str(tmp_path / "c.wav"), "--out",
                     str(tmp_path / "n.npz"), "--device", "cpu", "--no-trim"]) == 0
    t, n = np.load(tmp_path / "t.npz"), np.load(tmp_path / "n.npz")
    assert (t["starts"][0], t["ends"][0]) == pytest.approx((start, end))
    assert n["starts"][0] == 0.0 and n["ends"][0] == pytest.approx(1.2, abs=0.02)
    assert not np.allclose(t["speaker"], n["speaker"], atol=1e-3)


def test_train_records_the_data_dirs_trim_in_model_pt(tmp_path_factory, tmp_path):
    import shutil

    from speechdis.audio.trim import write_trim_record
    from speechdis.config import from_dict
    from speechdis.training.checkpoint import load_checkpoint
    from speechdis.training.config import TrainConfig
    from speechdis.training.loop import train
    from tests.helpers import tiny_config_dict, tiny_setup

    setup = tiny_setup(tmp_path_factory)
    assert speechdis.load_model(setup.disentangled, device="cpu").trim is None  # untrimmed data: no trim
    data = tmp_path / "data"
    shutil.copytree(setup.data, data)
    write_trim_record(data, True, trim_db=30.0, pad=0.05)
    train(from_dict(TrainConfig, tiny_config_dict("baseline")), data, tmp_path / "exp")  # 3 steps
    assert load_checkpoint(tmp_path / "exp" / "model.pt", "cpu")["input_trim"] == {"trim_db": 30.0, "pad": 0.05}
    assert speechdis.load_model(tmp_path / "exp", device="cpu").trim == {"trim_db": 30.0, "pad": 0.05}
