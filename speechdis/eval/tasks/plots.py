"""Plots (:func:`run_plots`): t-SNE maps and training-loss curves.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from speechdis.errors import SpeechdisError
from speechdis.eval.config import EVAL_DEFAULTS as D
from speechdis.eval.data import EvalData, Progress, say
from speechdis.eval.embedding import ModelVectors

log = logging.getLogger(__name__)

__all__ = ["run_plots"]


# ----------------------------------------------------------------------------------------------- plots
def _top_classes(labels: Sequence[str], limit: int) -> np.ndarray:
    """Indices of items whose label is among the ``limit`` most frequent ones."""
    keep = {c for c, _ in Counter(labels).most_common(limit)}
    return np.array([i for i, lab in enumerate(labels) if lab in keep], dtype=np.int64)


def run_plots(data: EvalData | None, models: Sequence[ModelVectors], out_dir: str | os.PathLike, *,
              max_points: int = D.tsne_points, max_classes: int = D.tsne_classes, seed: int = D.seed,
              progress: Progress | None = None) -> dict:
    """t-SNE of each model's vectors coloured by speaker and by word (the ``max_classes`` most frequent
    of each, at most ``max_points`` points), and the training-loss curves of each model."""
    from speechdis.eval.plots import loss_curves_png, tsne_png

    out = Path(out_dir)
    files: dict[str, list[str]] = {}
    for m in models:
        names = []
        log_path = m.exp_dir / "train_log.jsonl" if m.exp_dir is not None else None
        if log_path is not None and log_path.is_file():
            try:
                names.append(loss_curves_png(log_path, out / f"loss_{m.name}.png", title=f"{m.name} training").name)
            except SpeechdisError as e:
                log.warning("%s: no loss curves: %s", m.name, e)
        if data is not None:
            for key in dict.fromkeys(m.vectors):
                for label_name, labels in (("speaker", data.speakers), ("word", data.words)):
                    idx = _top_classes(labels, max_classes)
                    if len(idx) < 3:
                        continue
                    say(progress, f"t-SNE {m.name} {key} by {label_name}")
                    path = tsne_png(m.vectors[key][idx], [labels[i] for i in idx],
                                    out / f"tsne_{m.name}_{key}_by_{label_name}.png",
                                    title=f"{m.name}: {key} vectors by {label_name}", max_points=max_points,
                                    seed=seed, threads=1)
                    names.append(path.name)
        files[m.name] = names
    return files
