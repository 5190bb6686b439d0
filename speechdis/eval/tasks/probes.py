"""Linear probes (:func:`run_probes`) and the seed summary of models named ``NAME_seedN``.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from speechdis.eval.config import EVAL_DEFAULTS as D
from speechdis.eval.data import EvalData
from speechdis.eval.embedding import ModelVectors
from speechdis.eval.tasks.result import TaskResult

__all__ = ["ProbeRow", "ProbeResult", "run_probes", "seed_summary"]


# ---------------------------------------------------------------------------------------------- probes
@dataclass(frozen=True)
class ProbeRow:
    """One probe: ``target`` (speaker / word) predicted from ``model``'s ``source`` vectors."""

    model: str
    target: str
    source: str  # the vector name ("from" in the JSON)
    accuracy: float
    chance: float
    n_classes: int
    n_test: int

    def to_dict(self) -> dict:
        """The row as in ``probes.json``."""
        return {"model": self.model, "target": self.target, "from": self.source, "accuracy": self.accuracy,
                "chance": self.chance, "n_classes": self.n_classes, "n_test": self.n_test}


@dataclass
class ProbeResult(TaskResult):
    """What :func:`run_probes` found: one :class:`ProbeRow` per probe, the probes skipped (with the reason), the
    summary over training seeds and each model's full probe results (as in ``probes.json``)."""

    rows: list[ProbeRow] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"target", "models", "reason"}
    seed_summary: list[dict] = field(default_factory=list)  # see :func:`seed_summary`
    details: dict[str, dict] = field(default_factory=dict)

    def accuracy(self, model: str, target: str, source: str) -> float | None:
        """The accuracy of the probe for ``target`` on ``model``'s ``source`` vectors, None where there is none."""
        return next((r.accuracy for r in self.rows if (r.model, r.target, r.source) == (model, target, source)),
                    None)

    def chance(self) -> dict[str, float]:
        """Chance accuracy per target."""
        return {r.target: r.chance for r in self.rows}

    def to_dict(self) -> dict:
        """The layout of ``probes.json`` (``skipped`` and ``seed_summary`` only when not empty)."""
        out: dict = {"probes": [r.to_dict() for r in self.rows]}
        if self.skipped:
            # Probes the data cannot support: said in the report, not a traceback.
            out["skipped"] = self.skipped
        if self.seed_summary:
            out["seed_summary"] = self.seed_summary
        out["details"] = self.details
        return out


def run_probes(data: EvalData, models: Sequence[ModelVectors], *, test_size: float = D.test_size,
               seed: int = D.seed) -> ProbeResult:
    """Linear-probe accuracies (held-out split) with chance levels, per model.

    Probes the data cannot support (one speaker, no repeated word) are listed under ``skipped`` with
    the reason instead of failing the run."""
    from speechdis.eval.probes import probe_table

    rows: list[ProbeRow] = []
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
            rows.append(ProbeRow(m.name, target, src[role], r.accuracy, r.chance, r.n_classes, r.n_test))
    skipped = [{"target": target, "models": ", ".join(dict.fromkeys(names)), "reason": reason}
               for (_, reason), (names, target) in skips.items()]
    return ProbeResult(rows=rows, skipped=skipped, seed_summary=seed_summary([r.to_dict() for r in rows]),
                       details=per_model)


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
