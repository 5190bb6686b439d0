"""Evaluation runs (``speechdis evaluate``): models + a data dir → metrics, reports and plots.

Glue over the pure functions of :mod:`speechdis.eval`. The systems compared are
trained speechdis models (experiment dir or ``model.pt``), vectors from an ``.npz`` keyed by segment id,
Python embedders (a callable on feature matrices, or an object with ``embed_features``), and the two
trivial baselines: frame DTW and ``mfcc-stats`` (mean + std of each segment's raw MFCC frames, no
CMVN, each dimension standardised over the evaluated segments; :func:`mfcc_stats_system`).

* :func:`run_std` — spoken term detection: segment-level query-by-example (queries = word segments of
  words with >= N occurrences, archive = every segment, the query itself excluded, cosine over
  phonetic vectors, relevant = same word), the same restricted to other speakers than the query's
  (cross-speaker QbE), utterance level (best segment or sliding window per utterance), same-different
  AP, and frame-level DTW on the same segments within a time/pair budget.
* :func:`run_speaker` — verification trials from segment pairs of different utterances: EER, minDCF,
  DET curves, for speaker and phonetic vectors (the baseline's one embedding).
* :func:`run_probes` — linear probes (speaker/word from phonetic/speaker vectors, chance beside).
* :func:`run_plots` — t-SNE maps and training-loss curves.
* :func:`run_all` — all of them on one set of embeddings and the final comparison table.

The evaluation segments are the data dir's word segments located in its features (at least
``min_frames`` frames). Models whose training features (``feats.yaml``) differ from the data dir's
get features recomputed from ``wav.scp`` with their own config, over the same segments.

Where the parts live (all re-exported here): :mod:`speechdis.eval.data` (``EvalData``),
:mod:`speechdis.eval.embedding` (``ModelVectors``, ``embed_models``), one module per task in
:mod:`speechdis.eval.tasks` (``std``, ``speaker``, ``probes``, ``plots``) and :mod:`speechdis.eval.table`
(``final_table``). Each task returns a typed result (``StdResult``, ``SpeakerResult``, ``ProbeResult``) whose
``to_dict()`` is its report's JSON; the final table reads their fields. This module keeps :func:`run_all`, which
takes its settings as one :class:`~speechdis.eval.config.EvalConfig`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from speechdis.eval.config import EVAL_DEFAULTS, EvalConfig
from speechdis.eval.data import EvalData, Progress, load_eval_data, say
from speechdis.eval.embedding import (
    ModelSource,
    ModelVectors,
    embed_models,
    mfcc_stats_system,
    outside_system,
    parse_model_specs,
)
from speechdis.eval.systems import MFCC_STATS, OUTSIDE_SYSTEMS
from speechdis.eval.table import FINAL_COLUMNS, final_table
from speechdis.eval.tasks.plots import run_plots
from speechdis.eval.tasks.probes import run_probes, seed_summary
from speechdis.eval.tasks.speaker import run_speaker
from speechdis.eval.tasks.std import StdOptions, run_std

__all__ = [
    "EvalData",
    "ModelVectors",
    "StdOptions",
    "parse_model_specs",
    "load_eval_data",
    "embed_models",
    "mfcc_stats_system",
    "outside_system",
    "ModelSource",
    "run_std",
    "run_speaker",
    "run_probes",
    "run_plots",
    "run_all",
    "final_table",
    "FINAL_COLUMNS",
    "seed_summary",
]


def _front_end(specs: Sequence[tuple[str, ModelSource]]) -> "FeatureConfig":  # noqa: F821
    """The feature config of the first model among ``specs`` (a loaded Embedder or a model path; .npz vectors
    and Python embedders have none), else the default 39-dim MFCC with per-utterance CMVN."""
    from speechdis.audio.features import FeatureConfig
    from speechdis.inference.model import Embedder, load_speech_model

    for _, source in specs:
        if isinstance(source, Embedder):
            return source.feature_config
        if isinstance(source, (str, os.PathLike)) and Path(source).suffix != ".npz":
            return load_speech_model(source, device="cpu").feature_config
    return FeatureConfig()


def _load_data(data_dir, specs, out: Path, min_frames: int, allow_commands: bool, progress) -> EvalData:
    """:func:`load_eval_data`, the features computed first (into ``out/data``) when the data dir has none."""
    from speechdis.eval.data import eval_features

    if (Path(data_dir) / "feats.scp").is_file():
        return load_eval_data(data_dir, min_frames, allow_commands=allow_commands)
    d, cmvn, note = eval_features(data_dir, out / "data", _front_end(specs), allow_commands, progress)
    data = load_eval_data(d, min_frames, allow_commands=allow_commands, cmvn=cmvn)
    if note:
        data.source["features"] = note
    return data


def run_all(data_dir: str | os.PathLike, specs: Sequence[tuple[str, ModelSource]], out_dir: str | os.PathLike,
            config: EvalConfig = EVAL_DEFAULTS, *, dtw: bool = False, windows: bool = False, plots: bool = True,
            mfcc_stats: bool = True, outside: Sequence[str] = (), progress: Progress | None = None,
            allow_commands: bool = False) -> dict:
    """std + speaker + probes + plots on one set of embeddings, every setting from ``config``; writes every report
    and ``summary`` (``allow_commands``: see :func:`load_eval_data`). A data dir without ``feats.scp`` gets its
    features from ``wav.scp`` with the first model's front end, kept in ``out_dir/data`` (:func:`eval_features`).

    ``dtw`` adds the frame-DTW baseline, ``windows`` scores utterances by sliding windows (``config.window``,
    ``config.hop``). The ``mfcc-stats`` baseline is one of the systems unless ``mfcc_stats=False`` (it gets no
    plots); ``outside`` names systems of other packages (``resemblyzer``) put beside it (speaker and probe
    tables)."""
    from speechdis.eval.report import write_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    c = config
    std = StdOptions.from_config(c, dtw=dtw)
    data = _load_data(data_dir, specs, out, c.min_frames, allow_commands, progress)
    models = embed_models(specs, data, device=c.device, batch_size=c.batch_size,
                          windows=(c.window, c.hop) if windows else None, threads=c.threads,
                          mfcc_stats=mfcc_stats, progress=progress)
    for name in outside:
        say(progress, f"embedding {len(data)} segments with {name}")
        models.insert(int(mfcc_stats), outside_system(name, data, c.device))
    std_res = run_std(data, models, std, progress)
    write_report(std_res.to_dict(), out, "std")
    say(progress, "speaker verification")
    spk_res = run_speaker(data, models, out, n_trials=c.trials, p_target=c.p_target, seed=c.seed)
    write_report(spk_res.to_dict(), out, "speaker")
    say(progress, "linear probes")
    probe_res = run_probes(data, models, test_size=c.test_size, seed=c.seed)
    write_report(probe_res.to_dict(), out, "probes")
    trained = [m for m in models if m.kind not in (MFCC_STATS, *OUTSIDE_SYSTEMS)]
    figures = run_plots(data, trained, out, max_points=c.tsne_points, max_classes=c.tsne_classes, seed=c.seed,
                        progress=progress) if plots else {}
    table = final_table(std_res, spk_res, probe_res, models)
    summary = {
        "data": std_res.data,
        "models": {m.name: {"kind": m.kind, "model": m.path, **({"notes": "; ".join(m.notes)} if m.notes else {})}
                   for m in models},
        "final": table,
        **({"dtw_note": std_res.dtw_note} if std_res.dtw_note else {}),
        "reports": ["std.md", "speaker.md", "probes.md"],
        "figures": figures,
        "seconds": time.perf_counter() - t0,
    }
    write_report(summary, out, "summary")
    return summary
