"""Frame-level dynamic time warping: the classic query-by-example baseline.

Frame distance: cosine distance ``1 - cos(a_i, b_j)`` (an all-zero frame is at distance 1 from everything).

Full DTW (:func:`dtw_distance`): steps (1,0), (0,1), (1,1) with the symmetric weights 1, 1, 2
(Sakoe & Chiba's "symmetric2"). Every path from (0,0) to (N-1,M-1) then has total weight N+M, so the
accumulated cost divided by ``len(a) + len(b)`` is a weighted mean frame distance; the optimum of the
normalised cost is the optimum of the raw cost (no path-length heuristics).

Subsequence DTW (:func:`subsequence_dtw`): the query must be matched completely, the utterance only
between a free start and a free end. Steps (1,0), (0,1), (1,1) with unit weights (Müller, *Fundamentals
of Music Processing*, 3.4): with unit weights every path through the whole query has at least N terms,
so collapsing or stretching the query is not rewarded; the cost is divided by ``len(query)``. On a
diagonal match both normalisations give the mean frame distance.

The kernels are numba-compiled when numba is importable (cached on disk when the package directory
or numba's user cache is writable), and plain Python otherwise (correct, much slower).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = ["dtw_distance", "subsequence_dtw", "dtw_matrix", "DtwMatrixResult", "dtw_pairs", "DtwPairsResult",
           "HAVE_NUMBA"]


def _jit(fn: Callable) -> Callable:
    """numba.njit with on-disk caching where possible; the function itself where numba is missing."""
    try:
        import numba
    except ImportError:
        return fn
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except Exception:
        # cache=True raises at decoration time when no cache directory is writable (read-only installs).
        return numba.njit(nogil=True)(fn)


try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:
    HAVE_NUMBA = False


def _dtw_full_kernel(sim: np.ndarray) -> float:
    # sim[j, i] = cos(b_j, a_i) (archive-major, the layout one BLAS call gives for a whole chunk).
    # Two rolling rows of the accumulated-cost matrix.
    m, n = sim.shape
    inf = np.inf
    prev = np.full(m, inf)
    cur = np.full(m, inf)
    for i in range(n):
        for j in range(m):
            # Cosine distance, clamped: rounding makes 1 - cos slightly negative for identical frames.
            c = min(max(1.0 - sim[j, i], 0.0), 2.0)
            if i == 0 and j == 0:
                cur[j] = c
                continue
            best = inf
            if i > 0:
                v = prev[j] + c
                if v < best:
                    best = v
                if j > 0:
                    v = prev[j - 1] + 2.0 * c
                    if v < best:
                        best = v
            if j > 0:
                v = cur[j - 1] + c
                if v < best:
                    best = v
            cur[j] = best
        for j in range(m):
            prev[j] = cur[j]
    return prev[m - 1] / (n + m)


def _dtw_sub_kernel(sim: np.ndarray, out: np.ndarray) -> None:
    # sim[j, i] = cos(u_j, q_i). Free start: query row 0 starts fresh in every utterance column.
    # The start column travels with the cost so the best match's span is known without backtracking.
    # out = [normalised cost, start, end (exclusive)].
    m, n = sim.shape
    inf = np.inf
    prev = np.full(m, inf)
    cur = np.full(m, inf)
    prev_s = np.zeros(m, dtype=np.int64)
    cur_s = np.zeros(m, dtype=np.int64)
    for i in range(n):
        for j in range(m):
            # Cosine distance, clamped: rounding makes 1 - cos slightly negative for identical frames.
            c = min(max(1.0 - sim[j, i], 0.0), 2.0)
            if i == 0:
                # Starting here is never worse than reaching (0, j) along the utterance, since costs >= 0.
                cur[j] = c
                cur_s[j] = j
                continue
            # Preference on equal cost: diagonal, then query step, then utterance step.
            best = inf
            bs = 0
            if j > 0 and prev[j - 1] + c < best:
                best = prev[j - 1] + c
                bs = prev_s[j - 1]
            if prev[j] + c < best:
                best = prev[j] + c
                bs = prev_s[j]
            if j > 0 and cur[j - 1] + c < best:
                best = cur[j - 1] + c
                bs = cur_s[j - 1]
            cur[j] = best
            cur_s[j] = bs
        for j in range(m):
            prev[j] = cur[j]
            prev_s[j] = cur_s[j]
    best_j = 0
    for j in range(1, m):
        if prev[j] < prev[best_j]:
            best_j = j
    out[0] = prev[best_j] / n
    out[1] = prev_s[best_j]
    out[2] = best_j + 1


def _dtw_row_kernel(sim: np.ndarray, bounds: np.ndarray, subsequence: bool, out: np.ndarray) -> None:
    # sim: a chunk of archive frames (rows) against one query; item k = rows bounds[k]:bounds[k+1].
    tmp = np.zeros(3)
    for k in range(bounds.shape[0] - 1):
        c = sim[bounds[k]:bounds[k + 1]]
        if subsequence:
            _dtw_sub(c, tmp)
            out[k] = tmp[0]
        else:
            out[k] = _dtw_full(c)


_dtw_full = _jit(_dtw_full_kernel)
_dtw_sub = _jit(_dtw_sub_kernel)
# numba resolves _dtw_full/_dtw_sub from the module globals at compile time, so it calls the jitted ones.
_dtw_row = _jit(_dtw_row_kernel)


def _sim(query: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Cosines of unit-norm frames as (other frames x query frames): one BLAS call in its fastest layout."""
    return other @ query.T


def _unit_frames(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (frames x dims) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return np.ascontiguousarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """DTW distance of two (frames x dims) sequences: symmetric2 cost / (len(a) + len(b)), cosine frames."""
    a = _unit_frames(a, "a")
    b = _unit_frames(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"frame dims differ: {a.shape[1]} vs {b.shape[1]}")
    return float(_dtw_full(_sim(a, b)))


def subsequence_dtw(query: np.ndarray, utterance: np.ndarray) -> tuple[float, int, int]:
    """Best match of the whole ``query`` anywhere inside ``utterance`` (free start and end).

    Returns ``(distance, start, end)``: unit-weight cost / len(query), and the utterance frames
    ``start:end`` (end exclusive) of one optimal path (on equal cost: diagonal steps preferred, the
    earliest end frame).
    """
    q = _unit_frames(query, "query")
    u = _unit_frames(utterance, "utterance")
    if q.shape[1] != u.shape[1]:
        raise ValueError(f"frame dims differ: {q.shape[1]} vs {u.shape[1]}")
    out = np.zeros(3)
    _dtw_sub(_sim(q, u), out)
    return float(out[0]), int(out[1]), int(out[2])


@dataclass
class DtwMatrixResult:
    """Distances of query/archive pairs (NaN where the budget stopped the search) and the work done.

    Pairs are computed query by query, archive item by item, so complete rows come first.
    """

    distances: np.ndarray
    n_computed: int
    n_total: int
    seconds: float
    complete: bool

    @property
    def complete_rows(self) -> np.ndarray:
        """Indices of queries whose whole row was computed."""
        return np.flatnonzero(~np.isnan(self.distances).any(axis=1))


def dtw_matrix(
    queries: Sequence[np.ndarray],
    archive: Sequence[np.ndarray],
    budget_seconds: float | None = None,
    max_pairs: int | None = None,
    *,
    subsequence: bool = False,
    chunk: int = 256,
    chunk_frames: int = 65536,
) -> DtwMatrixResult:
    """DTW distances of every query against every archive item, within an optional budget.

    Work goes in chunks of at most ``chunk`` archive items and ``chunk_frames`` archive frames (one
    similarity matrix per chunk; the frame cap bounds its memory for long utterances).
    ``budget_seconds`` stops after the chunk that crosses the time limit; ``max_pairs`` stops after
    exactly that many pairs. With ``subsequence=True`` archive items are
    utterances searched with :func:`subsequence_dtw`; otherwise :func:`dtw_distance` is used.
    """
    qs = [_unit_frames(q, f"queries[{i}]") for i, q in enumerate(queries)]
    items = [_unit_frames(x, f"archive[{i}]") for i, x in enumerate(archive)]
    dims = {x.shape[1] for x in qs + items}
    if len(dims) > 1:
        raise ValueError(f"frame dims differ across sequences: {sorted(dims)}")
    nq, na = len(qs), len(items)
    dist = np.full((nq, na), np.nan)
    n_total = nq * na
    limit = n_total if max_pairs is None else max(0, min(int(max_pairs), n_total))
    if na:
        frames = np.ascontiguousarray(np.concatenate(items))
        offsets = np.zeros(na + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(x) for x in items])
    done = 0
    t0 = time.perf_counter()
    stop = False
    for qi in range(nq):
        lo = 0
        while lo < na:
            if done >= limit or (budget_seconds is not None and time.perf_counter() - t0 >= budget_seconds):
                stop = True
                break
            hi = min(lo + chunk, na, lo + (limit - done))
            # Largest hi whose frames fit in chunk_frames (always at least one item).
            hi = max(lo + 1, min(hi, int(np.searchsorted(offsets, offsets[lo] + chunk_frames, side="right")) - 1))
            sim = _sim(qs[qi], frames[offsets[lo]:offsets[hi]])
            row = np.empty(hi - lo)
            _dtw_row(sim, offsets[lo:hi + 1] - offsets[lo], subsequence, row)
            dist[qi, lo:hi] = row
            done += hi - lo
            lo = hi
        if stop:
            break
    return DtwMatrixResult(dist, done, n_total, time.perf_counter() - t0, done == n_total)


@dataclass
class DtwPairsResult:
    """Distances of listed pairs (NaN where the budget stopped the search) and the work done."""

    distances: np.ndarray
    n_computed: int
    seconds: float
    complete: bool


def dtw_pairs(
    seqs: Sequence[np.ndarray],
    first: np.ndarray,
    second: np.ndarray,
    budget_seconds: float | None = None,
    *,
    chunk_frames: int = 65536,
) -> DtwPairsResult:
    """Full DTW distances (:func:`dtw_distance`) of the pairs ``(seqs[first[k]], seqs[second[k]])``.

    Pairs are computed in the order given, in groups of consecutive pairs with the same ``first`` (one
    similarity matrix per group and chunk of at most ``chunk_frames`` frames); ``budget_seconds`` stops before
    the first group that starts after the time limit, so a group is either done or left NaN.
    """
    first = np.asarray(first, dtype=np.int64)
    second = np.asarray(second, dtype=np.int64)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(f"first and second must be 1-D of one length, got {first.shape} and {second.shape}")
    dist = np.full(first.size, np.nan)
    t0 = time.perf_counter()
    if first.size == 0:
        return DtwPairsResult(dist, 0, 0.0, True)
    used = np.unique(np.concatenate([first, second]))
    unit = {int(i): _unit_frames(seqs[i], f"seqs[{i}]") for i in used}
    if len({x.shape[1] for x in unit.values()}) > 1:
        raise ValueError(f"frame dims differ across sequences: {sorted({x.shape[1] for x in unit.values()})}")
    starts = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
    ends = np.r_[starts[1:], first.size]
    done = 0
    for g0, g1 in zip(starts, ends):
        if budget_seconds is not None and time.perf_counter() - t0 >= budget_seconds:
            break
        q = unit[int(first[g0])]
        items = [unit[int(j)] for j in second[g0:g1]]
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(x) for x in items])
        frames = np.concatenate(items)
        lo = 0
        while lo < len(items):
            hi = max(lo + 1, int(np.searchsorted(offsets, offsets[lo] + chunk_frames, side="right")) - 1)
            row = np.empty(hi - lo)
            _dtw_row(_sim(q, frames[offsets[lo]:offsets[hi]]), offsets[lo:hi + 1] - offsets[lo], False, row)
            dist[g0 + lo:g0 + hi] = row
            lo = hi
        done = int(g1)
    return DtwPairsResult(dist, done, time.perf_counter() - t0, done == first.size)
