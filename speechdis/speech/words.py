"""Word identities as a training signal for the phonetic encoder (``loss.word_ce_weight``).

A cosine-softmax classifier of the training words on v_p (normalised vectors and class weights, scale s,
optional additive margin m, as in AM-softmax): the word-discriminative side of acoustic word embeddings
(Kamper et al. 2016's word classifier), which pulls tokens of one word together across speakers far more
directly than reconstruction. Cosine logits make the geometry the one retrieval uses (cosine distance).
Words with fewer than ``min_count`` training tokens get no class: a singleton teaches nothing that
generalises and only widens the head.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["cosine_softmax_loss", "word_class_table"]

log = logging.getLogger(__name__)


def word_class_table(word_ids: np.ndarray, n_words: int, min_count: int) -> tuple[torch.Tensor, int]:
    """``(classes, n_classes)``: ``classes[w]`` is word index w's class, or -1 for words with fewer than
    ``min_count`` training tokens (or unknown words, id -1, which never index the table)."""
    ids = np.asarray(word_ids, dtype=np.int64)
    counts = np.bincount(ids[ids >= 0], minlength=n_words)
    kept = counts >= max(min_count, 1)
    classes = np.full(n_words, -1, dtype=np.int64)
    classes[kept] = np.arange(int(kept.sum()))
    covered = int(counts[kept].sum())
    log.info("word classifier: %d of %d words have ≥ %d tokens (%d of %d tokens get a word target)",
             int(kept.sum()), n_words, min_count, covered, int(counts.sum()))
    return torch.from_numpy(classes), int(kept.sum())


def cosine_softmax_loss(v: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, scale: float,
                        margin: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, accuracy)`` of the cosine softmax over rows of ``v`` whose ``target`` is ≥ 0: logits
    ``scale · (cos(v, w_c) - margin·[c = target])``; zero loss (with a graph) when no row has a target."""
    keep = target >= 0
    if not bool(keep.any()):
        zero = v.sum() * 0.0
        return zero, zero.detach()
    cos = F.normalize(v[keep], dim=-1) @ F.normalize(weight, dim=-1).t()
    t = target[keep]
    logits = scale * (cos - margin * F.one_hot(t, cos.shape[1]).to(cos.dtype))
    acc = (cos.argmax(1) == t).float().mean()
    return F.cross_entropy(logits, t), acc.detach()
