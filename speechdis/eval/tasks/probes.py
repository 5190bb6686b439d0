"""Linear probes (:func:`run_probes`) and the seed summary of models named ``NAME_seedN``.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from speechdis.eval.config import EVAL_DEFAULTS as D
from speechdis.eval.data import EvalData
from speechdis.eval.embedding import ModelVectors

__all__ = ["run_probes", "seed_summary"]


# ---------------------------------------------------------------------------------------------- probes
def run_probes(data: EvalData, models: Sequence[ModelVectors], *, test_size: float = D.test_size,
               seed: int = D.seed) -> dict:
    """Linear-probe accuracies (held-out split) with chance levels, per model.

    Probes the data cannot support (one speaker, no repeated word) are listed under ``skipped`` with
    the reason instead of failing the run."""
    from speechdis.eval.probes import probe_table

    rows = []
    per_model: dict[str, dict] = {}
    skips: dict[tuple[str, str], tuple[list[str], str]] = {}  # (target, reason) -> (models, target)
    for m in models:
        why: dict[str, str] = {}
        table = probe_table(m.phonetic, m.speaker, data.speakers, data.words, test_size=test_size, seed=seed,
                            skipped=why)
        if m.roles["phonetic"] == m.roles["speaker"]:
            # One vector in both roles (baseline): the "_from_speaker" probes repeat the same fit.
            table = {k: v for k, v in table.items() if k.endswith("_from_phonetic")}
            why = {k: v for k, v in why.items() if k.endswith("_from_phonetic")}
        for key, reason in why.items():
            target = key.partition("_from_")[0]
            skips.setdefault((target, reason), ([], target))[0].append(m.name)
        if table:
            per_model[m.name] = {k: v.as_dict() for k, v in table.items()}
        src = {"phonetic": m.roles["phonetic"], "speaker": m.roles["speaker"]}
        for key, r in table.items():
            target, _, role = key.partition("_from_")
            rows.append({"model": m.name, "target": target, "from": src[role], "accuracy": r.accuracy,
                         "chance": r.chance, "n_classes": r.n_classes, "n_test": r.n_test})
    out: dict = {"probes": rows}
    if skips:
        # Probes the data cannot support: said in the report, not a traceback.
        out["skipped"] = [{"target": target, "models": ", ".join(dict.fromkeys(names)), "reason": reason}
                          for (_, reason), (names, target) in skips.items()]
    seeds = seed_summary(rows)
    if seeds:
        out["seed_summary"] = seeds
    out["details"] = per_model
    return out


_SEED_NAME = re.compile(r"^(?P<base>.+)_seed(?P<seed>\d+)$")


def seed_summary(rows: Sequence[dict]) -> list[dict]:
    """Mean, standard deviation (n−1) and range of probe accuracy over models named ``BASE_seedN``.

    Training seeds move probe accuracies by several points on small test sets, so conclusions should rest
    on several seeds. Only groups with at least two seeds are summarised.
    """
    groups: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        m = _SEED_NAME.match(r["model"])
        if m:
            groups.setdefault((m["base"], r["target"], r["from"]), []).append(float(r["accuracy"]))
    out = []
    for (base, target, src), acc in groups.items():
        if len(acc) < 2:
            continue
        a = np.asarray(acc)
        out.append({"model": base, "target": target, "from": src, "seeds": len(a), "mean": float(a.mean()),
                    "std": float(a.std(ddof=1)), "min": float(a.min()), "max": float(a.max())})
    return out
