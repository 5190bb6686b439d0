"""MNIST for the image models: the idx reader, the models' MNIST paths (on a tiny MNIST-format data set made
here), presets, the paper table, and the helpers they use (shifts, mean teacher, 1-NN, seed tables)."""
import gzip
import json
import math

import numpy as np
import pytest
import torch

from speechdis.config import read_config_file
from speechdis.errors import ConfigError, DataDirError
from speechdis.image import metrics as image_metrics
from speechdis.image.common import EMA, random_shift
from speechdis.image.datasets import load_labelled_images, load_mnist
from speechdis.image.registry import evaluate_model, get_spec, make_config, preset_file, train_model
from speechdis.image.report import metrics_table, paper_table

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz")


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_mnist(root, n_train: int = 60, n_test: int = 30, seed: int = 0):
    """Digit-like 28x28 images: class k lights up a block whose position depends on k (learnable)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        x = rng.integers(0, 40, (n, 28, 28))
        for i, k in enumerate(y):
            r, c = 4 + 2 * (k // 5) * 5, 3 + 4 * (k % 5)
            x[i, r:r + 8, c:c + 4] = 255
        write_idx(root / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", y)
        out[split] = (x, y)
    return out


@pytest.fixture()
def mnist_dir(tmp_path):
    load_mnist.cache_clear()
    fake_mnist(tmp_path / "mnist")
    yield tmp_path / "mnist"
    load_mnist.cache_clear()


def test_load_mnist_round_trip(mnist_dir):
    x, y = load_mnist(str(mnist_dir), "train")
    assert x.shape == (60, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.max() == 1.0 and x.min() >= 0 and list(y[:12]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    d = load_labelled_images("mnist", str(mnist_dir))
    assert d.size == 28 and len(d.x_test) == 30


def test_mnist_errors_name_the_file(tmp_path):
    load_mnist.cache_clear()
    with pytest.raises(ConfigError, match="data_dir"):
        load_mnist("", "train")
    with pytest.raises(DataDirError, match="train-images-idx3-ubyte.gz"):
        load_mnist(str(tmp_path), "train")
    fake_mnist(tmp_path)
    p = tmp_path / FILES[0]
    data = gzip.open(p).read()
    with gzip.open(p, "wb") as f:
        f.write(data[:-100])
    with pytest.raises(DataDirError, match="truncated"):
        load_mnist(str(tmp_path), "train")
    with gzip.open(p, "wb") as f:
        f.write(b"\x00\x00\x09\x03" + data[4:])
    with pytest.raises(DataDirError, match="magic"):
        load_mnist(str(tmp_path), "train")
    load_mnist.cache_clear()


def test_presets_and_dataset_choice():
    assert make_config("infogan").noise_dim == 16
    cfg = make_config("infogan", overrides={"dataset": "mnist", "data_dir": "/x"})
    assert cfg.noise_dim == 62 and cfg.steps == read_config_file(preset_file("infogan", "mnist"))["steps"]
    assert make_config("infogan", steps=7, overrides={"dataset": "mnist", "noise_dim": "5"}).noise_dim == 5
    with pytest.raises(ConfigError, match="crossdomain: no dataset 'mnist'"):
        make_config("crossdomain", overrides={"dataset": "mnist"})
    with pytest.raises(ConfigError, match="bigan: no dataset 'svhn'"):
        make_config("bigan", overrides={"dataset": "svhn"})


TINY_MNIST = {
    "infogan": {"width": "8", "hidden": "16", "q_hidden": "8", "g_hidden": "16", "batch_size": "32",
                "curve_every": "1"},
    "triplegan": {"width": "8", "labels_per_class": "2", "clf_hidden": "16", "batch_size": "16"},
    "bigan": {"width": "8", "z_dim": "4"},
    "dann": {"width": "8"},
    "vaegan": {"width": "8"},
}


@pytest.fixture()
def cheap_mnist_reference(mnist_dir, monkeypatch):
    """The MNIST reference classifier (1500 steps by default) replaced by a 5-step one in the cache."""
    clf = image_metrics.reference_classifier("mnist", 0, steps=5, data_dir=str(mnist_dir))
    monkeypatch.setitem(image_metrics._REFERENCE, ("mnist", 0, 1500, str(mnist_dir)), clf)
    return mnist_dir


@pytest.mark.parametrize("name", list(TINY_MNIST))
def test_models_train_and_evaluate_on_mnist(name, cheap_mnist_reference, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / name
    m = train_model(name, out, steps=2, overrides={**TINY_MNIST[name], "dataset": "mnist",
                                                   "data_dir": str(cheap_mnist_reference)})
    assert m["dataset"] == "mnist" and m["steps"] == 2
    for key in get_spec(name).headline:
        if key in m and isinstance(m[key], float):
            assert math.isfinite(m[key]), key
    expected = {"infogan": "unsupervised_error", "triplegan": "classifier_accuracy", "bigan": "knn1_accuracy_z",
                "dann": "dann_target_accuracy", "vaegan": "sample_confidence"}[name]
    assert 0 <= m[expected] <= 1
    assert list(out.glob("*.png"))
    if name == "infogan":  # the training curve of the unsupervised error
        assert 0 <= m["final_losses"]["curve_unsupervised_error_step1"] <= 1
        # the label-free selection metrics of Q's code on training images
        assert -1e-9 <= m["q_train_code_mi"] <= math.log(10) + 1e-9 and 0 < m["q_train_code_balance"] <= 1 + 1e-9
    assert evaluate_model(out)[expected] == pytest.approx(m[expected], abs=1e-6)
    table = paper_table(tmp_path)
    assert table.count("not run") == 4 and f"| {name} |" in table


def test_random_shift_moves_whole_images():
    x = torch.zeros(50, 1, 10, 10)
    x[:, :, 4:6, 4:6] = 1.0  # a blob far from the border: shifts keep all of it
    y = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert torch.equal(y.sum((1, 2, 3)), x.sum((1, 2, 3)))
    offsets = {tuple((torch.nonzero(img[0])[0] - 4).tolist()) for img in y}
    assert len(offsets) > 10 and all(abs(a) <= 2 and abs(b) <= 2 for a, b in offsets)
    assert torch.equal(random_shift(x, 0), x)


def test_ema_moves_towards_the_source_by_one_minus_decay():
    src, tgt = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ema = EMA(src, tgt, 0.9)
    assert torch.equal(tgt.weight, src.weight)
    before = tgt.weight.detach().clone()
    with torch.no_grad():
        src.weight.add_(1.0)
    ema.update()
    assert torch.allclose(tgt.weight, before + 0.1)
    with pytest.raises(ConfigError):
        EMA(src, tgt, 1.0)


def test_nearest_neighbour_accuracy_matches_sklearn():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(100, 8))
    ya, yb = rng.integers(0, 3, 300), rng.integers(0, 3, 100)
    ref = KNeighborsClassifier(1).fit(a, ya).score(b, yb)
    assert image_metrics.nearest_neighbour_accuracy(a, ya, b, yb, metric="euclidean", block=7) == pytest.approx(ref)
    cos = KNeighborsClassifier(1, metric="cosine", algorithm="brute").fit(a, ya).score(b, yb)
    assert image_metrics.nearest_neighbour_accuracy(a, ya, b, yb) == pytest.approx(cos)


def test_table_shows_mean_and_std_over_seed_dirs(tmp_path):
    for sub, acc in (("triplegan", 0.9), ("triplegan/seed1", 0.8), ("triplegan/seed2", 0.7)):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "metrics.json").write_text(json.dumps(
            {"model": "triplegan", "seed": int(sub[-1]) if "seed" in sub else 0, "classifier_accuracy": acc,
             "steps": 5, "train_seconds": 1.0}))
    text = metrics_table(tmp_path)
    assert "| triplegan | seeds | 0, 1, 2 |" in text
    assert "| triplegan | classifier_accuracy | 0.8000 ± 0.1000 (seeds: 0.9000, 0.8000, 0.7000) |" in text


def test_paper_table_reports_seed_spread(tmp_path):
    for sub, acc in (("dann", 0.9), ("dann/seed1", 0.8)):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "metrics.json").write_text(json.dumps(
            {"model": "dann", "dataset": "mnist", "dann_target_accuracy": acc, "source_only_target_accuracy": 0.5,
             "steps": 5, "train_seconds": 60.0}))
    row = next(r for r in paper_table(tmp_path).splitlines() if r.startswith("| dann |"))
    assert ("| 90.00% | 85.00 ± 7.07 (2 seeds) | source only: 50.00% (paper 52.25%) | 5 / 1.0 min "
            "(seeds 1.0-1.0 min) |") in row
    # InfoGAN: the restart with the highest label-free code MI is named beside the mean (not the lowest error)
    for sub, err, mi, minutes in (("infogan", 0.2, 2.1, 20), ("infogan/seed1", 0.1, 1.9, 25),
                                  ("infogan/seed2", 0.3, 2.2, 30)):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "metrics.json").write_text(json.dumps(
            {"model": "infogan", "dataset": "mnist", "seed": int(sub[-1]) if "seed" in sub else 0,
             "unsupervised_error": err, "q_train_code_mi": mi, "q_train_code_balance": 0.99, "steps": 7,
             "train_seconds": 60.0 * minutes}))
    row = next(r for r in paper_table(tmp_path).splitlines() if r.startswith("| infogan |"))
    assert "| 20.00% | 20.00 ± 10.00 (3 seeds); the restart q_train_code_mi picks (seed 2): 30.00% |" in row
    assert "MI 2.100 nats (max 2.303), balance 0.990 | 7 / 20.0 min (seeds 20.0-30.0 min) |" in row
    (tmp_path / "dann" / "metrics.json").write_text(json.dumps({"model": "dann", "dataset": "digits"}))
    with pytest.raises(ConfigError, match="not an MNIST run"):
        paper_table(tmp_path)
