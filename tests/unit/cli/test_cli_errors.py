"""Issue 22: every numeric option range-checked, and expected failures as one line (traceback with --debug)."""
from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from speechdis.cli import build_parser, main
from tests.helpers import untrained_image_model, untrained_speech_model, write_archive, write_wave
from tests.unit.cli.test_cli import _parsers


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_every_numeric_option_is_range_checked():
    """Item 1: no option takes a bare int/float (which accept -5, 0, nan and inf alike)."""
    bare = [f"{path} {a.option_strings[0]}" for path, p in _parsers(build_parser()) for a in p._actions
            if a.type in (int, float)]
    assert not bare, bare


@pytest.mark.parametrize("argv,option", [
    (["extract", "--model", "m", "a.wav", "--out", "o.npz", "--batch-size", "-5"], "--batch-size"),
    (["extract", "--model", "m", "a.wav", "--out", "o.npz", "--batch-size", "0"], "--batch-size"),
    (["extract", "--model", "m", "a.wav", "--out", "o.npz", "--threads", "0"], "--threads"),
    (["extract", "--model", "m", "a.wav", "--out", "o.npz", "--workers", "-1"], "--workers"),
    (["extract", "--model", "m", "a.wav", "--out", "o.npz", "--nj", "0"], "--nj"),
    (["extract", "--model", "m", "a.wav", "--out", "o.npz", "--window", "inf", "--hop", "0.1"], "--window"),
    (["extract", "--model", "m", "a.wav", "--out", "o.npz", "--window", "0.5", "--hop", "-0.1"], "--hop"),
    (["search", "q", "--archive", "a.npz", "--nprobe", "-3"], "--nprobe"),
    (["search", "q", "--archive", "a.npz", "--k", "0"], "--k"),
    (["evaluate", "std", "--data", "d", "--batch-size", "-1"], "--batch-size"),
    (["evaluate", "std", "--data", "d", "--window", "nan"], "--window"),
    (["evaluate", "std", "--data", "d", "--min-occurrences", "1"], "--min-occurrences"),
    (["evaluate", "speaker", "--data", "d", "--p-target", "1.5"], "--p-target"),
    (["evaluate", "probes", "--data", "d", "--test-size", "0"], "--test-size"),
    (["evaluate", "all", "--data", "d", "--seed", "-1"], "--seed"),
    (["features", "d", "--nj", "0"], "--nj"),
    (["prepare", "split", "d", "--nj", "-2"], "--nj"),
    (["prepare", "split-speakers", "d", "a", "b", "--test-fraction", "1"], "--test-fraction"),
    (["prepare", "fsdd", "c", "o", "--pad", "-1"], "--pad"),
    (["image", "--threads", "0", "list"], "--threads"),
    (["image", "train", "dann", "--out", "o", "--steps", "-1"], "--steps"),
])
def test_out_of_range_options_are_one_line_usage_errors(argv, option, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = _one_line_error(capsys)
    assert e.value.code == 2 and option in err.split(":")[2] and "must be" in err


def test_negative_batch_size_never_yields_zero_vectors(tmp_path):
    """Item 1: the library refuses a batch size < 1 (range(0, n, -5) used to embed nothing: all zeros)."""
    from speechdis.errors import ConfigError
    from speechdis.inference.model import load_model

    path = untrained_speech_model(tmp_path / "model.pt")
    for bad in (-5, 0):
        with pytest.raises(ConfigError, match="batch size must be an integer >= 1"):
            load_model(path, device="cpu", batch_size=bad)
    with pytest.raises(ConfigError, match="threads"):
        load_model(path, device="cpu", threads=0)
    model = load_model(path, device="cpu")
    feats = [np.random.default_rng(0).standard_normal((20, 39)).astype(np.float32)]
    with pytest.raises(ConfigError, match="batch size"):
        model.embed_features(feats, batch_size=-1)
    assert np.abs(model.embed_features(feats, batch_size=1)["phonetic"]).sum() > 0


# ----------------------------------------------------------------------------------------- the catch-all
@pytest.mark.parametrize("exc,expect", [
    (OSError(errno.ENOSPC, "No space left on device", "/x/out.npz"), "/x/out.npz: No space left on device"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/exp"), "/ro/exp: Read-only file system"),
    (PermissionError(errno.EACCES, "Permission denied", "/x"), "/x: Permission denied"),
    (MemoryError(), "out of memory"),
    (FloatingPointError("overflow encountered"), "overflow encountered"),
    (ValueError("could not convert string to float: 'x'\nmore"), "could not convert string to float"),
])
def test_expected_failures_are_one_line_and_debug_shows_the_traceback(exc, expect, monkeypatch, capsys):
    import speechdis.cli.prepare as prepare

    def fail(args):
        raise exc

    monkeypatch.setattr(prepare, "_validate", fail)
    assert main(["prepare", "validate", "d"]) == 1
    err = _one_line_error(capsys)
    assert err.startswith("speechdis prepare: error: ") and expect in err and "--debug" in err
    with pytest.raises(type(exc)):
        main(["--debug", "prepare", "validate", "d"])


def test_a_bug_still_shows_its_traceback(monkeypatch):
    import speechdis.cli.prepare as prepare

    def bug(args):
        raise KeyError("x")

    monkeypatch.setattr(prepare, "_validate", bug)
    with pytest.raises(KeyError):
        main(["prepare", "validate", "d"])


def test_out_under_a_file_is_one_line(tmp_path, capsys):
    """Read-only or unusable --out: an OSError of the file system becomes one line naming the path."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["evaluate", "report", str(blocker / "sub")])
    assert rc == 1 and str(blocker / "sub") in _one_line_error(capsys)
    write_archive(tmp_path / "arch.npz", ["a", "b"], np.eye(2))
    rc = main(["search", "a", "--archive", str(tmp_path / "arch.npz"), "--out", str(blocker / "hits.tsv")])
    err = _one_line_error(capsys)
    assert rc == 1 and str(blocker) in err and ("Not a directory" in err or "File exists" in err)


def test_full_disk_while_saving_a_model_names_the_file(tmp_path):
    """Disk full: torch reports a failed write as "[enforce fail at inline_container.cc]"; the file is named
    instead (RLIMIT_FSIZE makes the write fail as a full disk does)."""
    import subprocess
    import sys

    target = tmp_path / "model.pt"
    code = (
        "import resource, signal, sys, torch\n"
        "from pathlib import Path\n"
        "from speechdis.training.checkpoint import save_checkpoint\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        f"    save_checkpoint(Path({str(target)!r}), {{'w': torch.zeros(100000)}})\n"
        "except OSError as e:\n"
        "    print('OSError', e.filename, e.strerror)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith(f"OSError {target} "), out.stdout + out.stderr
    assert not target.exists() and not list(tmp_path.glob(".model.pt.*.tmp"))


# ---------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("override", ["optim.lr=.inf", "optim.lr=.nan", "loss.adv_weight=-1",
                                      "loss.gp_weight=-.inf", "model.input_noise=.inf"])
def test_non_finite_or_negative_config_values_are_refused_at_load(override, tmp_path, capsys):
    rc = main(["train", "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "exp"), "--set", override])
    err = _one_line_error(capsys)
    assert rc == 1 and f"--set {override}" in err and not (tmp_path / "exp").exists()


def test_duplicate_yaml_keys_are_refused(tmp_path):
    from speechdis.audio.features import read_stored_feature_config
    from speechdis.config import load_config
    from speechdis.errors import ConfigError
    from speechdis.training.config import TrainConfig

    conf = tmp_path / "train.yaml"
    conf.write_text("train:\n  steps: 5\n  seed: 1\n  steps: 7\n")
    with pytest.raises(ConfigError, match=r"train.yaml.*duplicate key 'steps' \(line 4; first on line 2\)"):
        load_config(TrainConfig, conf)
    feats = tmp_path / "feats.yaml"
    feats.write_text("kind: mfcc\nkind: fbank\n")
    with pytest.raises(ConfigError, match="duplicate key 'kind'"):
        read_stored_feature_config(feats)
    conf.write_text("base: &b {steps: 5}\ntrain:\n  <<: *b\n  seed: 1\n")  # merge keys are not duplicates
    with pytest.raises(ConfigError, match="unknown config key 'base'"):
        load_config(TrainConfig, conf)


# ----------------------------------------------------------------------------------------------- models
def test_non_dict_model_file_is_one_line(tmp_path, capsys):
    import torch

    bad = tmp_path / "model.pt"
    torch.save(torch.zeros(3), bad)
    wav = write_wave(tmp_path / "a.wav", 0.5)
    rc = main(["extract", "--model", str(bad), str(wav), "--out", str(tmp_path / "e.npz"), "--no-progress"])
    err = _one_line_error(capsys)
    assert rc == 1 and "holds a Tensor, not a speechdis model file" in err


def test_image_model_given_to_speech_commands_is_one_line(tmp_path, capsys):
    img = untrained_image_model(tmp_path / "img")
    wav = write_wave(tmp_path / "a.wav", 0.5)
    rc = main(["extract", "--model", str(img), str(wav), "--out", str(tmp_path / "e.npz"), "--no-progress"])
    err = _one_line_error(capsys)
    assert rc == 1 and "is an image model (dann), not a speech model" in err and not (tmp_path / "e.npz").exists()


@pytest.mark.parametrize("side", [0, 16])
def test_mnist_files_of_the_wrong_image_size_are_refused(tmp_path, side):
    import gzip

    from speechdis.errors import DataDirError
    from speechdis.image.datasets import MNIST_FILES, load_mnist

    n = 4
    for images, labels in MNIST_FILES.values():
        with gzip.open(tmp_path / images, "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + b"".join(v.to_bytes(4, "big") for v in (n, side, side))
                    + bytes(n * side * side))
        with gzip.open(tmp_path / labels, "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + bytes(n))
    with pytest.raises(DataDirError, match=f"{n} images of {side}x{side} pixels; MNIST needs"):
        load_mnist(str(tmp_path), "train")


# ------------------------------------------------------------------------------------------ outputs
@pytest.mark.parametrize("content", ["{not json", json.dumps([1, 2]), json.dumps({"final": "x"})])
def test_corrupt_summary_json_is_one_line(tmp_path, capsys, content):
    (tmp_path / "summary.json").write_text(content)
    rc = main(["evaluate", "report", str(tmp_path)])
    err = _one_line_error(capsys)
    assert rc == 1 and "summary.json: not a" in err


def test_ids_with_tabs_or_line_breaks_are_not_written_to_the_tsv(tmp_path, capsys):
    """A query name with a tab would shift every column of its rows: refused, naming it."""
    model = untrained_speech_model(tmp_path / "model.pt")
    write_wave(tmp_path / "audio" / "a.wav", 0.5)
    query = write_wave(tmp_path / "bad\tname.wav", 0.5)
    assert main(["extract", "--model", str(model), str(tmp_path / "audio"), "--out", str(tmp_path / "arch.npz"),
                 "--no-progress"]) == 0
    capsys.readouterr()
    rc = main(["search", str(query), "--archive", str(tmp_path / "arch.npz"), "--model", str(model),
               "--out", str(tmp_path / "hits.tsv")])
    err = _one_line_error(capsys)
    assert rc == 1 and "'bad\\tname' holds a tab or line break" in err and not (tmp_path / "hits.tsv").exists()


def test_an_error_from_a_dataloader_worker_is_its_own_one_line(monkeypatch, capsys):
    """torch re-raises a worker's exception with the worker's traceback in its message: only the message."""
    import speechdis.cli.prepare as prepare
    from speechdis.errors import DataDirError

    def fail(args):
        raise DataDirError("Caught DataDirError in DataLoader worker process 0.\nOriginal Traceback (most recent "
                           "call last):\n  File \"x.py\", line 1\nspeechdis.errors.DataDirError: d/feats.scp: "
                           "features of 'u1' have NaN or infinite values\n")

    monkeypatch.setattr(prepare, "_validate", fail)
    assert main(["prepare", "validate", "d"]) == 1
    assert _one_line_error(capsys) == ("speechdis prepare: error: d/feats.scp: features of 'u1' have NaN or "
                                       "infinite values")
