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


def _dtw_std(data: EvalData, queries: np.ndarray, archive: np.ndarray, exclude: np.ndarray, opt: StdOptions,
             progress: Progress | None) -> tuple[dict, dict, np.ndarray, dict]:
    """Segment-level QbE and same-different AP with frame-level DTW (``std_queries`` gives the arguments).

    Returns (qbe, same_diff, done queries, cross-speaker qbe)."""
    from speechdis.eval.dtw import dtw_matrix
    from speechdis.eval.retrieval import average_precision, ranking_metrics

    # A budget that stops early should leave a random sample of queries done, not the first speakers.
    perm = np.random.default_rng(opt.seed).permutation(len(queries))
    order, own = queries[perm], exclude[perm]
    say(progress, f"DTW: {len(order)} queries x {len(archive)} segments"
         + (f" (budget {opt.dtw_budget:g}s)" if opt.dtw_budget else ""))
    res = dtw_matrix([data.feats[i] for i in order], [data.feats[i] for i in archive],
                     budget_seconds=opt.dtw_budget, max_pairs=opt.dtw_max_pairs)
    rows = res.complete_rows
    done, done_own = order[rows], own[rows]
    words = np.array(data.words, dtype=object)[archive]
    qwords = np.array(data.words, dtype=object)[done]
    qbe = {"MAP": float("nan"), f"P@{opt.k}": float("nan"), "P@R": float("nan"), "n_queries": 0,
           "search_seconds": res.seconds, "pairs_computed": res.n_computed, "pairs_total": res.n_total,
           "complete": res.complete}
    sd = {"AP": float("nan"), "AP_diff_speaker": float("nan"), "n_pairs": 0}
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
        # Same-different over the computed pairs, each unordered pair once: a pair of two done queries
        # (both in the archive) is taken from the row of the smaller archive position.
        is_done = np.zeros(len(archive), dtype=bool)
        is_done[done_own[done_own >= 0]] = True
        cols = np.arange(len(archive))[None, :]
        pair = valid & ~(is_done[None, :] & (done_own[:, None] >= 0) & (cols < done_own[:, None]))
        scores = -dist[pair]
        same = rel[pair]
        diff = other[pair]
        sd = {"AP": average_precision(scores, same) if same.any() else float("nan"),
              "AP_diff_speaker": average_precision(scores[diff], same[diff]) if (same & diff).any() else float("nan"),
              "n_pairs": int(pair.sum()), "n_same": int(same.sum()), "n_pairs_diff_speaker": int(diff.sum()),
              "n_same_diff_speaker": int((same & diff).sum())}
    return qbe, sd, done, cross


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
    done = None
    qspks = [data.speakers[i] for i in queries]
    if opt.dtw:
        seg["DTW"], sd["DTW"], done, cross["DTW"] = _dtw_std(data, queries, archive, exclude, opt, progress)
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
    windows = any(m.window_vectors is not None for m in models)
    return StdResult(data=described, segment_qbe=seg, cross_speaker=cross, utterance_qbe=utt,
                     utterance_scoring="sliding windows" if windows else "best word segment", same_different=sd,
                     same_different_segments=int(len(subset)) if len(subset) < len(data) else None)
