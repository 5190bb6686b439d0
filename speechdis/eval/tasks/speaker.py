"""Speaker verification (:func:`run_speaker`): trials from segment pairs, EER, minDCF, DET curves.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from speechdis.errors import DataDirError
from speechdis.eval.config import EVAL_DEFAULTS as D
from speechdis.eval.data import EvalData
from speechdis.eval.embedding import ModelVectors
from speechdis.eval.tasks.result import TaskResult

__all__ = ["SpeakerResult", "run_speaker"]


# --------------------------------------------------------------------------------------------- speaker
@dataclass
class SpeakerResult(TaskResult):
    """What :func:`run_speaker` found: the trial list described and, per ``MODEL/VECTOR``, EER, minDCF and
    their thresholds (as in ``speaker.json``)."""

    trials: dict  # target / nontarget counts, p_target, where the pairs come from
    verification: dict[str, dict] = field(default_factory=dict)

    def eer(self, model: str, vector: str) -> float | None:
        """The EER of ``model``'s ``vector`` vectors, None where they were not scored."""
        return self.verification.get(f"{model}/{vector}", {}).get("EER")

    def to_dict(self) -> dict:
        """The layout of ``speaker.json``."""
        return {"trials": self.trials, "verification": self.verification}


def run_speaker(data: EvalData, models: Sequence[ModelVectors], out_dir: str | os.PathLike, *,
                n_trials: int = D.trials, p_target: float = D.p_target, seed: int = D.seed) -> SpeakerResult:
    """EER / minDCF / DET of cosine scoring on trials of segment pairs from different utterances."""
    from speechdis.eval.plots import det_curves_png
    from speechdis.eval.speaker import cosine_scores, eer, error_rates, make_trials, min_dcf

    pairs, labels = make_trials(data.speakers, n_trials, n_trials, seed, groups=data.utts)
    if labels.all() or not labels.any():
        raise DataDirError(f"{data.data_dir}: cannot form both same- and different-speaker trials "
                           f"({len(set(data.speakers))} speaker(s))")
    out = Path(out_dir)
    table: dict[str, dict] = {}
    curves: dict = {}
    for m in models:
        for key in dict.fromkeys([m.roles["speaker"], m.roles["phonetic"]]):
            scores = cosine_scores(m.vectors[key], pairs)
            e, thr = eer(scores, labels)
            dcf, dthr = min_dcf(scores, labels, p_target=p_target)
            p_miss, p_fa, _ = error_rates(scores, labels)
            curves[f"{m.name}/{key} (EER {100 * e:.1f}%)"] = (p_fa, p_miss)
            table[f"{m.name}/{key}"] = {"EER": e, "minDCF": dcf, "eer_threshold": thr, "dcf_threshold": dthr,
                                        "det": "det_speaker.png"}
    # Every system in one figure, so that the curves can be compared.
    det_curves_png(curves, out / "det_speaker.png", title="speaker verification (cosine)")
    return SpeakerResult(trials={"target": int(labels.sum()), "nontarget": int((~labels).sum()),
                                 "p_target": p_target, "pairs_from": "segments of different utterances"},
                         verification=table)
