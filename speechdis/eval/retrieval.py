"""Query-by-example retrieval metrics: AP, P@k, R-precision, segment/utterance QbE, same-different AP.

Tie convention (used by every function here)
--------------------------------------------
Items with exactly equal scores form one *block* that is retrieved all at once.

* Average precision follows scikit-learn's ``average_precision_score``: every relevant item in a block
  receives the precision measured at the *end* of its block, i.e.
  ``AP = (1/R) * sum_blocks rel_in_block * (relevant up to block end) / (items up to block end)``.
  Without ties this is the usual non-interpolated AP.
* A precision cutoff (P@k, R-precision) that falls inside a block counts that block's relevant items
  pro rata: ``(rel_before + rel_in_block * taken / block_size) / k`` — the expected precision over all
  orderings of the tie. P@k divides by ``k`` even when fewer than ``k`` items exist (as trec_eval does).

A ranking with no relevant item has undefined AP / R-precision: those functions return NaN and the
QbE functions leave such queries out of the means (they are counted as ``n_skipped``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

import numpy as np

__all__ = [
    "average_precision",
    "precision_at_k",
    "r_precision",
    "ranking_metrics",
    "QbeResult",
    "segment_qbe",
    "select_queries",
    "utterance_qbe",
    "SameDifferentResult",
    "same_different_ap",
    "cosine_normalise",
]

# Queries per block in the QbE searches: bounds memory to a few (block x archive) float64/int64 arrays.
_BLOCK = 256


def cosine_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float64); all-zero rows stay zero so their cosines are 0, not NaN."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _check_1d(scores: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    r = np.asarray(relevant).astype(bool).ravel()
    if s.shape != r.shape:
        raise ValueError(f"scores ({s.size}) and relevant ({r.size}) differ in length")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s, r


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Average precision of ranking ``scores`` (higher = better) against boolean ``relevant``.

    Ties: a block of equal scores is retrieved at once (scikit-learn convention, see module doc).
    Returns NaN when nothing is relevant.
    """
    s, r = _check_1d(scores, relevant)
    return float(ranking_metrics(s, r, k=1)["ap"][0])


def _row_metrics(sorted_row: np.ndarray, rel_scores: np.ndarray, k: int, n_valid: int) -> tuple[float, float, float]:
    """AP, P@k, P@R of one row from its ascending-sorted scores and the scores of its relevant items.

    Everything is a count of items (or relevant items) scoring >= / > a value, found by binary search;
    that is exactly the block convention of the module doc and needs no argsort.
    """
    n = sorted_row.size
    n_rel = rel_scores.size
    if n_rel == 0:
        ap = p_at_r = float("nan")
    else:
        rel_sorted = np.sort(rel_scores)
        n_ge = n - np.searchsorted(sorted_row, rel_sorted, side="left")
        rel_ge = n_rel - np.searchsorted(rel_sorted, rel_sorted, side="left")
        ap = float(np.mean(rel_ge / n_ge))
    kk = min(k, n_valid)

    def hits(cutoff: int) -> float:
        # The cutoff-th best score v; the block of v straddles the cutoff and counts pro rata.
        v = sorted_row[n - cutoff]
        lo, hi = np.searchsorted(sorted_row, v, side="left"), np.searchsorted(sorted_row, v, side="right")
        n_gt, block = n - hi, hi - lo
        if n_rel == 0:
            return 0.0
        rlo, rhi = np.searchsorted(rel_sorted, v, side="left"), np.searchsorted(rel_sorted, v, side="right")
        return (n_rel - rhi) + (rhi - rlo) * (cutoff - n_gt) / block

    p_at_k = hits(kk) / k if kk > 0 else 0.0
    if n_rel:
        p_at_r = hits(n_rel) / n_rel
    return ap, p_at_k, p_at_r


def ranking_metrics(
    scores: np.ndarray, relevant: np.ndarray, k: int = 10, valid: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Row-wise AP, P@k and R-precision of a (queries x items) score matrix.

    ``valid`` (same shape, bool) removes items from a row's ranking (e.g. the query itself).
    Scores of valid items must be finite. Returns arrays ``ap``, ``p_at_k``, ``p_at_r``, ``n_relevant``
    (NaN AP / P@R where a row has no relevant item).
    """
    s = np.array(scores, dtype=np.float64, ndmin=2)
    r = np.array(relevant, dtype=bool, ndmin=2)
    if s.shape != r.shape:
        raise ValueError(f"scores {s.shape} and relevant {r.shape} differ in shape")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if valid is not None:
        v = np.array(valid, dtype=bool, ndmin=2)
        if v.shape != s.shape:
            raise ValueError(f"valid {v.shape} and scores {s.shape} differ in shape")
        if not np.isfinite(s[v]).all():
            raise ValueError("scores of valid items must be finite")
        # Invalid items become -inf: below every finite score, so they never share a block with a
        # valid item and never reach a cutoff (cutoffs are capped at the number of valid items).
        s[~v] = -np.inf
        r = r & v
        n_valid = v.sum(axis=1)
    else:
        if not np.isfinite(s).all():
            raise ValueError("scores must be finite")
        n_valid = np.full(s.shape[0], s.shape[1])
    n_rows = s.shape[0]
    # np.sort is several times faster than argsort (SIMD); counts by binary search replace ranks.
    srt = np.sort(s, axis=1)
    n_rel = r.sum(axis=1)
    rel_scores = np.split(s[r], np.cumsum(n_rel)[:-1])
    out = np.array([_row_metrics(srt[i], rel_scores[i], k, int(n_valid[i])) for i in range(n_rows)]).reshape(n_rows, 3)
    return {"ap": out[:, 0], "p_at_k": out[:, 1], "p_at_r": out[:, 2], "n_relevant": n_rel}


def precision_at_k(scores: np.ndarray, relevant: np.ndarray, k: int = 10) -> float:
    """Precision among the ``k`` best-scored items (divided by ``k``; a tie at the cutoff counts pro rata)."""
    s, r = _check_1d(scores, relevant)
    return float(ranking_metrics(s, r, k=k)["p_at_k"][0])


def r_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Precision among the R best-scored items, R = number of relevant items (NaN when R = 0)."""
    s, r = _check_1d(scores, relevant)
    return float(ranking_metrics(s, r, k=1)["p_at_r"][0])


@dataclass
class QbeResult:
    """Per-query metrics of a query-by-example search and their means over evaluated queries.

    Per-query arrays have one entry per query; queries with no relevant item (``n_relevant == 0``)
    have NaN AP / P@R and are left out of the means and of ``n_queries``.
    """

    ap: np.ndarray
    p_at_k: np.ndarray
    p_at_r: np.ndarray
    n_relevant: np.ndarray
    k: int
    map: float
    mean_p_at_k: float
    mean_p_at_r: float
    n_queries: int
    n_skipped: int
    search_seconds: float = field(default=0.0)

    def summary(self) -> dict[str, float | int]:
        """The headline numbers as a flat dict (for reports and tables)."""
        return {
            "MAP": self.map,
            f"P@{self.k}": self.mean_p_at_k,
            "P@R": self.mean_p_at_r,
            "n_queries": self.n_queries,
            "n_skipped": self.n_skipped,
            "search_seconds": self.search_seconds,
        }


def _finish(parts: list[dict[str, np.ndarray]], k: int, seconds: float, n_q: int) -> QbeResult:
    if parts:
        cat = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    else:
        cat = {"ap": np.zeros(0), "p_at_k": np.zeros(0), "p_at_r": np.zeros(0), "n_relevant": np.zeros(0, int)}
    ok = cat["n_relevant"] > 0
    n_ok = int(ok.sum())

    def mean(a: np.ndarray) -> float:
        return float(a[ok].mean()) if n_ok else float("nan")

    return QbeResult(
        ap=cat["ap"], p_at_k=cat["p_at_k"], p_at_r=cat["p_at_r"], n_relevant=cat["n_relevant"], k=k,
        map=mean(cat["ap"]), mean_p_at_k=mean(cat["p_at_k"]), mean_p_at_r=mean(cat["p_at_r"]),
        n_queries=n_ok, n_skipped=n_q - n_ok, search_seconds=seconds,
    )


def _label_ids(*label_lists: Sequence[Hashable]) -> list[np.ndarray]:
    """Map several label sequences to integer ids in one shared vocabulary."""
    vocab: dict[Hashable, int] = {}
    out = []
    for labels in label_lists:
        out.append(np.fromiter((vocab.setdefault(w, len(vocab)) for w in labels), dtype=np.int64, count=len(labels)))
    return out


def _exclude_indices(exclude, n_queries: int, n_archive: int, archive_ids) -> np.ndarray:
    """Archive index to drop for each query (-1 = none), from indices or from ids."""
    if exclude is None:
        return np.full(n_queries, -1, dtype=np.int64)
    if len(exclude) != n_queries:
        raise ValueError(f"exclude has {len(exclude)} entries for {n_queries} queries")
    if archive_ids is not None:
        if len(archive_ids) != n_archive:
            raise ValueError(f"archive_ids has {len(archive_ids)} entries for {n_archive} archive items")
        where = {a: i for i, a in enumerate(archive_ids)}
        if len(where) != n_archive:
            raise ValueError("archive_ids are not unique")
        out = np.full(n_queries, -1, dtype=np.int64)
        for q, e in enumerate(exclude):
            if e is None:
                continue
            if e not in where:
                # A silent no-op here would let a query find itself: refuse instead.
                raise ValueError(f"exclude id {e!r} (query {q}) is not an archive id")
            out[q] = where[e]
        return out
    out = np.asarray(exclude, dtype=np.int64)
    if (out >= n_archive).any():
        raise ValueError(f"exclude index out of range for an archive of {n_archive}")
    return np.where(out < 0, -1, out)


def segment_qbe(
    query_vecs: np.ndarray,
    query_words: Sequence[Hashable],
    archive_vecs: np.ndarray,
    archive_words: Sequence[Hashable],
    exclude: Sequence[int] | Sequence[Hashable] | None = None,
    *,
    archive_ids: Sequence[Hashable] | None = None,
    query_groups: Sequence[Hashable] | None = None,
    archive_groups: Sequence[Hashable] | None = None,
    k: int = 10,
    block_size: int = _BLOCK,
) -> QbeResult:
    """Segment-level query-by-example: rank archive segments by cosine similarity to each query.

    Relevant = same word. ``exclude[q]`` names the archive item that *is* query ``q`` so it is left
    out of that query's ranking: an archive index (negative = none), or — when ``archive_ids`` is
    given — an archive id (None = none; an unknown id raises). With ``query_groups`` and
    ``archive_groups`` (e.g. speakers: cross-speaker QbE) each query ranks only the archive items of
    other groups than its own. Returns per-query AP, P@k, P@R and means.
    """
    q = cosine_normalise(query_vecs)
    a = cosine_normalise(archive_vecs)
    if len(query_words) != len(q) or len(archive_words) != len(a):
        raise ValueError("vectors and word labels differ in length")
    if q.shape[1] != a.shape[1]:
        raise ValueError(f"query dim {q.shape[1]} != archive dim {a.shape[1]}")
    qw, aw = _label_ids(query_words, archive_words)
    excl = _exclude_indices(exclude, len(q), len(a), archive_ids)
    if (query_groups is None) != (archive_groups is None):
        raise ValueError("give both query_groups and archive_groups, or neither")
    qg = ag = None
    if query_groups is not None:
        if len(query_groups) != len(q) or len(archive_groups) != len(a):
            raise ValueError("vectors and group labels differ in length")
        qg, ag = _label_ids(query_groups, archive_groups)

    t0 = time.perf_counter()
    parts = []
    for b0 in range(0, len(q), block_size):
        b1 = min(b0 + block_size, len(q))
        sims = q[b0:b1] @ a.T
        rel = qw[b0:b1, None] == aw[None, :]
        valid = _exclusion_mask(sims.shape, excl[b0:b1])
        if qg is not None:
            other = qg[b0:b1, None] != ag[None, :]
            valid = other if valid is None else valid & other
        parts.append(ranking_metrics(sims, rel, k=k, valid=valid))
    return _finish(parts, k, time.perf_counter() - t0, len(q))


def _exclusion_mask(shape: tuple[int, int], excl: np.ndarray) -> np.ndarray | None:
    """False where row i's own item (column excl[i] ≥ 0) must not be ranked; None when nothing is excluded."""
    rows = np.flatnonzero(excl >= 0)
    if not rows.size:
        return None
    valid = np.ones(shape, dtype=bool)
    valid[rows, excl[rows]] = False
    return valid


def select_queries(
    words: Sequence[Hashable], min_occurrences: int = 2, max_per_word: int | None = None, seed: int = 0
) -> np.ndarray:
    """Indices (sorted) of segments whose word occurs at least ``min_occurrences`` times.

    With ``max_per_word``, at most that many segments per word are drawn at random (seeded).
    """
    if min_occurrences < 1:
        raise ValueError("min_occurrences must be >= 1")
    (ids,) = _label_ids(words)
    counts = np.bincount(ids) if ids.size else np.zeros(0, int)
    keep = np.flatnonzero(counts[ids] >= min_occurrences) if ids.size else np.zeros(0, int)
    if max_per_word is None:
        return keep
    if max_per_word < 1:
        raise ValueError("max_per_word must be >= 1")
    rng = np.random.default_rng(seed)
    chosen = []
    for w in np.unique(ids[keep]):
        members = keep[ids[keep] == w]
        if members.size > max_per_word:
            members = rng.choice(members, size=max_per_word, replace=False)
        chosen.append(members)
    return np.sort(np.concatenate(chosen)) if chosen else keep


# Score of an utterance with no segment: below every cosine (>= -1), so it ranks last but stays finite.
_NO_SEGMENT_SCORE = -2.0


def utterance_qbe(
    query_vecs: np.ndarray,
    query_words: Sequence[Hashable],
    seg_vecs: np.ndarray,
    seg_utts: Sequence[Hashable],
    utt_words: Mapping[Hashable, set],
    exclude_utt_of_query: bool = True,
    *,
    query_utts: Sequence[Hashable] | None = None,
    k: int = 10,
    block_size: int = _BLOCK,
) -> QbeResult:
    """Utterance-level QbE: an utterance's score is the best cosine over its segments (or windows).

    The utterances searched are the keys of ``utt_words``; one is relevant when its word set contains
    the query word. Utterances with no segment score -2 (below any cosine). With
    ``exclude_utt_of_query`` the utterance each query was cut from (``query_utts``, required then) is
    left out of that query's ranking.
    """
    q = cosine_normalise(query_vecs)
    sv = cosine_normalise(seg_vecs)
    if len(query_words) != len(q) or len(seg_utts) != len(sv):
        raise ValueError("vectors and labels differ in length")
    if q.shape[1] != sv.shape[1]:
        raise ValueError(f"query dim {q.shape[1]} != segment dim {sv.shape[1]}")
    utts = list(utt_words)
    u_index = {u: i for i, u in enumerate(utts)}
    missing = [u for u in set(seg_utts) if u not in u_index]
    if missing:
        raise ValueError(f"segments of utterances missing from utt_words, e.g. {missing[0]!r}")
    excl = np.full(len(q), -1, dtype=np.int64)
    if exclude_utt_of_query:
        if query_utts is None:
            raise ValueError("exclude_utt_of_query=True needs query_utts")
        if len(query_utts) != len(q):
            raise ValueError("query_utts and query_vecs differ in length")
        excl = np.array([u_index.get(u, -1) for u in query_utts], dtype=np.int64)

    # Segments grouped by utterance so a per-utterance max is one np.maximum.reduceat.
    seg_u = np.array([u_index[u] for u in seg_utts], dtype=np.int64)
    order = np.argsort(seg_u, kind="stable")
    sv = sv[order]
    seg_u = seg_u[order]
    has_seg, first = np.unique(seg_u, return_index=True)

    # Relevance per distinct query word: row w = which utterances contain it.
    word_rows: dict[Hashable, int] = {}
    qrow = np.array([word_rows.setdefault(w, len(word_rows)) for w in query_words], dtype=np.int64)
    # Filled from the utterances' word sets: cost proportional to the words listed, not words x utterances.
    rel_by_word = np.zeros((len(word_rows), len(utts)), dtype=bool)
    for j, u in enumerate(utts):
        for w in utt_words[u]:
            row = word_rows.get(w)
            if row is not None:
                rel_by_word[row, j] = True

    t0 = time.perf_counter()
    parts = []
    for b0 in range(0, len(q), block_size):
        b1 = min(b0 + block_size, len(q))
        scores = np.full((b1 - b0, len(utts)), _NO_SEGMENT_SCORE)
        if len(sv):
            sims = q[b0:b1] @ sv.T
            scores[:, has_seg] = np.maximum.reduceat(sims, first, axis=1)
        rel = rel_by_word[qrow[b0:b1]]
        valid = _exclusion_mask(scores.shape, excl[b0:b1])
        parts.append(ranking_metrics(scores, rel, k=k, valid=valid))
    return _finish(parts, k, time.perf_counter() - t0, len(q))


@dataclass
class SameDifferentResult:
    """Same-different AP over all pairs and over different-speaker pairs only (NaN if not computed)."""

    ap: float
    n_pairs: int
    n_same: int
    ap_diff_speaker: float = float("nan")
    n_pairs_diff_speaker: int = 0
    n_same_diff_speaker: int = 0

    def summary(self) -> dict[str, float | int]:
        """Flat dict of the numbers (for reports and tables)."""
        return {
            "AP": self.ap, "n_pairs": self.n_pairs, "n_same": self.n_same,
            "AP_diff_speaker": self.ap_diff_speaker, "n_pairs_diff_speaker": self.n_pairs_diff_speaker,
            "n_same_diff_speaker": self.n_same_diff_speaker,
        }


def same_different_ap(
    vecs: np.ndarray, words: Sequence[Hashable], speakers: Sequence[Hashable] | None = None
) -> SameDifferentResult:
    """Same-different task: AP over all pairs i<j ranked by cosine similarity, relevant = same word.

    With ``speakers``, also the AP over different-speaker pairs only. Memory is O(n^2) (a few thousand
    segments is fine: 3000 segments = 4.5 M pairs).
    """
    x = cosine_normalise(vecs)
    n = len(x)
    if len(words) != n or (speakers is not None and len(speakers) != n):
        raise ValueError("vectors and labels differ in length")
    (w,) = _label_ids(words)
    # A boolean upper-triangle mask costs n^2 bytes, far less than two int64 index arrays.
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    sims = (x @ x.T)[upper]
    same = (w[:, None] == w[None, :])[upper]
    res = SameDifferentResult(ap=average_precision(sims, same), n_pairs=int(sims.size), n_same=int(same.sum()))
    if speakers is not None:
        (s,) = _label_ids(speakers)
        diff = (s[:, None] != s[None, :])[upper]
        res.ap_diff_speaker = average_precision(sims[diff], same[diff])
        res.n_pairs_diff_speaker = int(diff.sum())
        res.n_same_diff_speaker = int((same & diff).sum())
    return res
