"""Retrieval metrics against hand-computed rankings (ties included) and a brute-force reference."""
import itertools
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from speechdis.eval.retrieval import (
    average_precision,
    precision_at_k,
    r_precision,
    ranking_metrics,
    same_different_ap,
    segment_qbe,
    select_queries,
    utterance_qbe,
)


def test_ap_without_ties_hand_computed():
    s = [0.9, 0.8, 0.7, 0.6, 0.5]
    r = [1, 0, 1, 0, 1]
    assert average_precision(s, r) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert precision_at_k(s, r, 2) == pytest.approx(0.5)
    assert precision_at_k(s, r, 3) == pytest.approx(2 / 3)
    assert r_precision(s, r) == pytest.approx(2 / 3)
    # Order of input does not matter, only the scores.
    perm = [3, 0, 4, 2, 1]
    assert average_precision(np.array(s)[perm], np.array(r)[perm]) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)


def test_ties_are_one_block():
    # Blocks: {0.9}, {0.5 x3: two relevant}, {0.1}.
    s = [0.9, 0.5, 0.5, 0.5, 0.1]
    r = [0, 1, 0, 1, 0]
    # Both relevant items get the precision at the end of their block: 2/4.
    assert average_precision(s, r) == pytest.approx(0.5)
    # P@2 cuts the block after 1 of 3 items: 2 relevant * 1/3 expected.
    assert precision_at_k(s, r, 2) == pytest.approx((2 / 3) / 2)
    assert r_precision(s, r) == pytest.approx((2 / 3) / 2)
    assert precision_at_k(s, r, 4) == pytest.approx(0.5)
    assert precision_at_k(s, r, 1) == pytest.approx(0.0)
    # All items tied: AP = precision of the whole list.
    assert average_precision([1, 1, 1, 1], [1, 0, 0, 1]) == pytest.approx(0.5)


def test_ap_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(2, 25))
        s = rng.integers(0, 4, n).astype(float)
        r = rng.random(n) < 0.4
        if not r.any():
            continue
        assert average_precision(s, r) == pytest.approx(average_precision_score(r, s), abs=1e-12)


def _expected_precision_over_tie_orders(s, r, k):
    """Brute force: average P@k over every ordering consistent with the scores."""
    s, r = np.asarray(s, float), np.asarray(r, bool)
    vals = []
    for perm in itertools.permutations(range(len(s))):
        p = np.array(perm)
        if np.all(np.diff(s[p]) <= 0):
            vals.append(r[p][:k].sum() / k)
    return float(np.mean(vals))


def test_precision_at_cutoff_is_expectation_over_tie_orders():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = int(rng.integers(2, 7))
        s = rng.integers(0, 3, n).astype(float)
        r = rng.random(n) < 0.5
        for k in range(1, n + 1):
            assert precision_at_k(s, r, k) == pytest.approx(_expected_precision_over_tie_orders(s, r, k))
        if r.any():
            assert r_precision(s, r) == pytest.approx(_expected_precision_over_tie_orders(s, r, int(r.sum())))


def test_edge_cases():
    assert math.isnan(average_precision([0.3, 0.2], [0, 0]))
    assert math.isnan(r_precision([0.3, 0.2], [0, 0]))
    # P@k divides by k even when fewer items exist (trec_eval).
    assert precision_at_k([0.3, 0.2], [1, 1], 10) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        average_precision([0.1, np.nan], [1, 0])
    with pytest.raises(ValueError):
        average_precision([0.1, 0.2], [1])


def test_ranking_metrics_valid_mask_removes_items():
    s = np.array([[0.9, 0.8, 0.7, 0.6]])
    r = np.array([[1, 0, 1, 1]], bool)
    v = np.array([[False, True, True, True]])
    m = ranking_metrics(s, r, k=2, valid=v)
    assert m["ap"][0] == pytest.approx(average_precision([0.8, 0.7, 0.6], [0, 1, 1]))
    assert m["n_relevant"][0] == 2
    assert m["p_at_k"][0] == pytest.approx(0.5)


# Hand geometry: cosines to v0 are v1 .995 (A), v4 .989 (B), v2 .981 (B), v3 0 (A).
ARCH = np.array([[1, 0], [1, 0.1], [1, 0.2], [0, 1], [1, -0.15]], float)
WORDS = ["A", "A", "B", "A", "B"]


def test_segment_qbe_hand_case_and_exclusion():
    res = segment_qbe(ARCH[:1], ["A"], ARCH, WORDS, exclude=[0])
    assert res.ap[0] == pytest.approx((1 + 2 / 4) / 2)
    assert res.p_at_r[0] == pytest.approx(0.5)
    assert res.p_at_k[0] == pytest.approx(0.2)
    assert res.n_queries == 1 and res.map == pytest.approx(0.75)
    # Not excluded: the query finds itself first.
    res = segment_qbe(ARCH[:1], ["A"], ARCH, WORDS)
    assert res.ap[0] == pytest.approx((1 + 1 + 3 / 5) / 3)
    # Exclusion by id gives the same as by index.
    ids = ["s0", "s1", "s2", "s3", "s4"]
    by_id = segment_qbe(ARCH[:1], ["A"], ARCH, WORDS, exclude=["s0"], archive_ids=ids)
    assert by_id.ap[0] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        segment_qbe(ARCH[:1], ["A"], ARCH, WORDS, exclude=["nope"], archive_ids=ids)


def test_segment_qbe_matches_per_query_loop_and_skips_unanswerable():
    rng = np.random.default_rng(2)
    n, d = 40, 5
    words = list(rng.integers(0, 6, n))
    words[7] = 99  # a word with one occurrence: no relevant item once the query is excluded
    x = rng.normal(size=(n, d))
    x[3] = x[5]  # exact duplicate vectors create a tie
    q_idx = np.arange(0, n, 1)
    res = segment_qbe(x[q_idx], [words[i] for i in q_idx], x, words, exclude=q_idx, block_size=7)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    aps = []
    for qi in q_idx:
        s = np.delete(xn @ xn[qi], qi)
        rel = np.delete(np.array(words) == words[qi], qi)
        if not rel.any():
            assert math.isnan(res.ap[qi])
            continue
        assert res.ap[qi] == pytest.approx(average_precision(s, rel))
        assert res.p_at_k[qi] == pytest.approx(precision_at_k(s, rel, 10))
        assert res.p_at_r[qi] == pytest.approx(r_precision(s, rel))
        aps.append(average_precision(s, rel))
    assert res.n_queries == len(aps) and res.n_skipped == 1
    assert res.map == pytest.approx(np.mean(aps))
    assert set(res.summary()) >= {"MAP", "P@10", "P@R", "n_queries"}


def test_select_queries():
    words = ["a", "b", "a", "c", "a", "b"]
    assert select_queries(words, 2).tolist() == [0, 1, 2, 4, 5]
    assert select_queries(words, 3).tolist() == [0, 2, 4]
    one = select_queries(words, 2, max_per_word=1, seed=3)
    assert len(one) == 2 and sorted(words[i] for i in one) == ["a", "b"]
    assert one.tolist() == select_queries(words, 2, max_per_word=1, seed=3).tolist()
    assert select_queries([], 2).tolist() == []


UTT_WORDS = {"u1": {"A", "B"}, "u2": {"B"}, "u3": {"A", "C"}, "u4": {"C"}}
SEGS = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6], [0, 1]], float)
SEG_UTTS = ["u1", "u1", "u2", "u3", "u3"]


def test_utterance_qbe_max_over_segments():
    q = np.array([[0.6, 0.8], [0, 1]])
    # Query A from u1: u2 scores 1.0 (no A), u3 max(.96, .8) (A), u4 has no segment (-2).
    # Query C from u3: u1 max(0, 1) = 1 (no C), u2 .8, u4 relevant but segment-less -> rank 3.
    res = utterance_qbe(q, ["A", "C"], SEGS, SEG_UTTS, UTT_WORDS, query_utts=["u1", "u3"])
    assert res.ap.tolist() == pytest.approx([0.5, 1 / 3])
    assert res.p_at_r.tolist() == pytest.approx([0.0, 0.0])
    assert res.map == pytest.approx((0.5 + 1 / 3) / 2)
    # Without excluding the query's utterance, u1 (score .8, contains A) is found too.
    res = utterance_qbe(q[:1], ["A"], SEGS, SEG_UTTS, UTT_WORDS, exclude_utt_of_query=False)
    assert res.ap[0] == pytest.approx((1 / 2 + 2 / 3) / 2)
    with pytest.raises(ValueError):
        utterance_qbe(q, ["A", "C"], SEGS, SEG_UTTS, UTT_WORDS)
    with pytest.raises(ValueError):
        utterance_qbe(q, ["A", "C"], SEGS, SEG_UTTS[:-1] + ["u9"], UTT_WORDS, exclude_utt_of_query=False)


def test_same_different_tiny_case():
    v = np.array([[1, 0], [1, 0.1], [0, 1], [1, 0.5]], float)
    words = ["A", "A", "B", "B"]
    spk = ["s1", "s2", "s1", "s2"]
    # Pairs by cosine: (0,1) same .995, (1,3) .93, (0,3) .89, (2,3) same .45, (1,2) .10, (0,2) 0.
    res = same_different_ap(v, words, spk)
    assert res.ap == pytest.approx((1 + 2 / 4) / 2)
    assert (res.n_pairs, res.n_same) == (6, 2)
    # Different-speaker pairs only: (0,1) same, (0,3), (2,3) same, (1,2).
    assert res.ap_diff_speaker == pytest.approx((1 + 2 / 3) / 2)
    assert (res.n_pairs_diff_speaker, res.n_same_diff_speaker) == (4, 2)
    assert math.isnan(same_different_ap(v, words).ap_diff_speaker)


def test_same_different_matches_brute_force():
    rng = np.random.default_rng(4)
    n = 30
    x = rng.normal(size=(n, 4))
    w = rng.integers(0, 5, n)
    s = rng.integers(0, 3, n)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    pairs = list(itertools.combinations(range(n), 2))
    sims = np.array([xn[i] @ xn[j] for i, j in pairs])
    same = np.array([w[i] == w[j] for i, j in pairs])
    diff = np.array([s[i] != s[j] for i, j in pairs])
    res = same_different_ap(x, w, s)
    assert res.ap == pytest.approx(average_precision_score(same, sims))
    assert res.ap_diff_speaker == pytest.approx(average_precision_score(same[diff], sims[diff]))
