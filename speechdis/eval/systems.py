"""Systems that evaluation compares besides trained speechdis models: the MFCC mean+std baseline
(``mfcc-stats``), vectors read from an ``.npz`` keyed by segment id, and any Python embedder.

Pure functions; :mod:`speechdis.eval.runner` turns their output into ``ModelVectors``.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from speechdis.errors import ConfigError, DataDirError
from speechdis.inference.archive import load_archive

__all__ = ["MFCC_STATS", "RESEMBLYZER", "OUTSIDE_SYSTEMS", "SPEAKER_ONLY", "RESERVED_NAMES", "segment_stats",
           "standardise", "mfcc_stats_vectors",
           "load_npz_vectors", "call_embedder"]

MFCC_STATS = "mfcc-stats"
RESEMBLYZER = "resemblyzer"
# Systems from other packages, evaluated where installed (`evaluate speaker/all --system NAME`).
OUTSIDE_SYSTEMS = (RESEMBLYZER,)
# Speaker encoders: in the speaker and probe tables, not searched for words.
SPEAKER_ONLY = (RESEMBLYZER,)
# Names of the built-in systems: a --model may not take them.
RESERVED_NAMES = ("dtw", MFCC_STATS, RESEMBLYZER)


def segment_stats(feats: Sequence[np.ndarray]) -> np.ndarray:
    """``(N, 2·D)``: per segment, the mean then the (population) standard deviation of its frames."""
    if not len(feats):
        return np.zeros((0, 0))
    return np.stack([np.concatenate([np.asarray(f, np.float64).mean(axis=0), np.asarray(f, np.float64).std(axis=0)])
                     for f in feats])


def standardise(x: np.ndarray) -> np.ndarray:
    """Each column z-scored over the rows (no labels used); constant columns become 0."""
    x = np.asarray(x, dtype=np.float64)
    if not len(x):
        return x
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)


def mfcc_stats_vectors(feats: Sequence[np.ndarray]) -> np.ndarray:
    """The ``mfcc-stats`` baseline: mean and std over each segment's frames, standardised over the set.

    Give it features without CMVN (the baseline is defined on raw features).
    """
    return standardise(segment_stats(feats)).astype(np.float32)


def _missing_message(source: str, missing: list[str], total: int) -> str:
    shown = ", ".join(missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return f"{source}: no vectors for {len(missing)} of the {total} evaluation segments: {shown}{more}"


def load_npz_vectors(path: str | os.PathLike, seg_ids: Sequence[str]) -> tuple[dict[str, np.ndarray], str]:
    """Vectors of ``seg_ids`` (in that order) from an archive keyed by segment id (:func:`load_archive`: an
    ``.npz`` of ``ids`` and ``(N, dim)`` arrays, checked).

    Returns ``({name: (len(seg_ids), dim) array}, kind)`` (``kind`` from the file when it says, else
    ``"npz"``). Raises :class:`DataDirError` naming the segment ids the file lacks, or what is wrong with the
    file.
    """
    es = load_archive(path)  # shapes, finite values, unique ids: refused, never dropped
    row = {i: n for n, i in enumerate(es.ids)}
    missing = [s for s in seg_ids if s not in row]
    if missing:
        raise DataDirError(_missing_message(str(path), missing, len(seg_ids)))
    take = np.array([row[s] for s in seg_ids], dtype=np.int64)
    return {k: v[take] for k, v in es.vectors.items()}, es.kind or "npz"


def call_embedder(embedder: Callable[[list[np.ndarray]], dict[str, np.ndarray]] | Any,
                  feats: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Run a callable ``f(list_of_feature_matrices) -> {name: (N, dim)}`` (or an object with
    ``embed_features``) and check what it returns."""
    fn = getattr(embedder, "embed_features", None) or embedder
    if not callable(fn):
        raise ConfigError(f"{type(embedder).__name__}: not callable and has no embed_features")
    out = fn(list(feats))
    if not isinstance(out, dict) or not out:
        raise ConfigError(f"embedder returned {type(out).__name__}, expected a non-empty dict of (N, dim) arrays")
    vecs = {}
    for k, v in out.items():
        a = np.asarray(v, dtype=np.float32)
        if a.ndim != 2 or a.shape[0] != len(feats):
            raise ConfigError(f"embedder vector {k!r}: shape {a.shape}, expected ({len(feats)}, dim)")
        vecs[str(k)] = a
    return vecs
