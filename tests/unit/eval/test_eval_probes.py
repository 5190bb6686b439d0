"""Linear probes: random features stay near chance, label-carrying features reach ~100%."""
import numpy as np
import pytest

from speechdis.eval.probes import linear_probe, probe_rows, probe_table


def test_random_features_near_chance():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 60)
    res = linear_probe(rng.normal(size=(300, 8)), y, seed=1)
    assert res.n_classes == 5 and res.n_test == 90 and res.n_train == 210
    assert res.chance == pytest.approx(0.2, abs=0.02)
    assert abs(res.accuracy - res.chance) < 0.15


def test_one_hot_features_near_perfect():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 6, 240)
    X = np.eye(6)[y] + 0.1 * rng.normal(size=(240, 6))
    res = linear_probe(X, [f"spk{v}" for v in y])
    assert res.accuracy >= 0.98


def test_stratify_requires_two_per_class():
    X = np.arange(10, dtype=float)[:, None]
    with pytest.raises(ValueError):
        linear_probe(X, list("aaaabbbbbc"))
    res = linear_probe(X, list("aaaabbbbbc"), stratify=False, test_size=0.5)
    assert res.n_test == 5 and not res.stratified


def test_probe_table_disentangled_features():
    rng = np.random.default_rng(2)
    n = 240
    spk = rng.integers(0, 4, n)
    word = rng.integers(0, 5, n)
    words = [f"w{v}" for v in word]
    speakers = [f"s{v}" for v in spk]
    words[0], speakers[1] = "hapax", "lonely"  # single-sample classes get dropped
    phon = np.eye(5)[word] + 0.1 * rng.normal(size=(n, 5))
    spkv = np.eye(4)[spk] + 0.1 * rng.normal(size=(n, 4))
    tab = probe_table(phon, spkv, speakers, words, seed=0)
    assert set(tab) == {"speaker_from_phonetic", "speaker_from_speaker", "word_from_phonetic", "word_from_speaker"}
    assert tab["speaker_from_speaker"].accuracy >= 0.95
    assert tab["word_from_phonetic"].accuracy >= 0.95
    assert tab["speaker_from_phonetic"].accuracy < tab["speaker_from_phonetic"].chance + 0.2
    assert tab["word_from_speaker"].accuracy < tab["word_from_speaker"].chance + 0.2
    assert tab["word_from_phonetic"].n_dropped == 1 and tab["word_from_phonetic"].n_dropped_classes == 1
    assert tab["speaker_from_speaker"].n_dropped == 1
    assert tab["speaker_from_speaker"].n_train + tab["speaker_from_speaker"].n_test == n - 1
    rows = probe_rows(tab)
    assert len(rows) == 4 and {"probe", "accuracy", "chance"} <= set(rows[0])


def test_probe_table_many_rare_classes_falls_back_to_unstratified():
    rng = np.random.default_rng(3)
    n = 40
    words = [f"w{i // 2}" for i in range(n)]  # 20 classes of 2: a 30% test split cannot hold them all
    speakers = [f"s{i % 2}" for i in range(n)]
    tab = probe_table(rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), speakers, words)
    assert not tab["word_from_phonetic"].stratified and tab["speaker_from_phonetic"].stratified
