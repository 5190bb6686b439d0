"""Each image model: a couple of training steps give finite losses and right shapes; train → evaluate → table."""
import json
import math

import numpy as np
import pytest
import torch

from speechdis.errors import ConfigError, ModelError
from speechdis.image import metrics as image_metrics
from speechdis.image.datasets import SHAPE_FACTOR_SIZES, load_digits_images, load_labelled_images, make_shapes
from speechdis.image.registry import MODEL_NAMES, evaluate_model, get_spec, make_config, train_model

SMALL_SHAPES = {"n_train": "256", "n_eval": "400"}
TINY = {
    "infogan": {"width": "8"},
    "vaegan": {"width": "8", **SMALL_SHAPES},
    "bigan": {"width": "8"},
    "triplegan": {"width": "8"},
    "dann": {"width": "8"},
    "edit": {"width": "8", "n_edit": "20", "edit_steps": "3", **SMALL_SHAPES},
    "crossdomain": {"width": "8"},
    "twostage": {"width": "8", "mapping_steps": "2", **SMALL_SHAPES},
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny conv nets lose badly to thread contention on shared CPUs.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cheap_reference_classifiers():
    """Pre-fill the reference-classifier cache with quickly trained ones (evaluation code calls these)."""
    x, y = load_digits_images(16)
    s = make_shapes(300, seed=5)
    cache = image_metrics._REFERENCE
    saved = dict(cache)
    cache[("digits", 0, 300, "")] = (image_metrics.train_classifier(x[:300], y[:300], 10, steps=5), 0.0)
    cache[("shapes", 0, 300, "")] = (image_metrics.train_classifier(s.images, s.factors, list(SHAPE_FACTOR_SIZES),
                                                                steps=5), 0.0)
    yield
    cache.clear()
    cache.update(saved)


def _finite(d):
    return all(math.isfinite(v) for v in d.values())


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n != "edit"])
def test_two_training_steps_give_finite_losses(name):
    spec = get_spec(name)
    cfg = make_config(name, steps=2, overrides=TINY[name])
    modules = spec.build(cfg)
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in modules.items()}
    logs = spec.fit(cfg, modules, seed=0)
    assert logs and _finite(logs), logs
    changed = [any(not torch.equal(a, p) for a, p in zip(before[k], m.parameters())) for k, m in modules.items()]
    assert all(changed)  # every module took part in training


def test_bigan_wgan_gp_on_pairs():
    spec = get_spec("bigan")
    cfg = make_config("bigan", steps=2, overrides={"width": "8", "loss": "wgan", "stochastic": "true"})
    logs = spec.fit(cfg, spec.build(cfg), seed=0)
    assert "gp" in logs and _finite(logs)


def test_bigan_alice_terms_are_computed_and_reconstruction_decreases():
    from speechdis.adversarial import AlternatingTrainer
    from speechdis.image import bigan
    from speechdis.image.common import batches

    torch.manual_seed(0)
    cfg = make_config("bigan", steps=1, overrides={"width": "8", "recon_weight": "1", "latent_weight": "1"})
    modules = bigan.build(cfg)
    enc, dec, critic = modules["encoder"], modules["decoder"], modules["critic"]
    trainer = AlternatingTrainer(
        torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=2e-3, betas=(0.5, 0.999)),
        torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.999)), critic=critic, n_critic=1)
    gen = torch.Generator().manual_seed(1)
    critic_fn, generator_fn = bigan.make_loss_fns(cfg, modules, gen)
    x = load_labelled_images("digits", seed=0).x_train
    stream = batches(x[:256], batch_size=32, generator=gen)
    recon = []
    for _ in range(60):
        logs = trainer.step(stream, critic_fn, generator_fn)
        assert {"recon", "latent"} <= logs.keys() and _finite(logs)
        recon.append(logs["recon"])
    first, last = float(np.mean(recon[:5])), float(np.mean(recon[-10:]))
    assert last < 0.8 * first, (first, last)
    # Weight 0 switches a term off entirely.
    off = make_config("bigan", steps=1, overrides={"width": "8", "recon_weight": "0", "latent_weight": "0"})
    _, g_fn = bigan.make_loss_fns(off, bigan.build(off), gen)
    assert not {"recon", "latent"} & g_fn((torch.from_numpy(x[:8]),))[1].keys()


def test_vaegan_three_class_and_feature_loss_options():
    spec = get_spec("vaegan")
    for opts in ({"three_class": "true"}, {"feature_weight": "0", "three_class": "false"}):
        cfg = make_config("vaegan", steps=2, overrides={**TINY["vaegan"], **opts})
        modules = spec.build(cfg)
        logs = spec.fit(cfg, modules, seed=0)
        assert _finite(logs) and (("feature" in logs) == (cfg.feature_weight > 0))
        out = modules["discriminator"](torch.rand(4, 3, 16, 16))
        assert out.shape == ((4, 3) if cfg.three_class else (4,))


def test_model_output_shapes():
    from speechdis.image.crossdomain import CrossDomain, CrossDomainConfig
    from speechdis.image.infogan import InfoGAN, InfoGANConfig
    from speechdis.image.triplegan import PairDiscriminator
    from speechdis.image.twostage import BRANCHES, TwoStage, TwoStageConfig, branch_inputs

    g = InfoGAN(InfoGANConfig(width=8))
    z, cat, cont = g.sample_latent(5)
    x = g.generate(z, cat, cont)
    d, q = g.critic(x)
    assert x.shape == (5, 1, 16, 16) and d.shape == (5,) and q.shape == (5, 10 + 2 * 2)
    assert set(dict(g.discriminator.named_children())) == {"body", "d_head", "q_head"}  # Q shares D's body

    pd = PairDiscriminator(8)
    xs, ys = torch.rand(3, 1, 16, 16), torch.tensor([1, 4, 7])
    pd.eval()
    assert torch.allclose(pd.all_labels(xs)[torch.arange(3), ys], pd(xs, ys), atol=1e-6)

    cd = CrossDomain(CrossDomainConfig(width=8)).eval()
    parts = cd.losses(torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16))
    assert set(parts) == {"rec", "cross", "shared", "excl"} and all(v.dim() == 0 for v in parts.values())
    assert cd.translate_x_to_y(torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)).shape == (4, 3, 16, 16)

    s = make_shapes(6, seed=1)
    inputs = branch_inputs(s)
    assert inputs["foreground"].shape == (6, 4, 16, 16) and inputs["pose"].shape == (6, 1, 16, 16)
    # The foreground branch sees the shape centred whatever its position factor.
    m = inputs["foreground"][:, 3]
    ys_, xs_ = np.mgrid[0:16, 0:16] + 0.5
    assert np.allclose((m * xs_).sum((1, 2)) / m.sum((1, 2)), 8.0, atol=0.3)
    ts = TwoStage(TwoStageConfig(width=8)).eval()
    emb = ts.embed({b: torch.from_numpy(inputs[b]) for b in BRANCHES})
    assert [emb[b].shape[1] for b in BRANCHES] == [6, 2, 2]
    assert ts.decode(ts.sample_embeddings(3)).shape == (3, 3, 16, 16)


def test_dann_domain_gradient_is_reversed_in_the_features():
    from speechdis.adversarial import binary_classifier_loss
    from speechdis.image.dann import DANN, DANNConfig

    torch.manual_seed(0)
    model = DANN(DANNConfig(width=8)).eval()
    x = torch.rand(8, 3, 16, 16)
    dom = torch.tensor([1.0, 0] * 4)

    def grads(through_grl: bool):
        model.zero_grad()
        h = model.features(x)
        logits = model.domain_classifier(model.grl(h) if through_grl else h).squeeze(-1)
        binary_classifier_loss("bce", logits, dom).backward()
        return ([p.grad.clone() for p in model.features.parameters()],
                [p.grad.clone() for p in model.domain_classifier.parameters()])

    model.grl.coeff = 0.7
    f_rev, d_rev = grads(True)
    f_plain, d_plain = grads(False)
    for a, b in zip(f_rev, f_plain):
        assert torch.allclose(a, -0.7 * b, atol=1e-6)  # features: reversed and scaled
    for a, b in zip(d_rev, d_plain):
        assert torch.allclose(a, b)  # the domain classifier itself still learns to classify domains
    assert any(g.abs().sum() > 0 for g in f_plain)


def test_dann_schedule_drives_the_grl_during_training():
    from speechdis.image.dann import DANN, DANNConfig, domain_splits, train_one

    cfg = DANNConfig(width=8, steps=3, max_coeff=0.5)
    model = DANN(cfg)
    logs = train_one(cfg, model, domain_splits(cfg, 0), 1.0, 0, "dann")
    assert 0.49 < model.grl.coeff <= 0.5  # ramped to its end value by the last step
    assert {"cls", "dom", "grl"} <= set(logs)


def test_dann_quick_train_learns_source_labels():
    """80 steps: the label predictor learns the source domain while the GRL is active."""
    from speechdis.image.dann import DANN, DANNConfig, domain_splits, train_one

    cfg = DANNConfig(width=16, steps=80)
    torch.manual_seed(0)
    model = DANN(cfg)
    data = domain_splits(cfg, 0)
    train_one(cfg, model, data, 1.0, 0, "dann")
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(data["x_test_src"]))[0].argmax(1).numpy() == data["y_test"]).mean()
    assert acc > 0.5


@pytest.mark.usefixtures("cheap_reference_classifiers")
@pytest.mark.parametrize("name", ["infogan", "vaegan", "bigan", "triplegan", "dann", "crossdomain", "twostage"])
def test_train_then_evaluate_writes_metrics_and_pictures(name, tmp_path):
    m = train_model(name, tmp_path, steps=2, overrides=TINY[name])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["model"] == name and written["steps"] == 2
    for key in get_spec(name).headline:
        assert key in m, key
        assert not isinstance(m[key], float) or math.isfinite(m[key])
    assert list(tmp_path.glob("*.png"))
    again = evaluate_model(tmp_path)
    assert again["model"] == name and "train_seconds" in json.loads((tmp_path / "metrics.json").read_text())


@pytest.mark.usefixtures("cheap_reference_classifiers")
def test_edit_from_trained_vaegan(tmp_path):
    train_model("vaegan", tmp_path / "vaegan", steps=2, overrides=TINY["vaegan"])
    m = train_model("edit", tmp_path / "edit", overrides=TINY["edit"], init_dir=tmp_path / "vaegan")
    assert m["steps"] == 0 and m["initialised_from"].endswith("vaegan")
    assert 0 <= m["attr_right_alpha1_success"] <= 1
    assert (tmp_path / "edit" / "photo_edit.png").is_file()
    with pytest.raises(ModelError):
        train_model("edit", tmp_path / "bad", overrides={**TINY["edit"], "z_dim": "3"}, init_dir=tmp_path / "vaegan")


def test_edit_by_optimisation_reduces_user_loss():
    from speechdis.image.editing import attribute_vector, edit_by_optimisation

    torch.manual_seed(0)
    gen = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Sigmoid())
    for p in gen.parameters():
        p.requires_grad_(False)
    # A target the generator can reach (G(z_true)): how far a random G can get towards an arbitrary image
    # depends on its weights (over seeds the user loss fell to 60-93% of its start), not on the editing.
    z_true = torch.tensor([[1.5, -1.0, 0.5, 0.0], [-0.5, 1.0, 0.0, 1.5]])
    target = gen(z_true)
    z0 = torch.zeros(2, 4)
    user = lambda img: (img - target).pow(2).mean(1)  # noqa: E731
    z, hist = edit_by_optimisation(gen, z0, user, lambda_prior=0.001, steps=100, lr=0.1)
    assert hist["user"][-1] < 0.5 * hist["user"][0] and z.shape == z0.shape
    # A stronger pull towards z0 keeps z* closer to it; a realness term moves z towards "realer" images.
    z_tight, _ = edit_by_optimisation(gen, z0, user, lambda_prior=1.0, steps=100, lr=0.1)
    assert (z_tight - z0).norm() < (z - z0).norm()
    _, hist_real = edit_by_optimisation(gen, z0, user, realness=lambda img: img.sum(1), lambda_prior=0.001,
                                        lambda_disc=0.1, steps=100, lr=0.1)
    assert hist_real["realness"][-1] > hist["realness"][-1] == 0.0
    codes = torch.tensor([[1.0, 0], [3.0, 0], [0.0, 2]])
    assert torch.allclose(attribute_vector(codes, np.array([1, 1, 0], bool), np.array([0, 0, 1], bool)),
                          torch.tensor([2.0, -2.0]))


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError):
        make_config("nosuchmodel")
    with pytest.raises(ConfigError):
        make_config("dann", overrides={"nosuchfield": "1"})
    with pytest.raises(ConfigError):
        make_config("dann", overrides={"steps": "many"})
    with pytest.raises(ConfigError):
        make_config("dann", steps=0)
    assert make_config("vaegan", overrides={"three_class": "yes"}).three_class is True
    with pytest.raises(ModelError):
        evaluate_model(tmp_path)


def test_twostage_background_input_does_not_reveal_position():
    from speechdis.image.twostage import branch_inputs

    s = make_shapes(40, seed=2)
    bg = branch_inputs(s)["background"]
    # The shapes' backgrounds are uniform, so the background input must be exactly uniform too.
    assert np.allclose(bg, bg[:, :, :1, :1], atol=1e-5)


def test_same_seed_same_model(tmp_path):
    a = train_model("dann", tmp_path / "a", steps=3, seed=5, overrides={"width": "8"})
    b = train_model("dann", tmp_path / "b", steps=3, seed=5, overrides={"width": "8"})
    keys = ("dann_target_accuracy", "source_only_target_accuracy", "final_losses")
    assert [a[k] for k in keys] == [b[k] for k in keys]
    sa = torch.load(tmp_path / "a" / "model.pt", weights_only=True)["modules"]["dann"]
    sb = torch.load(tmp_path / "b" / "model.pt", weights_only=True)["modules"]["dann"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # Image models load through speechdis.image.load_model, self-described; speechdis.load_model is for speech.
    import speechdis
    import speechdis.image
    from speechdis.errors import ModelError

    with pytest.raises(ModelError, match="speechdis.image.load_model"):
        speechdis.load_model(tmp_path / "a", device="cpu")
    m = speechdis.image.load_model(tmp_path / "a", device="cpu")
    assert m.name == "dann" and m.config.width == 8 and m.seed == 5 and m.provenance["torch"] == torch.__version__
    assert all(torch.equal(m.modules["dann"].state_dict()[k], sa[k]) for k in sa)
