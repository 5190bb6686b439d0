"""The systems under evaluation, embedded over the evaluation segments (:class:`ModelVectors`): trained
speechdis models, ``.npz`` vectors, Python embedders and the ``mfcc-stats`` baseline.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from speechdis.errors import ConfigError, DataDirError
from speechdis.eval.data import EvalData, Progress, say
from speechdis.eval.systems import (
    MFCC_STATS,
    OUTSIDE_SYSTEMS,
    RESEMBLYZER,
    RESERVED_NAMES,
    call_embedder,
    load_npz_vectors,
    standardise,
)
from speechdis.inference.model import Embedder, load_speech_model
from speechdis.speech.registry import vector_roles

__all__ = ["ModelVectors", "ModelSource", "parse_model_specs", "mfcc_stats_system", "outside_system", "embed_models"]


# ------------------------------------------------------------------------------------------------ models
@dataclass
class ModelVectors:
    """One model's vectors for the evaluation segments (and sliding windows when asked for)."""

    name: str
    kind: str
    path: str
    exp_dir: Path | None  # where train_log.jsonl is looked for (None: not a trained experiment)
    vectors: dict[str, np.ndarray]
    embed_seconds: float
    roles: dict[str, str]
    window_vectors: dict[str, np.ndarray] | None = None
    window_utts: list[str] | None = None
    window_spans: list[tuple[float, float]] | None = None  # seconds within window_utts
    notes: list[str] = field(default_factory=list)

    @property
    def phonetic(self) -> np.ndarray:
        """The vectors used for search (phonetic, or the baseline's embedding)."""
        return self.vectors[self.roles["phonetic"]]

    @property
    def speaker(self) -> np.ndarray:
        """The vectors used for speaker verification (speaker, or the baseline's embedding)."""
        return self.vectors[self.roles["speaker"]]


# What a system to evaluate can be: an experiment dir / model.pt / .npz path, a callable
# f(list of (T, D) feature matrices) -> {name: (N, dim)}, or an object with embed_features (an Embedder).
ModelSource = "str | os.PathLike | Callable[[list[np.ndarray]], dict[str, np.ndarray]] | object"


def parse_model_specs(specs: Sequence[str], allow_empty: bool = False) -> list[tuple[str, Path]]:
    """``NAME=PATH`` strings (``PATH`` alone: named after it) → [(name, path)].

    ``PATH`` is an experiment dir, a ``model.pt`` or an ``.npz`` of vectors keyed by segment id.
    """
    out: list[tuple[str, Path]] = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).stem if spec.endswith(".npz") else Path(spec).name, spec
        name = name.strip()
        if not name or not path:
            raise ConfigError(f"--model {spec!r}: expected NAME=PATH")
        if name.lower() in RESERVED_NAMES:
            raise ConfigError(f"--model: the name {name!r} is reserved for the {name.upper()} baseline")
        if name in {n for n, _ in out}:
            raise ConfigError(f"--model: the name {name!r} is given twice")
        out.append((name, Path(path)))
    if not out and not allow_empty:
        raise ConfigError("give at least one --model NAME=PATH")
    return out


def _model_segments(embedder: Embedder, data: EvalData) -> tuple[list[np.ndarray], list[str]]:
    """The evaluation segments as this model's features (recomputed when its config differs)."""
    if embedder.feature_config.resolved() == data.feature_config.resolved():
        return data.feats, []
    from speechdis.inference.extract import data_dir_utterances

    utts, notes = data_dir_utterances(embedder, data.data_dir)
    loaders = {u.utt: u.load for u in utts}
    out: list[np.ndarray] = []
    cur_utt, cur = None, None
    for utt, span in zip(data.utts, data.spans):
        if utt != cur_utt:
            cur_utt, cur = utt, loaders[utt]()
        out.append(embedder.cut(cur, [span])[0])
    return out, notes


def _window_segments(embedder: Embedder, data: EvalData, window: float, hop: float
                     ) -> tuple[list[np.ndarray], list[str], list[tuple[float, float]]]:
    """Sliding windows over every searched utterance, as this model's features, their utterances and spans."""
    from speechdis.inference.extract import data_dir_utterances, window_spans

    cfg = embedder.feature_config
    utts, _ = data_dir_utterances(embedder, data.data_dir)
    feats, owners, all_spans = [], [], []
    for u in utts:
        if u.utt not in data.utt_words:
            continue
        mat = u.load()
        spans = window_spans(mat.shape[0], window, hop, cfg.frame_shift_ms / 1000, cfg.frame_length_ms / 1000)
        feats += embedder.cut(mat, spans)
        owners += [u.utt] * len(spans)
        all_spans += spans
    return feats, owners, all_spans


def mfcc_stats_system(data: EvalData) -> ModelVectors:
    """The ``mfcc-stats`` baseline on the evaluation segments (raw features, no CMVN; standardised)."""
    if data.raw_stats is None:
        raise DataDirError(f"{data.data_dir}: no raw feature statistics (load it with load_eval_data)")
    t0 = time.perf_counter()
    vecs = {"embedding": standardise(data.raw_stats).astype(np.float32)}
    return ModelVectors(MFCC_STATS, MFCC_STATS, "mean+std of the segment's features without CMVN, standardised",
                        None, vecs, time.perf_counter() - t0, vector_roles(["embedding"]))


def outside_system(name: str, data: EvalData, device: str = "cpu") -> ModelVectors:
    """A system from another package (``resemblyzer``) on the evaluation segments' audio."""
    if name != RESEMBLYZER:
        raise ConfigError(f"unknown outside system {name!r} (known: {', '.join(OUTSIDE_SYSTEMS)})")
    from speechdis.eval.resemblyzer_system import timed_resemblyzer

    vecs, seconds = timed_resemblyzer(data.data_dir, data.utts, data.spans, device)
    return ModelVectors(RESEMBLYZER, RESEMBLYZER, "Resemblyzer GE2E speaker encoder (its packaged weights)", None,
                        {"embedding": vecs}, seconds, vector_roles(["embedding"]))


def _is_path(source: object) -> bool:
    return isinstance(source, (str, os.PathLike))


def _embed_source(name: str, source: object, data: EvalData, *, device: str, batch_size: int,
                  windows: tuple[float, float] | None, threads: int | None, progress: Progress | None
                  ) -> ModelVectors:
    if _is_path(source) and Path(source).suffix == ".npz":
        say(progress, f"reading {name} vectors from {source}")
        vecs, kind = load_npz_vectors(source, data.seg_ids)
        notes = ["sliding windows need a model: utterances scored by word segments"] if windows else []
        return ModelVectors(name, kind, str(source), None, vecs, float("nan"), vector_roles(list(vecs)), notes=notes)
    if not _is_path(source):
        if isinstance(source, Embedder):
            emb = source
        else:
            say(progress, f"embedding {len(data)} segments with {name} (Python embedder)")
            t0 = time.perf_counter()
            vecs = call_embedder(source, data.feats)
            seconds = time.perf_counter() - t0
            notes = ["sliding windows need a model: utterances scored by word segments"] if windows else []
            return ModelVectors(name, "python", type(source).__name__, None, vecs, seconds, vector_roles(list(vecs)),
                                notes=notes)
    else:
        emb = load_speech_model(source, device=device, batch_size=batch_size, threads=threads)
    segs, notes = _model_segments(emb, data)
    say(progress, f"embedding {len(segs)} segments with {name} ({emb.kind})")
    t0 = time.perf_counter()
    vecs = emb.embed_features(segs)
    seconds = time.perf_counter() - t0
    path = Path(emb.path)
    exp_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    mv = ModelVectors(name, emb.kind, str(emb.path), exp_dir, vecs, seconds, emb.roles,
                      notes=emb.warnings + notes)
    if windows is not None:
        wfeats, owners, spans = _window_segments(emb, data, *windows)
        mv.window_vectors = emb.embed_features(wfeats)
        mv.window_utts, mv.window_spans = owners, spans
    return mv


def embed_models(specs: Sequence[tuple[str, ModelSource]], data: EvalData, *, device: str = "auto",
                 batch_size: int = 256, windows: tuple[float, float] | None = None,
                 threads: int | None = 1, mfcc_stats: bool = False,
                 progress: Progress | None = None) -> list[ModelVectors]:
    """Vectors of the evaluation segments from each system (timed: features excluded, network included).

    A source is an experiment dir or ``model.pt`` (loaded with :func:`load_model`), an ``.npz`` with
    ``ids`` and ``(N, dim)`` arrays (what ``speechdis extract`` writes; every evaluation segment must be
    there), a loaded :class:`Embedder`, or any callable / object with ``embed_features`` taking the data
    dir's feature matrices. With ``mfcc_stats`` the ``mfcc-stats`` baseline comes first.
    """
    out = [mfcc_stats_system(data)] if mfcc_stats else []
    for name, source in specs:
        if str(name).lower() in RESERVED_NAMES:
            raise ConfigError(f"the name {name!r} is reserved for a baseline")
        out.append(_embed_source(name, source, data, device=device, batch_size=batch_size, windows=windows,
                                 threads=threads, progress=progress))
    return out
