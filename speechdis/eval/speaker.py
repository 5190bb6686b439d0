"""Speaker verification from embeddings: trials, cosine scoring, EER, minDCF and DET curves.

Convention: higher score = more likely the same speaker; ``labels`` are 1/True for target
(same-speaker) trials and 0/False for non-target trials. A trial is accepted when score >= threshold.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

from speechdis.fileio import atomic_open

__all__ = ["error_rates", "eer", "min_dcf", "make_trials", "cosine_scores", "det_curve_png"]


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.size}) and labels ({y.size}) differ in length")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    if y.all() or not y.any():
        raise ValueError("need both target and non-target trials")
    return s, y


def error_rates(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every distinct threshold, from "accept nothing" to "accept all".

    Returns ``(p_miss, p_fa, thresholds)``; entry i accepts scores >= thresholds[i] (thresholds[0] = +inf).
    """
    from sklearn.metrics import roc_curve

    s, y = _check(scores, labels)
    # sklearn's ROC: one point per distinct score, from "accept nothing" (threshold +inf) to "accept all".
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    return 1.0 - tpr, fpr, thr.astype(np.float64)


def eer(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold, linearly interpolated where the miss and FA curves cross.

    Between the two operating points that bracket the crossing, both rates and the threshold are
    interpolated with the same weight (the threshold stays finite: the +inf point is replaced by the
    top score).
    """
    p_miss, p_fa, thr = error_rates(scores, labels)
    diff = p_miss - p_fa  # 1 at "accept nothing", -1 at "accept all", non-increasing in between
    i = int(np.flatnonzero(diff <= 0)[0])
    if diff[i] == 0:
        return float(p_fa[i]), float(thr[i])  # i >= 1, so thr[i] is a real score
    w = diff[i - 1] / (diff[i - 1] - diff[i])
    rate = p_fa[i - 1] + w * (p_fa[i] - p_fa[i - 1])
    t_prev = thr[i - 1] if np.isfinite(thr[i - 1]) else thr[i]
    return float(rate), float(t_prev + w * (thr[i] - t_prev))


def min_dcf(
    scores: np.ndarray, labels: np.ndarray, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0
) -> tuple[float, float]:
    """Normalised minimum detection cost (NIST SRE; as SpeechBrain/Kaldi compute it) and its threshold.

    ``DCF(t) = c_miss * P_miss(t) * p_target + c_fa * P_fa(t) * (1 - p_target)``, minimised over
    thresholds and divided by ``min(c_miss * p_target, c_fa * (1 - p_target))`` (the cost of always
    accepting or always rejecting, whichever is cheaper). The threshold is +inf when rejecting
    everything is optimal.
    """
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    p_miss, p_fa, thr = error_rates(scores, labels)
    dcf = c_miss * p_miss * p_target + c_fa * p_fa * (1.0 - p_target)
    i = int(np.argmin(dcf))
    c_def = min(c_miss * p_target, c_fa * (1.0 - p_target))
    return float(dcf[i] / c_def), float(thr[i])


def make_trials(
    speakers: Sequence[Hashable],
    n_target: int,
    n_nontarget: int,
    seed: int = 0,
    *,
    groups: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced verification trials over segments: ``(pairs (n, 2) int, labels (n,) bool)``.

    Target trials pick a speaker uniformly (among those with two usable segments), then two of its
    segments; non-target trials pick two different speakers uniformly, then one segment each. So no
    speaker dominates because it has many segments. With ``groups`` (e.g. utterance ids) a target pair
    never comes from one group, which would make it trivially easy. Pairs are distinct (unordered);
    when fewer distinct pairs exist than asked for, fewer are returned.
    """
    if n_target < 0 or n_nontarget < 0:
        raise ValueError("trial counts must be >= 0")
    n = len(speakers)
    if groups is not None and len(groups) != n:
        raise ValueError("groups and speakers differ in length")
    rng = np.random.default_rng(seed)
    by_spk: dict[Hashable, list[int]] = {}
    for i, s in enumerate(speakers):
        by_spk.setdefault(s, []).append(i)
    spk_members = [np.array(v) for v in by_spk.values()]

    def usable(m: np.ndarray) -> bool:
        if groups is None:
            return m.size >= 2
        return len({groups[i] for i in m}) >= 2

    tgt_spk = [m for m in spk_members if usable(m)]
    seen: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int]] = []
    labels: list[bool] = []

    def draw(count: int, sample, label: bool) -> None:
        # Rejection sampling of distinct pairs; give up after many failures (the pool is exhausted).
        got, misses = 0, 0
        while got < count and misses < 1000 + 10 * count:
            p = sample()
            if p is None or p in seen:
                misses += 1
                continue
            seen.add(p)
            pairs.append(p)
            labels.append(label)
            got += 1

    def target() -> tuple[int, int] | None:
        m = tgt_spk[rng.integers(len(tgt_spk))]
        i, j = rng.choice(m, size=2, replace=False)
        if groups is not None and groups[i] == groups[j]:
            return None
        return (int(min(i, j)), int(max(i, j)))

    def nontarget() -> tuple[int, int]:
        a, b = rng.choice(len(spk_members), size=2, replace=False)
        i = int(rng.choice(spk_members[a]))
        j = int(rng.choice(spk_members[b]))
        return (min(i, j), max(i, j))

    if n_target and tgt_spk:
        draw(n_target, target, True)
    if n_nontarget and len(spk_members) >= 2:
        draw(n_nontarget, nontarget, False)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(labels, dtype=bool)


def cosine_scores(vecs: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Cosine similarity of each trial pair ``(i, j)`` of rows of ``vecs``."""
    x = np.asarray(vecs, dtype=np.float64)
    t = np.asarray(trials, dtype=np.int64).reshape(-1, 2)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.einsum("ij,ij->i", x[t[:, 0]], x[t[:, 1]])


def det_curve_png(
    scores: np.ndarray, labels: np.ndarray, path: str | os.PathLike, title: str | None = None
) -> Path:
    """Write a DET curve (miss vs false-alarm rate on normal-deviate axes) to a PNG; returns the path."""
    # A bare Figure renders with Agg and touches no pyplot/global backend state.
    from matplotlib.figure import Figure
    from scipy.stats import norm

    p_miss, p_fa, _ = error_rates(scores, labels)
    e, _ = eer(scores, labels)
    # Rates of exactly 0 or 1 are at infinity on a probit axis: clip to the plotted range.
    lo, hi = 1e-3, (0.5 if e < 0.4 else 0.99)
    ticks = [t for t in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)
             if lo <= t <= hi]
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot(norm.ppf(np.clip(p_fa, lo, hi)), norm.ppf(np.clip(p_miss, lo, hi)), lw=1.5, label=f"EER {100 * e:.2f}%")
    ax.plot(norm.ppf([lo, hi]), norm.ppf([lo, hi]), "k:", lw=0.8)
    ax.set_xticks(norm.ppf(ticks))
    ax.set_yticks(norm.ppf(ticks))
    labels_pct = [f"{100 * t:g}" for t in ticks]
    ax.set_xticklabels(labels_pct)
    ax.set_yticklabels(labels_pct)
    ax.set_xlim(norm.ppf(lo), norm.ppf(hi))
    ax.set_ylim(norm.ppf(lo), norm.ppf(hi))
    ax.set_xlabel("False alarm rate (%)")
    ax.set_ylabel("Miss rate (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return path
