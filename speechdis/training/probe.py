"""The linear probe (held-out accuracy beside chance) that training's validation and the evaluation's probe
tables both use; it lives here so training does not import evaluation (:mod:`speechdis.eval.probes` builds its
tables on it and re-exports it)."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Hashable, Sequence

import numpy as np

__all__ = ["ProbeResult", "linear_probe"]


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
