"""Resumable image training: a run stopped and resumed equals the uninterrupted run bit for bit."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from speechdis.errors import ConfigError, ModelError
from speechdis.image import registry
from speechdis.image.common import read_image_model
from speechdis.image.resume import checkpoint_files
from speechdis.training.checkpoint import load_checkpoint


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """One thread, and no evaluation (pictures, reference classifier): only training is under test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    real = registry.get_spec
    monkeypatch.setattr(registry, "get_spec",
                        lambda name: dataclasses.replace(real(name), evaluate=lambda *a: {"evaluated": 1.0}))
    yield
    torch.set_num_threads(before)


INFOGAN = {"width": "8", "hidden": "16", "curve_every": "2", "batch_size": "16"}


def _train(out, name="infogan", steps=6, overrides=INFOGAN, **kw):
    return registry.train_model(name, out, steps=steps, seed=3, overrides=overrides, **kw)


def _assert_same_model(a, b):
    ma, mb = read_image_model(a)["modules"], read_image_model(b)["modules"]
    assert ma.keys() == mb.keys()
    for k in ma:
        assert ma[k].keys() == mb[k].keys()
        for p in ma[k]:
            assert torch.equal(ma[k][p], mb[k][p]), (k, p)


def test_stopped_and_resumed_infogan_equals_the_uninterrupted_run(tmp_path):
    full = _train(tmp_path / "full", checkpoint_every=3)
    assert not checkpoint_files(tmp_path / "full")  # removed once model.pt is written
    assert _train(tmp_path / "cut", checkpoint_every=3, stop_after=4) is None
    [ck] = checkpoint_files(tmp_path / "cut")
    state = load_checkpoint(ck)
    assert (state["step"], state["done"]) == (4, False)  # written where it stopped
    assert set(state["state"]) == {"curve_unsupervised_error_step2"}  # the metric curve so far (step 4's: next)
    assert not (tmp_path / "cut" / "model.pt").exists()
    resumed = _train(tmp_path / "cut", checkpoint_every=3, resume=True)
    _assert_same_model(tmp_path / "full", tmp_path / "cut")
    assert resumed["final_losses"] == full["final_losses"]  # the summed logs and the whole metric curve
    assert {k for k in full["final_losses"] if k.startswith("curve_")} == {
        "curve_unsupervised_error_step2", "curve_unsupervised_error_step4"}
    assert resumed["resumed"] and resumed["train_seconds"] > 0


def test_resuming_a_two_phase_model_in_either_phase_equals_the_uninterrupted_run(tmp_path):
    # Triple-GAN trains its model, then (second phase) a baseline classifier, from one shared generator.
    kw = {"name": "triplegan", "steps": 4, "overrides": {"width": "8"}, "checkpoint_every": 2}
    full = _train(tmp_path / "full", **kw)
    for stop in (3, 6):  # inside phase 0; inside phase 1 (after phase 0's 4 steps)
        out = tmp_path / f"cut{stop}"
        assert _train(out, stop_after=stop, **kw) is None
        phases = [load_checkpoint(p) for p in checkpoint_files(out)]
        expected = [("phase0-triplegan", stop > 4)] + ([("phase1-triplegan-baseline", False)] if stop > 4 else [])
        assert [(p["phase"], p["done"]) for p in phases] == expected
        resumed = _train(out, resume=True, **kw)
        _assert_same_model(tmp_path / "full", out)
        assert resumed["final_losses"] == full["final_losses"]


def test_a_checkpoint_write_killed_half_way_leaves_the_previous_one(tmp_path, monkeypatch):
    import speechdis.training.checkpoint as ckmod

    _train(tmp_path / "full", checkpoint_every=2)
    real_save, calls = torch.save, []

    def dying_save(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint (step 4): a few bytes, then the process "dies"
            f.write(b"PK\x03\x04 half a file")
            raise KeyboardInterrupt
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(ckmod.torch, "save", dying_save)
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        _train(out, checkpoint_every=2)
    monkeypatch.setattr(ckmod.torch, "save", real_save)
    [ck] = checkpoint_files(out)
    assert load_checkpoint(ck)["step"] == 2  # the step-2 checkpoint, intact
    (ck.parent / f".{ck.name}.abc123.tmp").write_bytes(b"left by a kill -9")  # what a hard kill leaves
    _train(out, checkpoint_every=2, resume=True)
    _assert_same_model(tmp_path / "full", out)
    assert not list(ck.parent.glob(".*.tmp"))


def test_resume_refuses_what_is_not_the_same_run(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ModelError, match="no checkpoint"):
        _train(out, resume=True)
    _train(out, stop_after=2, checkpoint_every=0)
    with pytest.raises(ModelError, match="interrupted training run"):
        _train(out)  # without --resume it would be overwritten
    with pytest.raises(ConfigError, match=r"batch_size: 16 → 8"):
        _train(out, resume=True, overrides={**INFOGAN, "batch_size": "8"})
    with pytest.raises(ConfigError, match="--seed"):
        registry.train_model("infogan", out, steps=6, seed=4, overrides=INFOGAN, resume=True)


def test_cli_stop_after_then_resume(tmp_path, capsys):
    from speechdis.cli import main

    args = ["image", "train", "infogan", "--out", str(tmp_path / "run"), "--steps", "4", "--seed", "3",
            *(x for k, v in INFOGAN.items() for x in ("--set", f"{k}={v}")), "--checkpoint-every", "2"]
    assert main([*args, "--stop-after", "2"]) == 0
    assert "continue with --resume" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.pt").exists() and checkpoint_files(tmp_path / "run")
    assert main([*args, "--resume"]) == 0
    assert (tmp_path / "run" / "model.pt").is_file() and not checkpoint_files(tmp_path / "run")


def test_device_option_refuses_a_gpu_for_cpu_only_models_and_records_the_device(tmp_path):
    with pytest.raises(ConfigError, match="vaegan trains on the CPU only.*infogan"):
        _train(tmp_path / "v", name="vaegan", overrides={}, device="cuda")
    with pytest.raises(ConfigError, match="--device is 'nonsense'"):
        _train(tmp_path / "i", device="nonsense")
    metrics = _train(tmp_path / "auto", name="vaegan", overrides={"width": "8"}, steps=2, device="auto")
    assert metrics["train_device"] == "cpu"  # auto: a CPU-only model stays on the CPU, even beside a GPU
    explicit = _train(tmp_path / "cpu", device="cpu")
    assert explicit["train_device"] == "cpu"
    _train(tmp_path / "default")
    _assert_same_model(tmp_path / "cpu", tmp_path / "default")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_infogan_trained_on_cuda_starts_from_the_cpu_weights_and_is_saved_on_the_cpu(tmp_path):
    gpu = _train(tmp_path / "gpu", device="cuda", checkpoint_every=3, stop_after=4)
    assert gpu is None
    resumed = _train(tmp_path / "gpu", device="cpu", checkpoint_every=3, resume=True)  # on another device
    assert resumed["train_device"] == "cpu"
    state = read_image_model(tmp_path / "gpu")["modules"]
    assert all(t.device.type == "cpu" for m in state.values() for t in m.values())
    cpu = _train(tmp_path / "cpu", device="cpu")
    for k in state:  # same start, same batches and latents: close, not bitwise (other kernels)
        for p, t in state[k].items():
            ref = read_image_model(tmp_path / "cpu")["modules"][k][p]
            if t.is_floating_point():
                assert torch.allclose(t, ref, atol=5e-3, rtol=1e-2), (k, p)
    assert cpu["final_losses"].keys() == resumed["final_losses"].keys()
