import math

import numpy as np
import pytest
import torch

from speechdis.adversarial.info import LatentCodes, mutual_info_loss
from speechdis.adversarial.multiclass import multiclass_discriminator_loss, multiclass_generator_loss, realness
from speechdis.errors import ConfigError
from speechdis.image.datasets import make_shapes
from speechdis.image.metrics import (
    aligned_accuracy,
    classifier_scores,
    code_information,
    dci,
    factor_vae_score,
    frechet_distance,
    mig,
    reconstruction_error,
)


@pytest.fixture(scope="module")
def factors():
    return make_shapes(1500, seed=0).factors


@pytest.fixture(scope="module")
def cases(factors):
    rng = np.random.default_rng(0)
    std = (factors - factors.mean(0)) / factors.std(0)
    mix = np.eye(7)
    for a, b in [(0, 1), (2, 3), (4, 5)]:  # 45° rotations mixing pairs of factors
        mix[a, a] = mix[a, b] = mix[b, a] = 1 / math.sqrt(2)
        mix[b, b] = -1 / math.sqrt(2)
    return {"exact": factors.astype(float), "noise": rng.normal(size=(len(factors), 7)), "mixed": std @ mix,
            "exact+noise": np.c_[factors, rng.normal(size=(len(factors), 3))]}


def test_mig_known_cases(factors, cases):
    assert mig(cases["exact"], factors)["mig"] > 0.95
    assert mig(cases["exact+noise"], factors)["mig"] > 0.95  # unused noise dims do not hurt MIG
    assert mig(cases["noise"], factors)["mig"] < 0.05
    assert mig(cases["mixed"], factors)["mig"] < 0.5
    per = mig(cases["mixed"], factors)["per_factor"]
    assert per[6] > 0.9 and max(per[:6]) < 0.5  # only the unmixed factor keeps its gap


def test_dci_known_cases(factors, cases):
    exact = dci(cases["exact"], factors)
    assert exact["disentanglement"] > 0.95 and exact["completeness"] > 0.95 and exact["informativeness"] > 0.95
    noise = dci(cases["noise"], factors)
    assert noise["disentanglement"] < 0.2 and noise["completeness"] < 0.2
    mixed = dci(cases["mixed"], factors)
    assert 0.3 < mixed["disentanglement"] < 0.9
    assert np.array(exact["importance"]).shape == (7, 7)


def test_factor_vae_known_cases(factors, cases):
    assert factor_vae_score(cases["exact"], factors)["factor_vae"] == 1.0
    assert factor_vae_score(cases["exact+noise"], factors)["factor_vae"] == 1.0
    assert factor_vae_score(cases["noise"], factors)["factor_vae"] < 0.35  # chance is 1/7
    assert factor_vae_score(cases["mixed"], factors)["factor_vae"] < 0.8


def test_factor_vae_ignores_collapsed_dims(factors):
    codes = np.c_[factors.astype(float), np.zeros(len(factors))]
    out = factor_vae_score(codes, factors)
    assert out["active_dims"] == 7 and out["factor_vae"] == 1.0


def test_aligned_accuracy_is_permutation_invariant():
    labels = np.repeat(np.arange(5), 10)
    perm = np.array([3, 0, 4, 1, 2])
    assert aligned_accuracy(perm[labels], labels) == 1.0
    assert aligned_accuracy(np.zeros_like(labels), labels) == pytest.approx(0.2)


def test_classifier_scores():
    probs = np.eye(4)[np.array([0, 1, 2, 3, 0, 1, 2, 3])]
    s = classifier_scores(probs, np.array([0, 1, 2, 3, 0, 1, 2, 0]))
    assert s["coverage"] == 1.0 and s["accuracy"] == pytest.approx(7 / 8) and s["class_entropy"] == pytest.approx(1)
    collapsed = classifier_scores(np.eye(4)[np.zeros(8, int)])
    assert collapsed["coverage"] == 0.25 and collapsed["class_entropy"] == pytest.approx(0)


def test_code_information_is_high_only_for_confident_balanced_codes():
    k = 10
    spread = np.eye(k)[np.arange(5 * k) % k]  # every image confident, every value used equally
    s = code_information(spread)
    assert s["mi"] == pytest.approx(math.log(k)) and s["balance"] == pytest.approx(1)
    merged = np.eye(k)[np.arange(5 * k) % 5]  # two classes per value: half the values never used
    m = code_information(merged)
    assert m["mi"] == pytest.approx(math.log(5)) and m["balance"] == pytest.approx(math.log(5) / math.log(k))
    vague = code_information(np.full((50, k), 1 / k))  # the code ignores the image
    assert vague["mi"] == pytest.approx(0, abs=1e-9) and vague["balance"] == pytest.approx(1)
    with pytest.raises(ConfigError, match="shape"):
        code_information(np.ones(k))


def test_frechet_and_reconstruction():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + np.array([2.0, 0, 0])) == pytest.approx(4.0, rel=1e-3)
    assert reconstruction_error(np.zeros((2, 3)), np.ones((2, 3))) == 1.0


def test_multiclass_losses():
    good = torch.tensor([[5.0, -5, -5]])
    bad = torch.tensor([[-5.0, 5, -5]])
    # Discriminator: source k's logits should point to class k.
    right = multiclass_discriminator_loss([good, torch.tensor([[-5.0, 5, -5]]), torch.tensor([[-5.0, -5, 5]])])
    wrong = multiclass_discriminator_loss([bad, good, good])
    assert right < 0.01 < wrong
    assert multiclass_generator_loss(good) < multiclass_generator_loss(bad)
    assert realness(good).item() == pytest.approx(5 - math.log(2 * math.exp(-5)), rel=1e-5)
    with pytest.raises(ValueError):
        multiclass_discriminator_loss([good, good])  # 3 classes but 2 sources


def test_mutual_info_loss_and_codes():
    codes = LatentCodes(cat_dim=4, n_cat=1, n_cont=2)
    cat, cont = codes.sample(8, torch.Generator().manual_seed(0))
    v = codes.encode(cat, cont)
    assert v.shape == (8, codes.dim) and torch.equal(v[:, :4].argmax(1), cat[:, 0])
    assert cont.abs().max() <= 1
    # A Q that recovers the codes exactly (and confidently) beats one that guesses.
    q = torch.cat([10 * torch.nn.functional.one_hot(cat[:, 0], 4).float(), cont, torch.full((8, 2), -4.0)], 1)
    logits, mean, logvar = codes.split_q(q)
    perfect, logs = mutual_info_loss(logits, cat, mean, cont, logvar)
    guess, _ = mutual_info_loss(torch.zeros_like(logits), cat, torch.zeros_like(mean), cont, torch.zeros_like(logvar))
    assert perfect < guess and {"mi_cat", "mi_cont"} <= set(logs)
    assert guess.item() > math.log(4) - 1e-5  # CE of a uniform guess is log K
    mse_only, _ = mutual_info_loss(None, None, mean, cont)
    assert mse_only.item() == pytest.approx(0.0, abs=1e-6)
