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
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment
from speechdis.errors import ConfigError, DataDirError, SpeechdisError
from speechdis.eval.systems import (
    MFCC_STATS,
    RESERVED_NAMES,
    call_embedder,
    load_npz_vectors,
    roles_for,
    segment_stats,
    standardise,
)
from speechdis.inference.model import Embedder, load_speech_model

log = logging.getLogger(__name__)

__all__ = [
    "EvalData",
    "ModelVectors",
    "StdOptions",
    "parse_model_specs",
    "load_eval_data",
    "embed_models",
    "mfcc_stats_system",
    "ModelSource",
    "run_std",
    "run_speaker",
    "run_probes",
    "run_plots",
    "run_all",
    "final_table",
    "FINAL_COLUMNS",
]

Progress = Callable[[str], None]


def _say(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


# ------------------------------------------------------------------------------------------------- data
@dataclass
class EvalData:
    """The evaluation segments of a data dir, their full-length features and labels."""

    data_dir: Path
    seg_ids: list[str]
    utts: list[str]
    words: list[str]
    speakers: list[str]
    spans: list[tuple[float, float]]  # seconds within the utterance
    feats: list[np.ndarray]  # full segment frames (DTW; models with the same feature config)
    feature_config: "FeatureConfig"  # noqa: F821
    utt_words: dict[str, set[str]]  # utterances searched at utterance level → words they contain
    n_filtered: dict[str, int] = field(default_factory=dict)
    # Per segment: mean and std of its frames *without* CMVN, (N, 2·dim) (the mfcc-stats baseline).
    raw_stats: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.seg_ids)

    def describe(self) -> dict[str, int | str]:
        """Counts for the report."""
        return {"data_dir": str(self.data_dir), "segments": len(self), "utterances": len(set(self.utts)),
                "speakers": len(set(self.speakers)), "words": len(set(self.words)),
                **{f"filtered_{k}": v for k, v in self.n_filtered.items() if v}}


def load_eval_data(data_dir: str | os.PathLike, min_frames: int = 5, allow_commands: bool = False) -> EvalData:
    """Word segments of ``data_dir`` (features required) with at least ``min_frames`` frames. Its feats.scp /
    cmvn.scp are read as plain files: a shell-command entry is refused unless ``allow_commands``."""
    from speechdis.audio.features import FeatureConfig
    from speechdis.data.segments import data_dir_segments

    d = Path(data_dir)
    segs, report, reader = data_dir_segments(d, min_frames=min_frames, allow_commands=allow_commands)
    data = DataDir.load(d)
    by_id: dict[str, WordSegment] = {s.seg_id: s for s in data.word_segments}
    feats: list[np.ndarray] = []
    raw_segs: list[np.ndarray] = []
    cur_utt, cur, raw = None, None, None
    for s in segs:  # word_segments are sorted by id, so one utterance's segments are consecutive
        if s.utt != cur_utt:
            cur_utt, cur = s.utt, reader[s.utt]
            raw = cur if reader.cmvn == "none" else reader.raw(s.utt)
        feats.append(np.ascontiguousarray(cur[s.start_frame:s.end_frame]))
        raw_segs.append(raw[s.start_frame:s.end_frame])
    # Utterance-level relevance: the transcript when there is one (it also names words without a
    # usable segment), else the word segments.
    utts_with_feats = [u for u in data.utts if u in reader]
    if data.text:
        utt_words = {u: set(data.text.get(u, "").split()) for u in utts_with_feats}
    else:
        utt_words = {u: set() for u in utts_with_feats}
        for w in data.word_segments:
            if w.utt in utt_words:
                utt_words[w.utt].add(w.word)
    return EvalData(
        data_dir=d, seg_ids=[s.seg_id for s in segs], utts=[s.utt for s in segs], words=[s.word for s in segs],
        speakers=[s.speaker for s in segs], spans=[(by_id[s.seg_id].start, by_id[s.seg_id].end) for s in segs],
        feats=feats, feature_config=reader.config or FeatureConfig(), utt_words=utt_words,
        n_filtered={"too_short": report.too_short, "too_long": report.too_long, "no_features": report.no_features},
        raw_stats=segment_stats(raw_segs))


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
                        None, vecs, time.perf_counter() - t0, roles_for(["embedding"]))


def _is_path(source: object) -> bool:
    return isinstance(source, (str, os.PathLike))


def _embed_source(name: str, source: object, data: EvalData, *, device: str, batch_size: int,
                  windows: tuple[float, float] | None, threads: int | None, progress: Progress | None
                  ) -> ModelVectors:
    if _is_path(source) and Path(source).suffix == ".npz":
        _say(progress, f"reading {name} vectors from {source}")
        vecs, kind = load_npz_vectors(source, data.seg_ids)
        notes = ["sliding windows need a model: utterances scored by word segments"] if windows else []
        return ModelVectors(name, kind, str(source), None, vecs, float("nan"), roles_for(list(vecs)), notes=notes)
    if not _is_path(source):
        if isinstance(source, Embedder):
            emb = source
        else:
            _say(progress, f"embedding {len(data)} segments with {name} (Python embedder)")
            t0 = time.perf_counter()
            vecs = call_embedder(source, data.feats)
            seconds = time.perf_counter() - t0
            notes = ["sliding windows need a model: utterances scored by word segments"] if windows else []
            return ModelVectors(name, "python", type(source).__name__, None, vecs, seconds, roles_for(list(vecs)),
                                notes=notes)
    else:
        emb = load_speech_model(source, device=device, batch_size=batch_size, threads=threads)
    segs, notes = _model_segments(emb, data)
    _say(progress, f"embedding {len(segs)} segments with {name} ({emb.kind})")
    t0 = time.perf_counter()
    vecs = emb.embed_features(segs)
    seconds = time.perf_counter() - t0
    path = Path(emb.path)
    exp_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    mv = ModelVectors(name, emb.kind, str(emb.path), exp_dir, vecs, seconds, roles_for(emb.keys),
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


# ------------------------------------------------------------------------------------------------- STD
@dataclass
class StdOptions:
    """Settings of :func:`run_std` (CLI flags of ``speechdis evaluate std``)."""

    dtw: bool = False
    dtw_budget: float | None = 300.0  # seconds; None = unlimited
    dtw_max_pairs: int | None = None
    min_occurrences: int = 2
    max_queries_per_word: int | None = None
    k: int = 10
    max_same_diff: int = 4000  # segments drawn for the O(n^2) same-different task
    seed: int = 0


def _queries(data: EvalData, opt: StdOptions) -> np.ndarray:
    from speechdis.eval.retrieval import select_queries

    q = select_queries(data.words, opt.min_occurrences, opt.max_queries_per_word, opt.seed)
    if q.size == 0:
        raise DataDirError(f"{data.data_dir}: no word occurs {opt.min_occurrences} or more times; "
                           f"no queries (lower --min-occurrences)")
    return q


def _same_diff_subset(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _qbe_means(m: dict[str, np.ndarray], k: int) -> dict:
    ok = m["n_relevant"] > 0
    if not ok.any():
        return {"MAP": float("nan"), f"P@{k}": float("nan"), "P@R": float("nan"), "n_queries": 0}
    return {"MAP": float(m["ap"][ok].mean()), f"P@{k}": float(m["p_at_k"][ok].mean()),
            "P@R": float(m["p_at_r"][ok].mean()), "n_queries": int(ok.sum())}


def _dtw_std(data: EvalData, queries: np.ndarray, opt: StdOptions, progress: Progress | None
             ) -> tuple[dict, dict, np.ndarray, dict]:
    """Segment-level QbE and same-different AP with frame-level DTW.

    Returns (qbe, same_diff, done queries, cross-speaker qbe)."""
    from speechdis.eval.dtw import dtw_matrix
    from speechdis.eval.retrieval import average_precision, ranking_metrics

    # A budget that stops early should leave a random sample of queries done, not the first speakers.
    order = np.random.default_rng(opt.seed).permutation(queries)
    _say(progress, f"DTW: {len(order)} queries x {len(data)} segments"
         + (f" (budget {opt.dtw_budget:g}s)" if opt.dtw_budget else ""))
    res = dtw_matrix([data.feats[i] for i in order], data.feats, budget_seconds=opt.dtw_budget,
                     max_pairs=opt.dtw_max_pairs)
    rows = res.complete_rows
    done = order[rows]
    words = np.array(data.words, dtype=object)
    qbe = {"MAP": float("nan"), f"P@{opt.k}": float("nan"), "P@R": float("nan"), "n_queries": 0,
           "search_seconds": res.seconds, "pairs_computed": res.n_computed, "pairs_total": res.n_total,
           "complete": res.complete}
    sd = {"AP": float("nan"), "AP_diff_speaker": float("nan"), "n_pairs": 0}
    cross = _qbe_means({"n_relevant": np.zeros(0, int)}, opt.k)
    if rows.size:
        dist = res.distances[rows]
        rel = words[done][:, None] == words[None, :]
        valid = np.ones(dist.shape, dtype=bool)
        valid[np.arange(len(done)), done] = False
        spk = np.array(data.speakers, dtype=object)
        other = spk[done][:, None] != spk[None, :]
        cross = _qbe_means(ranking_metrics(-dist, rel, k=opt.k, valid=valid & other), opt.k)
        m = ranking_metrics(-dist, rel, k=opt.k, valid=valid)
        ok = m["n_relevant"] > 0
        if ok.any():
            qbe.update({"MAP": float(m["ap"][ok].mean()), f"P@{opt.k}": float(m["p_at_k"][ok].mean()),
                        "P@R": float(m["p_at_r"][ok].mean())})
        qbe["n_queries"] = int(ok.sum())
        # Same-different over the computed pairs, each unordered pair once: a pair of two done queries
        # is taken from the row of the smaller index.
        is_done = np.zeros(len(data), dtype=bool)
        is_done[done] = True
        cols = np.arange(len(data))[None, :]
        pair = valid & ~(is_done[None, :] & (cols < done[:, None]))
        scores = -dist[pair]
        same = rel[pair]
        diff = other[pair]
        sd = {"AP": average_precision(scores, same) if same.any() else float("nan"),
              "AP_diff_speaker": average_precision(scores[diff], same[diff]) if (same & diff).any() else float("nan"),
              "n_pairs": int(pair.sum()), "n_same": int(same.sum()), "n_pairs_diff_speaker": int(diff.sum()),
              "n_same_diff_speaker": int((same & diff).sum())}
    return qbe, sd, done, cross


def run_std(data: EvalData, models: Sequence[ModelVectors], opt: StdOptions | None = None,
            progress: Progress | None = None) -> dict:
    """Spoken term detection results (see the module doc): segment, utterance, same-different, DTW."""
    from speechdis.eval.retrieval import same_different_ap, segment_qbe, utterance_qbe

    opt = opt or StdOptions()
    queries = _queries(data, opt)
    qwords = [data.words[i] for i in queries]
    quitts = [data.utts[i] for i in queries]
    seg: dict[str, dict] = {}
    cross: dict[str, dict] = {}
    utt: dict[str, dict] = {}
    sd: dict[str, dict] = {}
    subset = _same_diff_subset(len(data), opt.max_same_diff, opt.seed)
    results: dict = {"data": {**data.describe(), "queries": int(len(queries)),
                              "query_words": len(set(qwords)), "min_occurrences": opt.min_occurrences}}
    done = None
    qspks = [data.speakers[i] for i in queries]
    if opt.dtw:
        seg["DTW"], sd["DTW"], done, cross["DTW"] = _dtw_std(data, queries, opt, progress)
    for m in models:
        _say(progress, f"search with {m.name}")
        r = segment_qbe(m.phonetic[queries], qwords, m.phonetic, data.words, exclude=queries, k=opt.k)
        seg[m.name] = {**{k: v for k, v in r.summary().items() if k != "n_skipped"},
                       "embed_seconds": m.embed_seconds}
        x = segment_qbe(m.phonetic[queries], qwords, m.phonetic, data.words, exclude=queries, k=opt.k,
                        query_groups=qspks, archive_groups=data.speakers)
        cross[m.name] = {k: v for k, v in x.summary().items() if k not in ("n_skipped", "search_seconds")}
        if done is not None and seg["DTW"]["n_queries"] and not seg["DTW"]["complete"]:
            # The same queries DTW finished, for a like-for-like comparison under a budget.
            sub = segment_qbe(m.phonetic[done], [data.words[i] for i in done], m.phonetic, data.words,
                              exclude=done, k=opt.k)
            seg[m.name]["MAP_dtw_queries"] = sub.map
        if m.window_vectors is not None:
            uv, uu = m.window_vectors[m.roles["phonetic"]], m.window_utts
        else:
            uv, uu = m.phonetic, data.utts
        ur = utterance_qbe(m.phonetic[queries], qwords, uv, uu, data.utt_words, query_utts=quitts, k=opt.k)
        utt[m.name] = {k: v for k, v in ur.summary().items() if k != "n_skipped"}
        s = same_different_ap(m.phonetic[subset], [data.words[i] for i in subset],
                              [data.speakers[i] for i in subset])
        sd[m.name] = s.summary()
    results["segment_qbe"] = seg
    # The archive of each query restricted to other speakers' segments: same-speaker matches flatter a
    # system that encodes the voice. Queries without a same-word segment of another speaker are left out.
    results["segment_qbe_cross_speaker"] = cross
    results["utterance_qbe"] = utt
    results["utterance_scoring"] = "sliding windows" if any(m.window_vectors is not None for m in models) \
        else "best word segment"
    results["same_different"] = sd
    if len(subset) < len(data):
        results["same_different_segments"] = int(len(subset))
    return results


# --------------------------------------------------------------------------------------------- speaker
def run_speaker(data: EvalData, models: Sequence[ModelVectors], out_dir: str | os.PathLike, *,
                n_trials: int = 5000, p_target: float = 0.01, seed: int = 0) -> dict:
    """EER / minDCF / DET of cosine scoring on trials of segment pairs from different utterances."""
    from speechdis.eval.speaker import cosine_scores, det_curve_png, eer, make_trials, min_dcf

    pairs, labels = make_trials(data.speakers, n_trials, n_trials, seed, groups=data.utts)
    if labels.all() or not labels.any():
        raise DataDirError(f"{data.data_dir}: cannot form both same- and different-speaker trials "
                           f"({len(set(data.speakers))} speaker(s))")
    out = Path(out_dir)
    table: dict[str, dict] = {}
    for m in models:
        for key in dict.fromkeys([m.roles["speaker"], m.roles["phonetic"]]):
            scores = cosine_scores(m.vectors[key], pairs)
            e, thr = eer(scores, labels)
            dcf, dthr = min_dcf(scores, labels, p_target=p_target)
            png = det_curve_png(scores, labels, out / f"det_{m.name}_{key}.png", title=f"{m.name}: {key} vectors")
            table[f"{m.name}/{key}"] = {"EER": e, "minDCF": dcf, "eer_threshold": thr, "dcf_threshold": dthr,
                                        "det": png.name}
    return {"trials": {"target": int(labels.sum()), "nontarget": int((~labels).sum()), "p_target": p_target,
                       "pairs_from": "segments of different utterances"},
            "verification": table}


# ---------------------------------------------------------------------------------------------- probes
def run_probes(data: EvalData, models: Sequence[ModelVectors], *, test_size: float = 0.3, seed: int = 0) -> dict:
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


# ----------------------------------------------------------------------------------------------- plots
def _top_classes(labels: Sequence[str], limit: int) -> np.ndarray:
    """Indices of items whose label is among the ``limit`` most frequent ones."""
    keep = {c for c, _ in Counter(labels).most_common(limit)}
    return np.array([i for i, lab in enumerate(labels) if lab in keep], dtype=np.int64)


def run_plots(data: EvalData | None, models: Sequence[ModelVectors], out_dir: str | os.PathLike, *,
              max_points: int = 1000, max_classes: int = 10, seed: int = 0,
              progress: Progress | None = None) -> dict:
    """t-SNE of each model's vectors coloured by speaker and by word (the ``max_classes`` most frequent
    of each, at most ``max_points`` points), and the training-loss curves of each model."""
    from speechdis.eval.plots import loss_curves_png, tsne_png

    out = Path(out_dir)
    files: dict[str, list[str]] = {}
    for m in models:
        names = []
        log_path = m.exp_dir / "train_log.jsonl" if m.exp_dir is not None else None
        if log_path is not None and log_path.is_file():
            try:
                names.append(loss_curves_png(log_path, out / f"loss_{m.name}.png", title=f"{m.name} training").name)
            except SpeechdisError as e:
                log.warning("%s: no loss curves: %s", m.name, e)
        if data is not None:
            for key in dict.fromkeys(m.vectors):
                for label_name, labels in (("speaker", data.speakers), ("word", data.words)):
                    idx = _top_classes(labels, max_classes)
                    if len(idx) < 3:
                        continue
                    _say(progress, f"t-SNE {m.name} {key} by {label_name}")
                    path = tsne_png(m.vectors[key][idx], [labels[i] for i in idx],
                                    out / f"tsne_{m.name}_{key}_by_{label_name}.png",
                                    title=f"{m.name}: {key} vectors by {label_name}", max_points=max_points,
                                    seed=seed, threads=1)
                    names.append(path.name)
        files[m.name] = names
    return files


# ------------------------------------------------------------------------------------------------ all
FINAL_COLUMNS = ["system", "queries", "MAP", "P@10", "x-spk MAP", "x-spk P@10", "same-diff AP", "EER",
                 "spk probe (phon/emb)", "spk probe (spk)", "word probe (phon)", "search s", "embed s"]


def final_table(std: dict, speaker: dict | None, probes: dict | None, models: Sequence[ModelVectors]
                ) -> list[dict]:
    """Rows DTW / each model (and chance for the probes): the headline numbers side by side."""
    rows = []
    seg, sd = std["segment_qbe"], std["same_different"]
    cross = std.get("segment_qbe_cross_speaker", {})

    def xspk(name: str) -> dict:
        c = cross.get(name, {})
        return {"x-spk MAP": c.get("MAP"), "x-spk P@10": c.get(k_key)}

    k_key = next((k for k in next(iter(seg.values())) if k.startswith("P@") and k != "P@R"), "P@10")
    if "DTW" in seg:
        d = seg["DTW"]
        rows.append({"system": "DTW", "queries": d["n_queries"], "MAP": d["MAP"], "P@10": d.get(k_key), **xspk("DTW"),
                     "same-diff AP": sd["DTW"]["AP"], "search s": d["search_seconds"]})
    probe_rows = (probes or {}).get("probes", [])

    def probe(model: str, target: str, source: str) -> float | None:
        for r in probe_rows:
            if r["model"] == model and r["target"] == target and r["from"] == source:
                return r["accuracy"]
        return None

    for m in models:
        ver = (speaker or {}).get("verification", {})
        eer_key = f"{m.name}/{m.roles['speaker']}"
        rows.append({
            "system": m.name, "queries": seg[m.name]["n_queries"], "MAP": seg[m.name]["MAP"],
            "P@10": seg[m.name].get(k_key),
            **xspk(m.name), "same-diff AP": sd[m.name]["AP"], "EER": ver.get(eer_key, {}).get("EER"),
            "spk probe (phon/emb)": probe(m.name, "speaker", m.roles["phonetic"]),
            "spk probe (spk)": probe(m.name, "speaker", m.roles["speaker"]),
            "word probe (phon)": probe(m.name, "word", m.roles["phonetic"]),
            "search s": seg[m.name]["search_seconds"], "embed s": m.embed_seconds,
        })
    if probe_rows:
        chance = {r["target"]: r["chance"] for r in probe_rows}
        rows.append({"system": "chance", "spk probe (phon/emb)": chance.get("speaker"),
                     "spk probe (spk)": chance.get("speaker"), "word probe (phon)": chance.get("word")})
    if speaker is not None:
        # EER of the phonetic vectors of disentangled models: the number that should be poor.
        for m in models:
            if m.roles["phonetic"] != m.roles["speaker"]:
                e = speaker["verification"].get(f"{m.name}/{m.roles['phonetic']}", {}).get("EER")
                if e is not None:
                    rows.append({"system": f"{m.name} (phonetic as speaker)", "EER": e})
    # Every row with every column (None = not applicable), so tables line up in JSON and Markdown.
    return [{c: r.get(c) for c in FINAL_COLUMNS} for r in rows]


def run_all(data_dir: str | os.PathLike, specs: Sequence[tuple[str, ModelSource]], out_dir: str | os.PathLike, *,
            std: StdOptions | None = None, windows: tuple[float, float] | None = None, device: str = "auto",
            batch_size: int = 256, threads: int | None = 1, min_frames: int = 5, n_trials: int = 5000,
            p_target: float = 0.01,
            probe_test_size: float = 0.3, tsne_points: int = 1000, tsne_classes: int = 10, plots: bool = True,
            mfcc_stats: bool = True, progress: Progress | None = None, allow_commands: bool = False) -> dict:
    """std + speaker + probes + plots on one set of embeddings; writes every report and ``summary``
    (``allow_commands``: see :func:`load_eval_data`).

    The ``mfcc-stats`` baseline is one of the systems unless ``mfcc_stats=False`` (it gets no plots)."""
    from speechdis.eval.report import write_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = load_eval_data(data_dir, min_frames, allow_commands=allow_commands)
    models = embed_models(specs, data, device=device, batch_size=batch_size, windows=windows, threads=threads,
                          mfcc_stats=mfcc_stats, progress=progress)
    std_res = run_std(data, models, std, progress)
    write_report(std_res, out, "std")
    _say(progress, "speaker verification")
    spk_res = run_speaker(data, models, out, n_trials=n_trials, p_target=p_target, seed=(std or StdOptions()).seed)
    write_report(spk_res, out, "speaker")
    _say(progress, "linear probes")
    probe_res = run_probes(data, models, test_size=probe_test_size, seed=(std or StdOptions()).seed)
    write_report(probe_res, out, "probes")
    figures = run_plots(data, [m for m in models if m.kind != MFCC_STATS], out, max_points=tsne_points,
                        max_classes=tsne_classes, progress=progress) if plots else {}
    table = final_table(std_res, spk_res, probe_res, models)
    summary = {
        "data": std_res["data"],
        "models": {m.name: {"kind": m.kind, "model": m.path, **({"notes": "; ".join(m.notes)} if m.notes else {})}
                   for m in models},
        "final": table,
        "reports": ["std.md", "speaker.md", "probes.md"],
        "figures": figures,
        "seconds": time.perf_counter() - t0,
    }
    write_report(summary, out, "summary")
    return summary
