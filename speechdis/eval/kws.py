"""Spoken term detection as detection: merged window hits, term-weighted value (ATWV/MTWV), DET, kwslist files.

A *detection* is (term, file, start, end, score): the claim that ``term`` is spoken in ``file`` at
``start``-``end`` seconds. Windowed search scores many overlapping windows around one spoken occurrence;
:func:`merge_hits` keeps the best window and drops the windows that overlap it (non-maximum suppression),
so one occurrence gives one detection with that window's time span.

Scoring follows NIST STD 2006 / OpenKWS (what F4DE's KWSEval and Kaldi's ``local/kws`` scripts compute):

* a detection is **correct** when a not yet matched reference occurrence of its term in the same file has
  its midpoint within ``delta`` seconds (0.5 s, NIST's ΔT) of the detection's midpoint; detections are
  matched greedily from the highest score down, each reference occurrence at most once;
* for each term t with N_true(t) > 0 occurrences (terms without any are left out of the average) and a
  decision threshold θ: P_miss(t, θ) = 1 − N_corr(t, θ) / N_true(t),
  P_FA(t, θ) = N_FA(t, θ) / (T − N_true(t)) where T is the searched speech in seconds (one trial per
  second, as NIST counts them);
* TWV(θ) = 1 − mean over terms of [P_miss(t, θ) + β·P_FA(t, θ)], β = 999.9 (the NIST value:
  C/V·(1/P_term − 1) with C/V = 0.1, P_term = 1e-4). **ATWV** is the TWV of the system's YES decisions
  (score >= its threshold); **MTWV** the best TWV over all thresholds. An empty output has TWV 0;
  each false alarm costs β/(T − N_true) of one term's value, so false alarms weigh heavily.

Files (:func:`write_kwlist`, :func:`write_kwslist`, :func:`write_detections`): the NIST/Kaldi keyword
list ``kwlist.xml`` (``<kwlist><kw kwid=..><kwtext>..</kwtext></kw></kwlist>``), the system output
``kwslist.xml`` (``<kwslist><detected_kwlist kwid=..><kw file=.. channel="1" tbeg=.. dur=.. score=..
decision="YES|NO"/>``) that F4DE's KWSEval scores, and the same detections as a TSV (term, file,
start, duration, score, decision).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from xml.sax.saxutils import quoteattr

import numpy as np

from speechdis.fileio import atomic_open

__all__ = ["BETA", "DELTA", "Detection", "Occurrence", "merge_hits", "mark_correct", "twv_curve", "score_kws",
           "write_kwlist", "write_kwslist", "write_detections", "read_detections"]

BETA = 999.9  # NIST STD 2006 / OpenKWS
DELTA = 0.5  # seconds between the midpoints of a detection and its reference occurrence (NIST ΔT)


@dataclass(frozen=True)
class Detection:
    """``term`` detected in ``file`` at ``start``-``end`` seconds with ``score`` (higher = more sure)."""

    term: str
    file: str
    start: float
    end: float
    score: float

    @property
    def mid(self) -> float:
        """Midpoint in seconds (what matching compares)."""
        return 0.5 * (self.start + self.end)


@dataclass(frozen=True)
class Occurrence:
    """A reference occurrence: ``term`` spoken in ``file`` at ``start``-``end`` seconds."""

    term: str
    file: str
    start: float
    end: float


def merge_hits(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Non-maximum suppression of the window hits of one query in one file.

    Returns the indices of the kept hits, best first: the best-scoring window is kept and every window
    overlapping it in time is dropped, then the best of the rest, and so on (ties: the earlier index)."""
    s = np.asarray(starts, dtype=np.float64)
    e = np.asarray(ends, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    if not (len(s) == len(e) == len(sc)):
        raise ValueError("starts, ends and scores differ in length")
    order = np.lexsort((np.arange(len(sc)), -sc))
    alive = np.ones(len(sc), dtype=bool)
    keep: list[int] = []
    for i in order:
        if not alive[i]:
            continue
        keep.append(int(i))
        # Windows that share any time with the kept one belong to the same occurrence.
        alive &= ~((s < e[i]) & (e > s[i]))
    return np.asarray(keep, dtype=np.int64)


def mark_correct(detections: Sequence[Detection], reference: Iterable[Occurrence], delta: float = DELTA
                 ) -> np.ndarray:
    """Whether each detection is correct: greedy one-to-one matching from the best score down, same term and
    file, midpoints within ``delta`` seconds (the closest free occurrence is taken)."""
    refs: dict[tuple[str, str], list[Occurrence]] = {}
    for r in reference:
        refs.setdefault((r.term, r.file), []).append(r)
    used = {key: np.zeros(len(v), dtype=bool) for key, v in refs.items()}
    mids = {key: np.array([0.5 * (r.start + r.end) for r in v]) for key, v in refs.items()}
    correct = np.zeros(len(detections), dtype=bool)
    order = sorted(range(len(detections)), key=lambda i: (-detections[i].score, i))
    for i in order:
        d = detections[i]
        key = (d.term, d.file)
        if key not in refs:
            continue
        gap = np.abs(mids[key] - d.mid)
        gap[used[key]] = np.inf
        j = int(np.argmin(gap))
        if gap[j] <= delta:
            used[key][j] = True
            correct[i] = True
    return correct


def _term_counts(reference: Iterable[Occurrence]) -> dict[str, int]:
    n: dict[str, int] = {}
    for r in reference:
        n[r.term] = n.get(r.term, 0) + 1
    return n


def twv_curve(detections: Sequence[Detection], correct: np.ndarray, n_true: Mapping[str, int],
              total_seconds: float, beta: float = BETA) -> dict[str, np.ndarray]:
    """TWV, P_miss and P_FA (term averages) at every threshold: the scores of the detections, best first.

    Index 0 is the threshold above every score (no detection: TWV 0, P_miss 1, P_FA 0); index m keeps the
    detections scoring >= ``thresholds[m]``. Detections of terms without reference occurrences are left out
    (so are those terms), as NIST does."""
    terms = [t for t, n in n_true.items() if n > 0]
    if not terms:
        raise ValueError("no term has a reference occurrence")
    if total_seconds <= max(n_true[t] for t in terms):
        raise ValueError(f"total speech {total_seconds:g}s must exceed the occurrences of every term")
    nt = len(terms)
    idx = [i for i, d in enumerate(detections) if n_true.get(d.term, 0) > 0]
    scores = np.array([detections[i].score for i in idx], dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)[idx] if idx else np.zeros(0, dtype=bool)
    ntrue = np.array([n_true[detections[i].term] for i in idx], dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    scores, ok, ntrue = scores[order], ok[order], ntrue[order]
    # Each detection moves the term average by one term's share: a hit lowers P_miss by 1/N_true,
    # a false alarm raises P_FA by 1/(T - N_true).
    d_miss = np.where(ok, 1.0 / ntrue, 0.0) / nt
    d_fa = np.where(ok, 0.0, 1.0 / (total_seconds - ntrue)) / nt
    p_miss = 1.0 - np.concatenate([[0.0], np.cumsum(d_miss)])
    p_fa = np.concatenate([[0.0], np.cumsum(d_fa)])
    thresholds = np.concatenate([[np.inf], scores])
    # Equal scores are one threshold: keep only the last detection of each run of ties.
    last = np.ones(len(thresholds), dtype=bool)
    last[1:-1] = scores[1:] != scores[:-1]
    return {"threshold": thresholds[last], "p_miss": p_miss[last], "p_fa": p_fa[last],
            "twv": 1.0 - p_miss[last] - beta * p_fa[last]}


def score_kws(detections: Sequence[Detection], reference: Sequence[Occurrence], total_seconds: float,
              threshold: float, beta: float = BETA, delta: float = DELTA) -> dict:
    """ATWV at ``threshold`` (YES = score >= threshold), MTWV and its threshold, P_miss / P_FA at both,
    the counts, and the DET points (``det``: P_FA, P_miss over thresholds)."""
    n_true = _term_counts(reference)
    correct = mark_correct(detections, reference, delta)
    curve = twv_curve(detections, correct, n_true, total_seconds, beta)
    at = int(np.flatnonzero(curve["threshold"] >= threshold)[-1])  # index 0 (inf) always qualifies
    best = int(np.argmax(curve["twv"]))
    scored = [i for i, d in enumerate(detections) if n_true.get(d.term, 0) > 0]
    yes = [i for i in scored if detections[i].score >= threshold]
    return {"ATWV": float(curve["twv"][at]), "P_miss": float(curve["p_miss"][at]), "P_FA": float(curve["p_fa"][at]),
            "threshold": float(threshold), "MTWV": float(curve["twv"][best]),
            "MTWV_threshold": float(curve["threshold"][best]), "MTWV_P_miss": float(curve["p_miss"][best]),
            "MTWV_P_FA": float(curve["p_fa"][best]), "terms": sum(1 for n in n_true.values() if n > 0),
            "occurrences": int(sum(n_true.values())), "detections": len(scored),
            "yes": len(yes), "correct_yes": int(correct[yes].sum()) if yes else 0,
            "speech_seconds": float(total_seconds), "beta": beta, "delta": delta,
            "det": {"p_fa": curve["p_fa"][1:].tolist(), "p_miss": curve["p_miss"][1:].tolist()}}


# --------------------------------------------------------------------------------------------- files
def write_kwlist(terms: Mapping[str, str], path: str | os.PathLike, language: str = "") -> Path:
    """``kwlist.xml``: ``terms`` maps each kwid to its text (the query's word, or its name)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<kwlist ecf_filename="" language={quoteattr(language)} encoding="UTF-8" compareNormalize="" '
             f'version="speechdis">']
    for kwid, text in terms.items():
        lines.append(f'  <kw kwid={quoteattr(kwid)}><kwtext>{_text(text)}</kwtext></kw>')
    lines.append("</kwlist>")
    return _write(path, "\n".join(lines) + "\n")


def write_kwslist(detections: Sequence[Detection], threshold: float, path: str | os.PathLike,
                  terms: Sequence[str] | None = None, system: str = "speechdis") -> Path:
    """``kwslist.xml`` (the NIST KWS system output): every detection, decision YES when score >= threshold.

    ``terms`` lists every kwid searched (those without detections get an empty ``detected_kwlist``)."""
    by_term: dict[str, list[Detection]] = {t: [] for t in (terms or [])}
    for d in detections:
        by_term.setdefault(d.term, []).append(d)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<kwslist kwlist_filename="kwlist.xml" language="" system_id={quoteattr(system)}>']
    for term, dets in by_term.items():
        lines.append(f'  <detected_kwlist kwid={quoteattr(term)} search_time="0" oov_count="0">')
        for d in sorted(dets, key=lambda x: -x.score):
            lines.append(f'    <kw file={quoteattr(d.file)} channel="1" tbeg="{d.start:.3f}" '
                         f'dur="{d.end - d.start:.3f}" score="{d.score:.6f}" '
                         f'decision="{"YES" if d.score >= threshold else "NO"}"/>')
        lines.append("  </detected_kwlist>")
    lines.append("</kwslist>")
    return _write(path, "\n".join(lines) + "\n")


DETECTION_COLUMNS = ("term", "file", "start", "duration", "score", "decision")


def write_detections(detections: Sequence[Detection], threshold: float, path: str | os.PathLike) -> Path:
    """The detections as a TSV with a header: term, file, start, duration (s), score, decision (YES/NO)."""
    rows = ["\t".join(DETECTION_COLUMNS)]
    for d in detections:
        rows.append(f"{d.term}\t{d.file}\t{d.start:.3f}\t{d.end - d.start:.3f}\t{d.score:.6f}\t"
                    f"{'YES' if d.score >= threshold else 'NO'}")
    return _write(path, "\n".join(rows) + "\n")


def read_detections(path: str | os.PathLike) -> list[Detection]:
    """Detections from a TSV of :func:`write_detections` (the decision column is not needed to rescore)."""
    from speechdis.errors import DataDirError

    p = Path(path)
    lines = p.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != DETECTION_COLUMNS:
        raise DataDirError(f"{p}:1: expected the header {' '.join(DETECTION_COLUMNS)}")
    out = []
    for n, line in enumerate(lines[1:], start=2):
        f = line.split("\t")
        try:
            start, dur, score = float(f[2]), float(f[3]), float(f[4])
        except (IndexError, ValueError):
            raise DataDirError(f"{p}:{n}: expected term, file, start, duration, score, decision") from None
        out.append(Detection(f[0], f[1], start, start + dur, score))
    return out


def _text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _write(path: str | os.PathLike, text: str) -> Path:
    p = Path(path)
    with atomic_open(p, "w") as f:
        f.write(text)
    return p
