"""EER / minDCF on known score sets, trials, cosine scoring and the DET plot."""
import numpy as np
import pytest

from speechdis.eval.speaker import cosine_scores, det_curve_png, eer, error_rates, make_trials, min_dcf


def _sl(targets, nontargets):
    scores = np.concatenate([targets, nontargets])
    labels = np.concatenate([np.ones(len(targets), bool), np.zeros(len(nontargets), bool)])
    return scores, labels


def test_perfect_separation():
    s, y = _sl([0.9, 0.8, 0.7], [0.1, 0.2, 0.3, 0.4])
    rate, thr = eer(s, y)
    assert rate == 0.0 and 0.4 <= thr <= 0.7
    dcf, thr = min_dcf(s, y)
    assert dcf == 0.0 and 0.4 < thr <= 0.7


def test_identical_distributions():
    rng = np.random.default_rng(0)
    s, y = _sl(rng.normal(size=4000), rng.normal(size=4000))
    rate, _ = eer(s, y)
    assert rate == pytest.approx(0.5, abs=0.03)
    dcf, _ = min_dcf(s, y, p_target=0.05)
    assert 0.9 <= dcf <= 1.0  # no better than always rejecting


def test_hand_computed_eer():
    # Thresholds: 0.9 -> (miss 2/3, fa 0); 0.8 -> (1/3, 0); 0.7 -> (1/3, 1/3): exact crossing.
    assert eer(*_sl([0.9, 0.8, 0.4], [0.7, 0.3, 0.2])) == pytest.approx((1 / 3, 0.7))
    # 0.6 -> (miss 1/2, fa 1/3); 0.5 -> (1/2, 2/3): miss-fa goes 1/6 -> -1/6, halfway.
    assert eer(*_sl([0.9, 0.4], [0.6, 0.5, 0.1])) == pytest.approx((0.5, 0.55))


def test_hand_computed_min_dcf():
    s, y = _sl([0.9, 0.4], [0.6, 0.5, 0.1])
    p_miss, p_fa, thr = error_rates(s, y)
    assert p_miss.tolist() == pytest.approx([1, 0.5, 0.5, 0.5, 0, 0])
    assert p_fa.tolist() == pytest.approx([0, 0, 1 / 3, 2 / 3, 2 / 3, 1])
    # p_target 0.5: normalised DCF = P_miss + P_fa, best at threshold 0.9 -> 0.5.
    assert min_dcf(s, y, p_target=0.5) == pytest.approx((0.5, 0.9))
    # p_target 0.25, c_fa 0.1: DCF = 0.25 P_miss + 0.075 P_fa, normaliser min(0.25, 0.075) = 0.075.
    # Points: inf 0.25, .9 0.125, .6 0.15, .5 0.175, .4 0.05, .1 0.075 -> 0.05 / 0.075 at threshold 0.4.
    assert min_dcf(s, y, p_target=0.25, c_fa=0.1) == pytest.approx((0.05 / 0.075, 0.4))
    assert thr.tolist()[1:] == pytest.approx([0.9, 0.6, 0.5, 0.4, 0.1])
    with pytest.raises(ValueError):
        min_dcf(s, y, p_target=0.0)
    with pytest.raises(ValueError):
        eer([0.1, 0.2], [1, 1])


def test_make_trials_balanced_and_valid():
    rng = np.random.default_rng(1)
    speakers = list(rng.integers(0, 5, 60))
    utts = [f"u{i // 3}" for i in range(60)]
    pairs, labels = make_trials(speakers, 50, 70, seed=3, groups=utts)
    assert labels.sum() == 50 and (~labels).sum() == 70
    same = np.array([speakers[i] == speakers[j] for i, j in pairs])
    assert (same == labels).all()
    assert all(utts[i] != utts[j] for (i, j), lab in zip(pairs, labels) if lab)
    assert len({tuple(p) for p in pairs}) == len(pairs) and (pairs[:, 0] < pairs[:, 1]).all()
    again, _ = make_trials(speakers, 50, 70, seed=3, groups=utts)
    assert (again == pairs).all()
    # Only one distinct target pair exists here: fewer trials come back, no duplicates.
    pairs, labels = make_trials(["a", "a", "b"], 5, 5, seed=0)
    assert labels.sum() == 1 and (~labels).sum() == 2


def test_cosine_scores():
    v = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    s = cosine_scores(v, np.array([[0, 1], [0, 2], [1, 2], [2, 2]]))
    assert s.tolist() == pytest.approx([0.0, np.sqrt(0.5), np.sqrt(0.5), 1.0])


def test_det_curve_png(tmp_path):
    rng = np.random.default_rng(2)
    s, y = _sl(rng.normal(1.5, 1, 300), rng.normal(0, 1, 300))
    out = det_curve_png(s, y, tmp_path / "sub" / "det.png", title="test")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["det.png"]
