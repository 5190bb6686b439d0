"""Pictures for reports: t-SNE maps, training-loss curves and DET curves of several systems (PNG, Agg, no pyplot
state)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

from speechdis.errors import SpeechdisError
from speechdis.fileio import atomic_open

__all__ = ["tsne_png", "read_jsonl_log", "loss_curves_png", "det_curves_png"]

# Above this many classes a legend is unreadable; colours alone still show the clustering.
_MAX_LEGEND = 20
_EXACT_TSNE_MAX = 200


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return path


def tsne_png(
    vecs: np.ndarray,
    labels: Sequence[Hashable],
    path: str | os.PathLike,
    title: str = "",
    max_points: int = 2000,
    seed: int = 0,
    threads: int | None = None,
) -> Path:
    """2-D t-SNE of ``vecs`` coloured by ``labels`` (at most ``max_points``, drawn at random); returns the path.

    ``threads`` caps the OpenMP/BLAS threads of the fit (on busy shared CPUs, spinning OpenMP threads
    can make Barnes-Hut t-SNE many times slower than one thread).
    """
    import contextlib

    import matplotlib
    from matplotlib.figure import Figure
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(vecs, dtype=np.float64)
    lab = np.asarray([str(v) for v in labels], dtype=object)
    if x.ndim != 2 or len(x) != len(lab):
        raise ValueError(f"vecs must be (n, d) with one label per row, got {x.shape} and {len(lab)} labels")
    if len(x) < 3:
        raise ValueError("t-SNE needs at least 3 points")
    rng = np.random.default_rng(seed)
    if len(x) > max_points:
        idx = np.sort(rng.choice(len(x), size=max_points, replace=False))
        x, lab = x[idx], lab[idx]
    # Perplexity must stay below the number of points; 30 is sklearn's default for large sets.
    perplexity = float(min(30.0, max(1.0, (len(x) - 1) / 3.0)))
    # Exact gradients are cheaper than Barnes-Hut's tree overhead for small sets.
    method = "exact" if len(x) <= _EXACT_TSNE_MAX else "barnes_hut"
    limit = threadpool_limits(threads) if threads else contextlib.nullcontext()
    with limit:
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, method=method).fit_transform(x)

    classes, codes = np.unique(lab.astype(str), return_inverse=True)
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    if len(classes) <= _MAX_LEGEND:
        colours = matplotlib.colormaps["tab20"]
        for c, name in enumerate(classes):
            m = codes == c
            ax.scatter(xy[m, 0], xy[m, 1], s=8, color=colours(c % 20), label=name)
        ax.legend(fontsize=7, markerscale=1.5, loc="best", frameon=False)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=6, c=codes, cmap="nipy_spectral")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"t-SNE ({len(x)} points, {len(classes)} classes)")
    fig.tight_layout()
    return _save(fig, path)


def read_jsonl_log(path: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """Training and validation records of a JSON-lines log (``split: "valid"`` marks validation).

    Blank lines are skipped, and so is an unparsable *last* line (a run killed mid-write); an
    unparsable line elsewhere raises :class:`SpeechdisError` naming file and line.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise SpeechdisError(f"cannot read training log {path}: {e}") from e
    train: list[dict] = []
    valid: list[dict] = []
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if i == last:
                break
            raise SpeechdisError(f"{path}:{i + 1}: not JSON ({e.msg})") from e
        if not isinstance(rec, dict):
            raise SpeechdisError(f"{path}:{i + 1}: expected a JSON object")
        (valid if rec.get("split") == "valid" else train).append(rec)
    return train, valid


def _series(records: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every numeric key (bools and ``step`` excluded) as (steps, values), in log order."""
    out: dict[str, tuple[list, list]] = {}
    for n, rec in enumerate(records):
        step = rec.get("step", n)
        if not isinstance(step, (int, float)) or isinstance(step, bool):
            continue
        for k, v in rec.items():
            if k == "step" or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            xs, ys = out.setdefault(k, ([], []))
            xs.append(step)
            ys.append(v if math.isfinite(v) else np.nan)
    return {k: (np.asarray(xs, float), np.asarray(ys, float)) for k, (xs, ys) in sorted(out.items())}


def _scale(key: str) -> str:
    """Which panel a logged value goes to: values on one scale share an axis."""
    k = key.lower()
    if k.endswith("_per_s"):
        return "throughput"
    if any(t in k for t in ("auc", "acc", "probe", "chance")):
        return "accuracy / AUC"
    return "loss"


def loss_curve_panels(jsonl_path: str | os.PathLike) -> list[tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """The panels of :func:`loss_curves_png`: ``[(title, {key: (steps, values)})]``, one per split and scale."""
    train, valid = read_jsonl_log(jsonl_path)
    if not train and not valid:
        raise SpeechdisError(f"training log {jsonl_path} has no records")
    panels: list[tuple[str, dict]] = []
    for records, name in ((train, "train"), (valid, "valid")):
        groups: dict[str, dict] = {}
        for k, xy in _series(records).items():
            if _scale(k) != "throughput":  # speed is in the log and bench/, not a training-dynamics panel
                groups.setdefault(_scale(k), {})[k] = xy
        if not groups:
            panels.append((f"{name}: no entries", {}))
        for scale in sorted(groups, key=["loss", "accuracy / AUC"].index):
            panels.append((f"{name}: {scale}", groups[scale]))
    return panels


def loss_curves_png(jsonl_path: str | os.PathLike, path: str | os.PathLike, title: str = "") -> Path:
    """Plot every numeric key of a JSON-lines training log against ``step``: one panel per split and scale
    (losses, accuracies/AUCs); throughput keys (``*_per_s``) are left out."""
    from matplotlib.figure import Figure

    panels = loss_curve_panels(jsonl_path)
    fig = Figure(figsize=(4.2 * len(panels), 4.2))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, series) in zip(axes, panels):
        if not series:
            ax.text(0.5, 0.5, "no entries", ha="center", va="center", transform=ax.transAxes)
        for k, (xs, ys) in series.items():
            ax.plot(xs, ys, lw=1.2, marker="o" if len(xs) < 30 else None, ms=3, label=k)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if series:
            ax.legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def det_curves_png(curves: dict[str, tuple[Sequence[float], Sequence[float]]], path: str | os.PathLike,
                   title: str = "", xlabel: str = "False alarm rate (%)") -> Path:
    """Several systems' DET curves in one figure: ``curves[name] = (p_fa, p_miss)`` on normal-deviate axes.

    The range follows the points (rates of 0 or 1 are clipped to it); the legend sits outside the axes so it
    covers no curve."""
    from matplotlib.figure import Figure
    from scipy.special import ndtri  # the probit; scipy.stats costs seconds to import

    pts = [np.asarray(v, float) for pf, pm in curves.values() for v in (pf, pm) if len(v)]
    finite = np.concatenate(pts) if pts else np.zeros(0)
    pos = finite[(finite > 0) & (finite < 1)]
    lo = max(1e-5, min(1e-3, float(pos.min()) if pos.size else 1e-3))
    hi = 0.99
    ticks = [t for t in (1e-5, 1e-4, 0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99) if lo <= t <= hi]
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    for name, (pf, pm) in curves.items():
        ax.plot(ndtri(np.clip(np.asarray(pf, float), lo, hi)), ndtri(np.clip(np.asarray(pm, float), lo, hi)),
                lw=1.5, label=name)
    ax.set_xticks(ndtri(ticks))
    ax.set_yticks(ndtri(ticks))
    ax.set_xticklabels([f"{100 * t:g}" for t in ticks])
    ax.set_yticklabels([f"{100 * t:g}" for t in ticks])
    ax.set_xlim(ndtri(lo), ndtri(hi))
    ax.set_ylim(ndtri(lo), ndtri(hi))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Miss rate (%)")
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
