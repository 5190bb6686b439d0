"""Spoken term detection (:func:`run_std`): segment and utterance query-by-example, cross-speaker QbE,
same-different AP and budgeted frame DTW.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from speechdis.errors import DataDirError
from speechdis.eval.config import EVAL_DEFAULTS as D
from speechdis.eval.config import EvalConfig
from speechdis.eval.data import EvalData, Progress, say
from speechdis.eval.embedding import ModelVectors
from speechdis.eval.systems import SPEAKER_ONLY
from speechdis.eval.tasks.result import TaskResult

__all__ = ["StdOptions", "StdResult", "run_std", "std_queries"]


# ------------------------------------------------------------------------------------------------- STD
@dataclass
class StdOptions:
    """Settings of :func:`run_std` (CLI flags of ``speechdis evaluate std``; defaults from
    :class:`~speechdis.eval.config.EvalConfig`)."""

    dtw: bool = False
    dtw_budget: float | None = D.dtw_budget or None  # seconds; None = unlimited
    dtw_max_pairs: int | None = D.dtw_max_pairs
    min_occurrences: int = D.min_occurrences
    max_queries_per_word: int | None = D.max_queries_per_word
    k: int = D.k
    max_same_diff: int = D.max_same_diff  # segments drawn for the O(n^2) same-different task
    seed: int = D.seed

    @classmethod
    def from_config(cls, config: EvalConfig, dtw: bool = False) -> "StdOptions":
        """The STD settings of ``config`` (a ``dtw_budget`` of 0 = unlimited), DTW run if ``dtw``."""
        return cls(dtw=dtw, dtw_budget=config.dtw_budget or None, dtw_max_pairs=config.dtw_max_pairs,
                   min_occurrences=config.min_occurrences, max_queries_per_word=config.max_queries_per_word,
                   k=config.k, max_same_diff=config.max_same_diff, seed=config.seed)


@dataclass
class StdResult(TaskResult):
    """What :func:`run_std` found: per-system rows (system name -> metrics, as in ``std.json``) of each sub-task.

    ``segment_qbe`` rows hold ``MAP``, ``P@k``, ``P@R``, ``n_queries``, ``search_seconds`` (and DTW's pair counts);
    ``same_different`` rows ``AP`` and pair counts."""

    data: dict  # the data dir described, with the query counts
    segment_qbe: dict[str, dict] = field(default_factory=dict)
    # The archive of each query restricted to other speakers' segments: same-speaker matches flatter a
    # system that encodes the voice. Queries without a same-word segment of another speaker are left out.
    cross_speaker: dict[str, dict] = field(default_factory=dict)
    utterance_qbe: dict[str, dict] = field(default_factory=dict)
    utterance_scoring: str = "best word segment"  # or "sliding windows"
    same_different: dict[str, dict] = field(default_factory=dict)
    same_different_segments: int | None = None  # segments drawn for same-different when fewer than all
    dtw_note: str | None = None  # says how much of the task DTW scored when not all of it, and why

    @property
    def k_key(self) -> str:
        """The ``P@k`` key of the segment rows (``P@10`` by default)."""
        first = next(iter(self.segment_qbe.values()), {})
        return next((k for k in first if k.startswith("P@") and k != "P@R"), "P@10")

    def to_dict(self) -> dict:
        """The layout of ``std.json``."""
        out = {"data": self.data, "segment_qbe": self.segment_qbe, "segment_qbe_cross_speaker": self.cross_speaker,
               "utterance_qbe": self.utterance_qbe, "utterance_scoring": self.utterance_scoring,
               "same_different": self.same_different}
        if self.same_different_segments is not None:
            out["same_different_segments"] = self.same_different_segments
        if self.dtw_note is not None:
            out["dtw_note"] = self.dtw_note
        return out


def std_queries(data: EvalData, opt: StdOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(queries, archive, exclude)``: indices of the query and archive segments, and for each query the
    position in the archive of the query itself (left out of its ranking), -1 where it is not there.

    A data dir: queries are the segments of words with >= ``min_occurrences`` segments, the archive is every
    segment. Folder mode (``data.query_mask``): every query file's segment is a query (at most
    ``max_queries_per_word`` per word), the archive is the other segments."""
    from speechdis.eval.retrieval import select_queries

    if data.query_mask is None:
        q = select_queries(data.words, opt.min_occurrences, opt.max_queries_per_word, opt.seed)
        if q.size == 0:
            raise DataDirError(f"{data.data_dir}: no word occurs {opt.min_occurrences} or more times; "
                               f"no queries (lower --min-occurrences)")
        return q, np.arange(len(data)), q
    mask = np.asarray(data.query_mask, dtype=bool)
    cand = np.flatnonzero(mask)
    pick = select_queries([data.words[i] for i in cand], 1, opt.max_queries_per_word, opt.seed)
    q, archive = cand[pick], np.flatnonzero(~mask)
    if q.size == 0 or archive.size == 0:
        raise DataDirError(f"{data.data_dir}: no {'query' if q.size == 0 else 'archive'} segments to search "
                           f"({len(cand)} query and {len(archive)} archive segments usable)")
    return q, archive, np.full(len(q), -1, dtype=np.int64)


def _same_diff_subset(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _qbe_means(m: dict[str, np.ndarray], k: int) -> dict:
    ok = m["n_relevant"] > 0
    if not ok.any():
        return {"MAP": float("nan"), f"P@{k}": float("nan"), "P@R": float("nan"), "n_queries": 0}
    return {"MAP": float(m["ap"][ok].mean()), f"P@{k}": float(m["p_at_k"][ok].mean()),
            "P@R": float(m["p_at_r"][ok].mean()), "n_queries": int(ok.sum())}


def _dtw_sample(n: int, cap: int | None, seed) -> tuple[np.ndarray, int]:
    """A seeded order of ``n`` items and how many of its first items a pair cap leaves (``cap`` = their count)."""
    return np.random.default_rng(seed).permutation(n), n if cap is None else max(0, min(n, cap))


def _dtw_qbe(data: EvalData, queries: np.ndarray, archive: np.ndarray, exclude: np.ndarray, opt: StdOptions,
             progress: Progress | None):
    """Segment-level QbE with frame-level DTW: whole archive rows for a seeded sample of the queries.

    Returns (qbe row, cross-speaker row, done queries, the DTW matrix result, its query order)."""
    from speechdis.eval.dtw import dtw_matrix
    from speechdis.eval.retrieval import ranking_metrics

    # Whole rows (a query's AP needs its whole ranking) for a seeded sample of the queries: the first ones of a
    # seeded order, as many as --dtw-max-pairs allows. A time budget that stops early then also leaves a random
    # sample of queries done, not the first speakers.
    na = len(archive)
    cap = None if opt.dtw_max_pairs is None else opt.dtw_max_pairs // max(na, 1)
    perm, n_rows = _dtw_sample(len(queries), cap, opt.seed)
    order, own = queries[perm[:n_rows]], exclude[perm[:n_rows]]
    say(progress, f"DTW: {len(order)} of {len(queries)} queries x {na} segments"
         + (f" (budget {opt.dtw_budget:g}s)" if opt.dtw_budget else ""))
    res = dtw_matrix([data.feats[i] for i in order], [data.feats[i] for i in archive],
                     budget_seconds=opt.dtw_budget)
    rows = res.complete_rows
    done, done_own = order[rows], own[rows]
    words = np.array(data.words, dtype=object)[archive]
    qwords = np.array(data.words, dtype=object)[done]
    qbe = {"MAP": float("nan"), f"P@{opt.k}": float("nan"), "P@R": float("nan"), "n_queries": 0,
           "search_seconds": res.seconds, "pairs_computed": res.n_computed, "pairs_total": len(queries) * na,
           "queries_sampled": int(n_rows), "sampled": int(n_rows) < len(queries), "max_pairs": opt.dtw_max_pairs,
           "time_cut": not res.complete,
           "complete": int(rows.size) == len(queries)}
    cross = _qbe_means({"n_relevant": np.zeros(0, int)}, opt.k)
    if rows.size:
        dist = res.distances[rows]
        rel = qwords[:, None] == words[None, :]
        valid = np.ones(dist.shape, dtype=bool)
        valid[np.flatnonzero(done_own >= 0), done_own[done_own >= 0]] = False
        spk = np.array(data.speakers, dtype=object)
        other = spk[done][:, None] != spk[archive][None, :]
        cross = _qbe_means(ranking_metrics(-dist, rel, k=opt.k, valid=valid & other), opt.k)
        m = ranking_metrics(-dist, rel, k=opt.k, valid=valid)
        ok = m["n_relevant"] > 0
        if ok.any():
            qbe.update({"MAP": float(m["ap"][ok].mean()), f"P@{opt.k}": float(m["p_at_k"][ok].mean()),
                        "P@R": float(m["p_at_r"][ok].mean())})
        qbe["n_queries"] = int(ok.sum())
    return qbe, cross, done, res, order


def _dtw_same_diff(data: EvalData, subset: np.ndarray, archive: np.ndarray, order: np.ndarray, qbe_dist,
                   opt: StdOptions, seconds_left: float | None) -> tuple[dict, np.ndarray]:
    """Same-different AP with frame-level DTW over every pair of a seeded sample of the models' same-different
    segments ``subset`` (all of them unless --dtw-max-pairs is smaller than their pair count), so DTW and the
    models rank the same pairs. Distances the QbE rows hold (``qbe_dist``: rows ``order``, columns ``archive``)
    are reused. Returns (row, the segments whose pairs were scored, sorted)."""
    from speechdis.eval.dtw import dtw_pairs
    from speechdis.eval.retrieval import average_precision

    cap = None
    if opt.dtw_max_pairs is not None:  # the most segments s with s (s - 1) / 2 <= max_pairs
        cap = int((1 + np.sqrt(1 + 8 * opt.dtw_max_pairs)) // 2)
        while cap * (cap - 1) // 2 > opt.dtw_max_pairs:
            cap -= 1
    perm, n_seg = _dtw_sample(len(subset), cap, [opt.seed, 1])
    segs = subset[perm[:n_seg]]  # in the order of their rows: pairs of row k are (segs[k], segs[j]), j < k
    k_idx, j_idx = np.tril_indices(n_seg, -1)
    a, b = segs[k_idx], segs[j_idx]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    row_of = np.full(len(data), -1, dtype=np.int64)
    pos_of = np.full(len(data), -1, dtype=np.int64)
    pos_of[archive] = np.arange(len(archive))
    if qbe_dist is not None:
        complete = ~np.isnan(qbe_dist.distances).any(axis=1)
        row_of[order[complete]] = np.flatnonzero(complete)
    dist = np.full(k_idx.size, np.nan)
    # A pair of two searched queries is read from the row of the smaller index (as before this function existed).
    for x, y in ((lo, hi), (hi, lo)):
        have = np.isnan(dist) & (row_of[x] >= 0) & (pos_of[y] >= 0)
        dist[have] = qbe_dist.distances[row_of[x[have]], pos_of[y[have]]]
    fresh = np.flatnonzero(np.isnan(dist))
    res = dtw_pairs(data.feats, a[fresh], b[fresh], budget_seconds=seconds_left)
    dist[fresh] = res.distances
    # A time cut leaves whole rows: the segments before the first unfinished row, with all their pairs.
    missing = np.isnan(dist)
    n_done = int(k_idx[np.argmax(missing)]) if missing.any() else n_seg
    keep = k_idx < n_done
    scores, a, b = -dist[keep], a[keep], b[keep]
    w = np.array(data.words, dtype=object)
    spk = np.array(data.speakers, dtype=object)
    same, diff = w[a] == w[b], spk[a] != spk[b]
    sd = {"AP": average_precision(scores, same) if same.any() else float("nan"),
          "AP_diff_speaker": average_precision(scores[diff], same[diff]) if (same & diff).any() else float("nan"),
          "n_pairs": int(keep.sum()), "n_same": int(same.sum()), "n_pairs_diff_speaker": int(diff.sum()),
          "n_same_diff_speaker": int((same & diff).sum()), "segments": n_done,
          "pairs_total": len(subset) * (len(subset) - 1) // 2, "pairs_computed": res.n_computed,
          "pairs_reused": int(k_idx.size - fresh.size), "search_seconds": res.seconds, "max_pairs": opt.dtw_max_pairs,
          "sampled": n_seg < len(subset), "time_cut": not res.complete, "complete": n_done == len(subset)}
    return sd, np.sort(segs[:n_done])


def _dtw_note(qbe: dict, sd: dict, budget: float | None) -> str | None:
    """One line for the report when DTW scored fewer pairs than the whole task: how many, and why."""
    if qbe["complete"] and sd["complete"]:
        return None
    why = []
    if qbe["sampled"] or sd["sampled"]:
        why.append(f"--dtw-max-pairs {qbe['max_pairs']}: a seeded sample")
    if qbe["time_cut"] or sd["time_cut"]:
        why.append(f"the time budget of {budget:g} s STOPPED it, so the pairs scored depend on machine load")
    return (f"DTW scored part of the task ({' and '.join(why)}): QbE {qbe['n_queries']} queries, "
            f"{qbe['pairs_computed']} of {qbe['pairs_total']} pairs; same-different {sd['n_pairs']} of "
            f"{sd['pairs_total']} pairs ({sd['segments']} segments); other systems' MAP_dtw_queries and "
            f"AP_dtw_pairs are on the same queries and pairs")


def run_std(data: EvalData, models: Sequence[ModelVectors], opt: StdOptions | None = None,
            progress: Progress | None = None) -> StdResult:
    """Spoken term detection results (see the module doc): segment, utterance, same-different, DTW."""
    from speechdis.eval.retrieval import same_different_ap, segment_qbe, utterance_qbe

    opt = opt or StdOptions()
    queries, archive, exclude = std_queries(data, opt)
    awords = [data.words[i] for i in archive]
    aspks = [data.speakers[i] for i in archive]
    qwords = [data.words[i] for i in queries]
    quitts = [data.utts[i] for i in queries]
    seg: dict[str, dict] = {}
    cross: dict[str, dict] = {}
    utt: dict[str, dict] = {}
    sd: dict[str, dict] = {}
    subset = _same_diff_subset(len(data), opt.max_same_diff, opt.seed)
    described = {**data.describe(), "queries": int(len(queries)), "query_words": len(set(qwords)),
                 "min_occurrences": opt.min_occurrences}
    if data.query_mask is not None:  # folder mode: queries whose word the archive lacks score nothing
        have = set(awords)
        described.update({"archive_segments": int(len(archive)),
                          "queries_without_match": sum(w not in have for w in qwords)})
        del described["min_occurrences"]
    done = dtw_segs = dtw_note = None
    qspks = [data.speakers[i] for i in queries]
    if opt.dtw:
        seg["DTW"], cross["DTW"], done, qbe_dist, order = _dtw_qbe(data, queries, archive, exclude, opt, progress)
        left = None if opt.dtw_budget is None else opt.dtw_budget - qbe_dist.seconds
        sd["DTW"], dtw_segs = _dtw_same_diff(data, subset, archive, order, qbe_dist, opt, left)
        dtw_note = _dtw_note(seg["DTW"], sd["DTW"], opt.dtw_budget)
        if dtw_note:
            say(progress, dtw_note)
    for m in models:
        if m.kind in SPEAKER_ONLY:
            continue
        say(progress, f"search with {m.name}")
        av = m.phonetic[archive]
        r = segment_qbe(m.phonetic[queries], qwords, av, awords, exclude=exclude, k=opt.k)
        seg[m.name] = {**{k: v for k, v in r.summary().items() if k != "n_skipped"},
                       "embed_seconds": m.embed_seconds}
        x = segment_qbe(m.phonetic[queries], qwords, av, awords, exclude=exclude, k=opt.k,
                        query_groups=qspks, archive_groups=aspks)
        cross[m.name] = {k: v for k, v in x.summary().items() if k not in ("n_skipped", "search_seconds")}
        if done is not None and seg["DTW"]["n_queries"] and not seg["DTW"]["complete"]:
            # The same queries DTW finished, for a like-for-like comparison under a budget.
            pos = {int(q): int(e) for q, e in zip(queries, exclude)}
            sub = segment_qbe(m.phonetic[done], [data.words[i] for i in done], av, awords,
                              exclude=[pos[int(i)] for i in done], k=opt.k)
            seg[m.name]["MAP_dtw_queries"] = sub.map
        if m.window_vectors is not None:
            uv, uu = m.window_vectors[m.roles["phonetic"]], m.window_utts
        else:
            uv, uu = av, [data.utts[i] for i in archive]
        ur = utterance_qbe(m.phonetic[queries], qwords, uv, uu, data.utt_words, query_utts=quitts, k=opt.k)
        utt[m.name] = {k: v for k, v in ur.summary().items() if k != "n_skipped"}
        s = same_different_ap(m.phonetic[subset], [data.words[i] for i in subset],
                              [data.speakers[i] for i in subset])
        sd[m.name] = s.summary()
        if dtw_segs is not None and len(dtw_segs) < len(subset):
            # The pairs DTW scored, for a like-for-like comparison under a pair cap or a time budget.
            t = same_different_ap(m.phonetic[dtw_segs], [data.words[i] for i in dtw_segs],
                                  [data.speakers[i] for i in dtw_segs])
            sd[m.name].update({"AP_dtw_pairs": t.ap, "AP_diff_speaker_dtw_pairs": t.ap_diff_speaker})
    windows = any(m.window_vectors is not None for m in models)
    return StdResult(data=described, segment_qbe=seg, cross_speaker=cross, utterance_qbe=utt,
                     utterance_scoring="sliding windows" if windows else "best word segment", same_different=sd,
                     same_different_segments=int(len(subset)) if len(subset) < len(data) else None,
                     dtw_note=dtw_note)
