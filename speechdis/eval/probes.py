"""Disentanglement probes: how linearly decodable speaker and word identity are from each embedding."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Hashable, Sequence

import numpy as np

__all__ = ["ProbeResult", "linear_probe", "probe_table", "probe_rows"]


@dataclass
class ProbeResult:
    """Held-out accuracy of a linear probe beside its chance level (majority-class rate of the test split).

    ``n_dropped`` samples were removed beforehand because their class had too few samples
    (``n_dropped_classes`` classes).
    """

    accuracy: float
    chance: float
    n_train: int
    n_test: int
    n_classes: int
    n_dropped: int = 0
    n_dropped_classes: int = 0
    stratified: bool = True

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict (for reports)."""
        return asdict(self)


def linear_probe(
    X: np.ndarray,
    y: Sequence[Hashable],
    test_size: float = 0.3,
    seed: int = 0,
    stratify: bool = True,
    *,
    max_iter: int = 2000,
    C: float = 1.0,
) -> ProbeResult:
    """Fit StandardScaler + multinomial LogisticRegression on a seeded split; report test accuracy.

    ``chance`` is the frequency of the most common class in the test split, i.e. the best accuracy a
    constant guess could reach there. With ``stratify`` every class must have >= 2 samples and the test
    split must hold at least one sample per class (``ValueError`` otherwise; :func:`probe_table` drops
    rare classes first).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64)
    y_arr = np.asarray(list(y), dtype=object)
    if X.ndim != 2 or len(X) != len(y_arr):
        raise ValueError(f"X must be (n, d) with one label per row, got {X.shape} and {len(y_arr)} labels")
    counts = Counter(y_arr.tolist())
    n_classes = len(counts)
    if n_classes < 2:
        raise ValueError(f"a probe needs at least 2 classes, got {n_classes}")
    if stratify:
        if min(counts.values()) < 2:
            raise ValueError("stratified split needs >= 2 samples per class (drop rare classes first)")
        if int(np.ceil(test_size * len(y_arr))) < n_classes:
            raise ValueError(
                f"test split of {test_size} x {len(y_arr)} samples cannot hold all {n_classes} classes"
            )
    # Labels as integer codes: sklearn's stratified splitter wants a plain array.
    _, codes = np.unique(y_arr.astype(str), return_inverse=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, codes, test_size=test_size, random_state=seed, stratify=codes if stratify else None
    )
    if len(np.unique(y_tr)) < 2:
        raise ValueError("the training split holds a single class")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=C))
    with warnings.catch_warnings():
        # A probe that has not fully converged is still a valid (conservative) probe.
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Many classes with few samples each (words) are normal for a probe, not a regression target.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        clf.fit(X_tr, y_tr)
    acc = float(np.mean(clf.predict(X_te) == y_te))
    chance = float(np.bincount(y_te).max() / len(y_te))
    return ProbeResult(acc, chance, len(y_tr), len(y_te), n_classes, stratified=stratify)


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
