"""Windowed spoken term detection scored as detection (``speechdis evaluate std --atwv``).

Terms are the query words of :func:`speechdis.eval.runner.run_std` (words with >= N occurrences); their
examples are the query segments. A term's score for a sliding window of an utterance is the best cosine of
its examples cut from *other* utterances (an example never searches the utterance it was cut from); the
windows of one utterance are merged by :func:`~speechdis.eval.kws.merge_hits`, each merged hit a detection.
The frame-DTW baseline detects a term in an utterance by subsequence DTW of each example over it: one
detection per utterance (the best example's path), score 1 − distance (the mean cosine of the path's frames,
comparable with the embeddings' cosines).

The reference is the data dir's ``word_segments`` (or a CTM / word_segments file), restricted to the
searched utterances; T (speech seconds) is their total duration from ``utt2num_frames``.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from speechdis.eval.config import EVAL_DEFAULTS as D
from speechdis.eval.kws import BETA, DELTA, Detection, Occurrence, merge_hits, score_kws

log = logging.getLogger(__name__)

__all__ = ["KwsOptions", "read_reference", "window_detections", "dtw_detections", "run_kws", "write_kws_files",
           "KWS_COLUMNS", "kws_table"]


@dataclass
class KwsOptions:
    """Settings of :func:`run_kws`."""

    threshold: float = D.threshold  # YES decision at score >= threshold (the ATWV operating point)
    beta: float = BETA
    delta: float = DELTA
    reference: Path | None = None  # a CTM (.ctm) or word_segments file; None: the data dir's word_segments
    dtw: bool = True
    dtw_budget: float | None = D.dtw_budget or None  # seconds of DTW detection; terms finished within it are scored
    seed: int = D.seed


def read_reference(path: str | os.PathLike) -> list[Occurrence]:
    """Word occurrences from a CTM (``.ctm``: silences and unknown words dropped) or a ``word_segments`` file."""
    from speechdis.inference.extract import load_segment_table

    p = Path(path)
    table = load_segment_table(ctm=p) if p.suffix.lower() == ".ctm" else load_segment_table(word_segments=p)
    return [Occurrence(s.word, s.utt, s.start, s.end) for rows in table.values() for s in rows]


def window_detections(query_vecs: np.ndarray, query_terms: Sequence[str], query_utts: Sequence[str],
                      window_vecs: np.ndarray, window_utts: Sequence[str], window_spans: Sequence[tuple[float, float]]
                      ) -> list[Detection]:
    """Detections of each term over the windows (see the module doc): best example per window, own utterance
    of each example excluded, overlapping windows of one utterance merged."""
    from speechdis.eval.retrieval import cosine_normalise

    q = cosine_normalise(query_vecs)
    w = cosine_normalise(window_vecs)
    wu = np.asarray(window_utts, dtype=object)
    spans = np.asarray(window_spans, dtype=np.float64).reshape(-1, 2)
    utts = list(dict.fromkeys(window_utts))
    members = {u: np.flatnonzero(wu == u) for u in utts}
    terms: dict[str, list[int]] = {}
    for i, t in enumerate(query_terms):
        terms.setdefault(t, []).append(i)
    out: list[Detection] = []
    for term, ex in terms.items():
        sims = q[ex] @ w.T
        for row, e in enumerate(ex):
            sims[row, members.get(query_utts[e], [])] = -np.inf
        best = sims.max(axis=0)
        for u in utts:
            idx = members[u]
            s = best[idx]
            if not np.isfinite(s).any():
                continue  # every example of this term comes from this utterance
            for k in merge_hits(spans[idx, 0], spans[idx, 1], s):
                out.append(Detection(term, u, float(spans[idx[k], 0]), float(spans[idx[k], 1]), float(s[k])))
    return out


def dtw_detections(query_feats: Sequence[np.ndarray], query_terms: Sequence[str], query_utts: Sequence[str],
                   utt_feats: Callable[[str], np.ndarray], utts: Sequence[str], frame_shift: float,
                   budget: float | None = None, seed: int = 0) -> tuple[list[Detection], set[str]]:
    """Subsequence-DTW detections: per term and utterance, the best example's path (score 1 − distance).

    Terms go in a seeded random order; with ``budget`` seconds the terms finished in time are returned
    (their names as the second value) so that only they are scored."""
    from speechdis.eval.dtw import subsequence_dtw

    terms: dict[str, list[int]] = {}
    for i, t in enumerate(query_terms):
        terms.setdefault(t, []).append(i)
    names = list(terms)
    order = np.random.default_rng(seed).permutation(len(names))
    cache: dict[str, np.ndarray] = {}
    out: list[Detection] = []
    done: set[str] = set()
    t0 = time.perf_counter()
    for ti in order:
        if budget is not None and time.perf_counter() - t0 >= budget:
            break
        term = names[ti]
        for u in utts:
            if u not in cache:
                cache[u] = utt_feats(u)
            best = None
            for e in terms[term]:
                if query_utts[e] == u or len(query_feats[e]) > len(cache[u]):
                    continue
                d, a, b = subsequence_dtw(query_feats[e], cache[u])
                if best is None or d < best[0]:
                    best = (d, a, b)
            if best is not None:
                out.append(Detection(term, u, best[1] * frame_shift, best[2] * frame_shift, 1.0 - best[0]))
        done.add(term)
    return out, done


def run_kws(data, models, queries: np.ndarray, opt: KwsOptions | None = None,
            progress: Callable[[str], None] | None = None) -> tuple[dict, dict[str, list[Detection]]]:
    """ATWV / MTWV / P_miss / P_FA per system (DTW first) on the searched utterances of ``data``.

    ``data`` is an :class:`~speechdis.eval.runner.EvalData`, ``models`` its
    :class:`~speechdis.eval.runner.ModelVectors` embedded with sliding windows (``window_spans``); systems
    without windows (the mfcc-stats baseline, .npz vectors) are listed under ``skipped``. Returns the results
and each system's detections."""
    from speechdis.data.feats import FeatsReader
    from speechdis.data.tables import read_utt2num_frames

    opt = opt or KwsOptions()
    say = progress or (lambda _m: None)
    d = Path(data.data_dir)
    ref_path = opt.reference or d / "word_segments"
    searched = set(data.utt_words)
    terms = sorted({data.words[i] for i in queries})
    reference = [r for r in read_reference(ref_path) if r.file in searched and r.term in set(terms)]
    # An utterance no example may search (all of a term's examples were cut from it) is no trial for that term.
    only = {}
    for i in queries:
        only.setdefault(data.words[i], set()).add(data.utts[i])
    reference = [r for r in reference if only[r.term] != {r.file}]
    shift = data.feature_config.frame_shift_ms / 1000
    frames = read_utt2num_frames(d / "utt2num_frames")
    total = float(sum(frames[u] for u in searched if u in frames) * shift)
    qterms = [data.words[i] for i in queries]
    qutts = [data.utts[i] for i in queries]
    res: dict = {"reference": str(ref_path), "speech_seconds": total, "terms": len(terms),
                 "examples": int(len(queries)), "threshold": opt.threshold, "beta": opt.beta, "delta": opt.delta,
                 "systems": {}, "skipped": {}}
    dets: dict[str, list[Detection]] = {}
    if opt.dtw:
        say(f"DTW detection: {len(terms)} terms x {len(searched)} utterances"
            + (f" (budget {opt.dtw_budget:g}s)" if opt.dtw_budget else ""))
        # Read as the queries' frames were (eval_features may read a front end without CMVN with it).
        reader = FeatsReader(d, cmvn=data.feature_config.cmvn, norm_vars=data.feature_config.norm_vars)
        t0 = time.perf_counter()
        found, done = dtw_detections([data.feats[i] for i in queries], qterms, qutts, reader.__getitem__,
                                     sorted(u for u in searched if u in reader), shift, opt.dtw_budget, opt.seed)
        ref_done = [r for r in reference if r.term in done]
        if ref_done:
            dets["DTW"] = found
            res["systems"]["DTW"] = {**score_kws(found, ref_done, total, opt.threshold, opt.beta, opt.delta),
                                     "search_seconds": time.perf_counter() - t0}
        else:
            res["skipped"]["DTW"] = "no term finished within the DTW budget"
    for m in models:
        if m.window_vectors is None or m.window_spans is None:
            res["skipped"][m.name] = "no sliding-window vectors (needs a model)"
            continue
        say(f"detection with {m.name}")
        t0 = time.perf_counter()
        key = m.roles["phonetic"]
        found = window_detections(m.phonetic[queries], qterms, qutts, m.window_vectors[key], m.window_utts,
                                  m.window_spans)
        dets[m.name] = found
        res["systems"][m.name] = {**score_kws(found, reference, total, opt.threshold, opt.beta, opt.delta),
                                  "search_seconds": time.perf_counter() - t0}
    if not res["skipped"]:
        del res["skipped"]
    return res, dets


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_kws_files(res: dict, dets: dict[str, list[Detection]], out_dir: str | os.PathLike) -> list[Path]:
    """``kwlist.xml``, per system ``kwslist_<system>.xml`` and ``detections_<system>.tsv``, and one DET figure
    of every system (``det_kws.png``); the DET points are moved out of ``res`` (they go in the figure)."""
    from speechdis.eval.kws import write_detections, write_kwlist, write_kwslist
    from speechdis.eval.plots import det_curves_png

    out = Path(out_dir)
    terms = sorted({d.term for ds in dets.values() for d in ds})
    files = [write_kwlist({t: t for t in terms}, out / "kwlist.xml")]
    curves = {}
    for name, found in dets.items():
        files.append(write_kwslist(found, res["threshold"], out / f"kwslist_{_safe(name)}.xml", terms, system=name))
        files.append(write_detections(found, res["threshold"], out / f"detections_{_safe(name)}.tsv"))
        det = res["systems"][name].pop("det")
        # P_FA per term-trial is tiny (one trial per second): the curve lives far left on the probit axis.
        curves[f"{name} (MTWV {res['systems'][name]['MTWV']:.3f})"] = (det["p_fa"], det["p_miss"])
    if curves:
        files.append(det_curves_png(curves, out / "det_kws.png", title="term detection (DET over thresholds)",
                                    xlabel="False alarm probability per term-second (%)"))
    return files


KWS_COLUMNS = ["system", "terms", "ATWV", "MTWV", "MTWV θ", "P_miss", "P_FA", "search s"]


def kws_table(res: dict) -> list[dict]:
    """One row per system: ATWV at the threshold, MTWV with its threshold, P_miss / P_FA at the threshold."""
    return [{"system": name, "terms": r["terms"], "ATWV": r["ATWV"], "MTWV": r["MTWV"],
             "MTWV θ": r["MTWV_threshold"], "P_miss": r["P_miss"], "P_FA": r["P_FA"],
             "search s": r["search_seconds"]} for name, r in res["systems"].items()]
