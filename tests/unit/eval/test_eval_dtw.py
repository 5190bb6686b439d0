"""DTW against brute-force path enumeration, subsequence search, and the budgeted matrix."""
import numpy as np
import pytest

from speechdis.eval import dtw
from speechdis.eval.dtw import dtw_distance, dtw_matrix, dtw_pairs, subsequence_dtw


def _cos_dist(a, b):
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    return 1.0 - an @ bn.T


def _paths(i, j, ei, ej, steps):
    """Every monotone path from (i, j) to (ei, ej) as a list of (cell, step) pairs."""
    if (i, j) == (ei, ej):
        yield []
        return
    for di, dj in steps:
        ni, nj = i + di, j + dj
        if ni <= ei and nj <= ej:
            for rest in _paths(ni, nj, ei, ej, steps):
                yield [((ni, nj), (di, dj))] + rest


def brute_dtw(a, b):
    """min over all paths of sum(weight * d), weights 1/1/2 (symmetric2), over len(a)+len(b)."""
    d = _cos_dist(a, b)
    weight = {(1, 0): 1.0, (0, 1): 1.0, (1, 1): 2.0}
    best = min(
        d[0, 0] + sum(weight[st] * d[c] for c, st in path)
        for path in _paths(0, 0, len(a) - 1, len(b) - 1, weight)
    )
    return best / (len(a) + len(b))


def brute_subsequence(q, u):
    """min over start s, end e and unit-weight paths (0,s)->(N-1,e) of the cost, over len(q)."""
    d = _cos_dist(q, u)
    best = np.inf
    for s in range(len(u)):
        for e in range(s, len(u)):
            for path in _paths(0, s, len(q) - 1, e, [(1, 0), (0, 1), (1, 1)]):
                best = min(best, d[0, s] + sum(d[c] for c, _ in path))
    return best / len(q)


@pytest.mark.parametrize("n,m,dim", [(1, 1, 3), (1, 5, 2), (5, 1, 2), (3, 4, 3), (5, 6, 4), (6, 6, 2), (2, 7, 5)])
def test_dtw_matches_brute_force(n, m, dim):
    rng = np.random.default_rng(n * 100 + m)
    for _ in range(3):
        a, b = rng.normal(size=(n, dim)), rng.normal(size=(m, dim))
        assert dtw_distance(a, b) == pytest.approx(brute_dtw(a, b), abs=1e-5)
        assert dtw_distance(b, a) == pytest.approx(dtw_distance(a, b), abs=1e-12)


@pytest.mark.parametrize("n,m,dim", [(1, 1, 2), (1, 4, 3), (2, 5, 2), (3, 6, 3), (4, 4, 2), (3, 7, 4)])
def test_subsequence_matches_brute_force(n, m, dim):
    rng = np.random.default_rng(n * 10 + m)
    for _ in range(3):
        q, u = rng.normal(size=(n, dim)), rng.normal(size=(m, dim))
        dist, start, end = subsequence_dtw(q, u)
        assert dist == pytest.approx(brute_subsequence(q, u), abs=1e-5)
        assert 0 <= start < end <= m
        # The reported span really holds a path of that cost (free start/end inside the span).
        assert brute_subsequence(q, u[start:end]) == pytest.approx(dist, abs=1e-5)


def test_subsequence_finds_embedded_copy():
    rng = np.random.default_rng(7)
    q = rng.normal(size=(20, 13))
    u = rng.normal(size=(100, 13))
    u[37:57] = q * 3.0  # cosine ignores scale
    dist, start, end = subsequence_dtw(q, u)
    assert dist == pytest.approx(0.0, abs=1e-9)
    assert (start, end) == (37, 57)
    # A copy slowed down 2x (every frame twice) is still a perfect match, at the same place.
    u2 = rng.normal(size=(120, 13))
    u2[50:90] = np.repeat(q, 2, axis=0)
    dist, start, end = subsequence_dtw(q, u2)
    assert dist == pytest.approx(0.0, abs=1e-9)
    assert start in (50, 51) and end in (89, 90)


def test_dtw_basic_properties_and_errors():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 4))
    assert dtw_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert dtw_distance(a, np.repeat(a, 3, axis=0)) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        dtw_distance(a, np.zeros((0, 4)))
    with pytest.raises(ValueError):
        dtw_distance(a, rng.normal(size=(5, 3)))
    with pytest.raises(ValueError):
        subsequence_dtw(a, np.full((5, 4), np.nan))


def test_pure_python_kernels_agree_with_compiled():
    # The fallback used when numba is missing must compute the same thing.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(9, 3))
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    assert dtw._dtw_full_kernel(bn @ an.T) == pytest.approx(dtw_distance(a, b), abs=1e-12)
    out = np.zeros(3)
    dtw._dtw_sub_kernel(bn @ an.T, out)
    d, s, e = subsequence_dtw(a, b)
    assert out.tolist() == pytest.approx([d, s, e], abs=1e-12)


def test_dtw_matrix_full_budgeted_and_subsequence():
    rng = np.random.default_rng(5)
    qs = [rng.normal(size=(int(rng.integers(3, 9)), 4)) for _ in range(4)]
    arch = [rng.normal(size=(int(rng.integers(3, 12)), 4)) for _ in range(6)]
    res = dtw_matrix(qs, arch, chunk=4)
    assert res.complete and res.n_computed == res.n_total == 24
    ref = np.array([[dtw_distance(q, a) for a in arch] for q in qs])
    np.testing.assert_allclose(res.distances, ref, atol=1e-12)
    assert res.complete_rows.tolist() == [0, 1, 2, 3]
    # Tiny frame chunks (down to one item per chunk) change nothing.
    np.testing.assert_allclose(dtw_matrix(qs, arch, chunk_frames=10).distances, ref, atol=1e-12)

    part = dtw_matrix(qs, arch, max_pairs=9, chunk=4)
    assert part.n_computed == 9 and not part.complete
    done = ~np.isnan(part.distances)
    assert done.sum() == 9 and done[0].all() and done[1, :3].all() and not done[1, 3:].any()
    assert part.complete_rows.tolist() == [0]
    np.testing.assert_allclose(part.distances[done], ref[done], atol=1e-12)

    none = dtw_matrix(qs, arch, budget_seconds=0.0)
    assert none.n_computed == 0 and np.isnan(none.distances).all()

    sub = dtw_matrix(qs, arch, subsequence=True)
    ref_sub = np.array([[subsequence_dtw(q, a)[0] for a in arch] for q in qs])
    np.testing.assert_allclose(sub.distances, ref_sub, atol=1e-12)


def test_dtw_pairs_computes_the_listed_pairs_in_whole_groups():
    rng = np.random.default_rng(6)
    seqs = [rng.normal(size=(int(rng.integers(3, 12)), 4)) for _ in range(7)]
    first, second = np.array([3, 3, 3, 0, 5, 5]), np.array([1, 6, 0, 2, 5, 4])
    res = dtw_pairs(seqs, first, second, chunk_frames=10)  # groups cut into chunks change nothing
    assert res.complete and res.n_computed == 6
    ref = [dtw_distance(seqs[i], seqs[j]) for i, j in zip(first, second)]
    np.testing.assert_allclose(res.distances, ref, atol=1e-12)
    none = dtw_pairs(seqs, first, second, budget_seconds=0.0)
    assert none.n_computed == 0 and not none.complete and np.isnan(none.distances).all()
    assert dtw_pairs(seqs, first[:0], second[:0]).complete
    with pytest.raises(ValueError, match="one length"):
        dtw_pairs(seqs, first, second[:2])


def test_jit_falls_back_when_cache_or_numba_unavailable(monkeypatch):
    import sys
    import types

    def kernel(x):
        return x + 1

    calls = []

    def fake_njit(**kw):
        calls.append(kw)
        if kw.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return lambda f: f

    monkeypatch.setitem(sys.modules, "numba", types.SimpleNamespace(njit=fake_njit))
    assert dtw._jit(kernel)(1) == 2
    assert [c.get("cache", False) for c in calls] == [True, False]
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba -> ImportError
    assert dtw._jit(kernel) is kernel
