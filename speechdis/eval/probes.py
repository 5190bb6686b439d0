"""Disentanglement probes: how linearly decodable speaker and word identity are from each embedding."""
from __future__ import annotations

from collections import Counter
from typing import Hashable, Sequence

import numpy as np

from speechdis.training.probe import ProbeResult, linear_probe

__all__ = ["ProbeResult", "linear_probe", "probe_table", "probe_rows"]


def _drop_rare(y: Sequence[Hashable], min_count: int) -> tuple[np.ndarray, int, int]:
    counts = Counter(y)
    keep = np.array([counts[v] >= min_count for v in y], dtype=bool)
    n_cls = sum(1 for c in counts.values() if c < min_count)
    return keep, int((~keep).sum()), n_cls


def probe_table(
    phonetic: np.ndarray,
    speaker_vecs: np.ndarray,
    speakers: Sequence[Hashable],
    words: Sequence[Hashable],
    *,
    test_size: float = 0.3,
    seed: int = 0,
    min_per_class: int = 2,
    max_iter: int = 2000,
    skipped: dict[str, str] | None = None,
) -> dict[str, ProbeResult]:
    """The four disentanglement probes, keyed ``speaker_from_phonetic``, ``speaker_from_speaker``,
    ``word_from_phonetic``, ``word_from_speaker``.

    A probe the data cannot support (one speaker; no word with two segments; too few samples to
    split) raises ``ValueError`` saying why, unless ``skipped`` is a dict: then it is left out of the
    result and ``skipped[key]`` holds the reason.

    Classes with fewer than ``min_per_class`` samples (default 2: a single sample cannot be both
    trained on and tested) are dropped per probe target (speaker or word) and counted in
    ``n_dropped``/``n_dropped_classes``. The split is stratified unless the test split is too small to
    hold one sample of every class (many rare words); ``stratified`` in the result says which.
    """
    P = np.asarray(phonetic)
    S = np.asarray(speaker_vecs)
    n = len(P)
    if len(S) != n or len(speakers) != n or len(words) != n:
        raise ValueError("phonetic, speaker_vecs, speakers and words differ in length")
    out: dict[str, ProbeResult] = {}
    for target, labels in (("speaker", list(speakers)), ("word", list(words))):
        keep, n_drop, n_drop_cls = _drop_rare(labels, min_per_class)
        kept = [lab for lab, k in zip(labels, keep) if k]
        n_cls = len(set(kept))
        n_test = int(np.ceil(test_size * len(kept)))
        strat = n_test >= n_cls and len(kept) - n_test >= n_cls
        why = _unsupported(target, labels, n_cls, min_per_class)
        for source, X in (("phonetic", P), ("speaker", S)):
            key = f"{target}_from_{source}"
            try:
                if why:
                    raise ValueError(why)
                res = linear_probe(X[keep], kept, test_size=test_size, seed=seed, stratify=strat,
                                   max_iter=max_iter)
            except ValueError as e:
                if skipped is None:
                    raise ValueError(f"{key}: {e}") from None
                skipped[key] = str(e)
                continue
            res.n_dropped, res.n_dropped_classes = n_drop, n_drop_cls
            out[key] = res
    return out


def _unsupported(target: str, labels: list, n_classes: int, min_per_class: int) -> str:
    """Why a probe of ``target`` cannot run on these labels ('' when it can)."""
    if n_classes >= 2:
        return ""
    n_all = len(set(labels))
    if target == "speaker":
        if n_all < 2:
            return f"{n_all} speaker(s) in the data; a speaker probe needs at least 2"
        return f"fewer than 2 speakers have {min_per_class} or more segments; a speaker probe needs at least 2"
    return (f"{'no word' if n_classes == 0 else 'only 1 word'} of {n_all} occurs {min_per_class} or more times; "
            f"a word probe needs at least 2 such words")


def probe_rows(table: dict[str, ProbeResult]) -> list[dict[str, float | int | str]]:
    """Rows for :func:`speechdis.eval.report.format_table`: probe, accuracy, chance, sizes."""
    return [{"probe": k, **v.as_dict()} for k, v in table.items()]
