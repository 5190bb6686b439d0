"""One vector per file or per speaker from extracted segment vectors (``speechdis extract --per``).

``per="segment"``: the rows as extracted. ``per="file"``: one row per utterance, its segments' vectors pooled
(``mean`` or element-wise ``max``); with the default segmentation a file is one segment, itself the pooled
windows of a file longer than the model's crop. ``per="speaker"``: the per-file vectors averaged per speaker,
every utterance counting once whatever its length (Kaldi's spk2utt-style mean, as ``ivector-mean`` does);
rows keyed by speaker id, so the ark/scp output is a speaker-level scp.
"""
from __future__ import annotations

import numpy as np

from speechdis.errors import ConfigError
from speechdis.inference.archive import EmbeddingSet

__all__ = ["PER_MODES", "group_vectors"]

PER_MODES = ("segment", "file", "speaker")


def _pool_groups(keys: list[str], vectors: dict[str, np.ndarray], pool: str
                 ) -> tuple[list[str], list[np.ndarray], dict[str, np.ndarray]]:
    """Distinct ``keys`` in first-seen order, the row indices of each, and the pooled vectors."""
    order: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        order.setdefault(k, []).append(i)
    names = list(order)
    rows = [np.asarray(order[k]) for k in names]
    out = {}
    for name, mat in vectors.items():
        mat = np.asarray(mat, dtype=np.float64)
        pooled = [mat[r].max(axis=0) if pool == "max" else mat[r].mean(axis=0) for r in rows]
        out[name] = np.stack(pooled).astype(np.float32) if pooled else np.zeros((0, mat.shape[1]), np.float32)
    return names, rows, out


def group_vectors(res: EmbeddingSet, per: str = "segment", pool: str = "mean") -> EmbeddingSet:
    """``res`` with one row per segment, per file (utterance) or per speaker (module doc).

    ``pool`` (``mean``/``max``) pools a file's segments; speakers are always the mean of their files. Raises
    :class:`ConfigError` for ``per="speaker"`` when some utterance has no speaker (audio files given
    directly: use a data dir with ``utt2spk``).
    """
    if per not in PER_MODES:
        raise ConfigError(f"per must be one of {', '.join(PER_MODES)}, got {per!r}")
    if pool not in ("mean", "max"):
        raise ConfigError(f"pool must be mean or max for grouping, got {pool!r}")
    if per == "segment" or len(res) == 0:
        return res
    utts, rows, vecs = _pool_groups(list(res.utts), res.vectors, pool)
    spk = [res.speakers[r[0]] for r in rows]
    starts = np.array([res.starts[r].min() for r in rows], dtype=np.float64)
    ends = np.array([res.ends[r].max() for r in rows], dtype=np.float64)
    if per == "file":
        return EmbeddingSet(ids=utts, utts=utts, words=[""] * len(utts), speakers=spk, starts=starts, ends=ends,
                            vectors=vecs, kind=res.kind, model=res.model, model_sha256=res.model_sha256,
                            skipped=res.skipped, n_utterances=len(utts), seconds=res.seconds)
    missing = [u for u, s in zip(utts, spk) if not s]
    if missing:
        raise ConfigError(f"per speaker: {len(missing)} utterance(s) have no speaker, e.g. '{missing[0]}' "
                          f"(audio files given directly carry none: give a data dir with utt2spk)")
    speakers, _, svecs = _pool_groups(spk, vecs, "mean")
    nan = np.full(len(speakers), np.nan)
    return EmbeddingSet(ids=speakers, utts=[""] * len(speakers), words=[""] * len(speakers), speakers=speakers,
                        starts=nan, ends=nan.copy(), vectors=svecs, kind=res.kind, model=res.model,
                        model_sha256=res.model_sha256, skipped=res.skipped, n_utterances=len(utts),
                        seconds=res.seconds)
