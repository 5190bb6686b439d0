"""Embedding extraction for many inputs (``speechdis extract``): inputs → segments → vectors → files.

Inputs are audio files, directories (searched recursively for wav/flac/ogg) or Kaldi data dirs (a
directory holding ``wav.scp`` or ``feats.scp``). A data dir's ``feats.scp`` is used when its features
were made with the model's feature config; otherwise features are computed from ``wav.scp`` exactly
as :mod:`speechdis.inference.model` does for raw audio.

Segmentation (one of): the whole utterance (an audio file energy-trimmed as ``prepare`` trims clips when
the embedder trims, :attr:`~speechdis.inference.model.Embedder.trim`); a ``word_segments`` table
(``--word-segments``, or the data dir's own); a CTM (``--ctm``, silences and unknown-word tokens dropped);
sliding windows (``--window``/``--hop``). Utterance ids of audio files are their file stems (made unique with
their parent directories when two files share a stem), or with ``ids="relpath"`` always their path below the
input directory without extension (``spk1/day2/utt``). A segment longer than the model's training crop is
embedded as pooled windows (:meth:`~speechdis.inference.model.Embedder.embed_features`), never cut;
:func:`~speechdis.inference.grouping.group_vectors` turns the rows into one vector per file or per speaker.

Results (:class:`EmbeddingSet`) go to ``.npz`` (``ids``, ``utts``, ``words``, ``speakers``,
``starts``, ``ends`` and one ``(N, dim)`` array per vector kind) and/or Kaldi ark/scp pairs
``<prefix>.<kind>.ark/.scp`` (one float vector per segment id). Unusable inputs are skipped with a
reason (:attr:`EmbeddingSet.skipped`); nothing usable at all is an error.

Grid job arrays (Kaldi style): ``extract(..., nj=N, job=K)`` embeds split K of N of the utterances only
(contiguous runs of whole speakers, :func:`~speechdis.data.datadir.job_splits`); :func:`save_job_part`
writes it beside ``--out`` as ``<out>.split<N>.<K>.npz`` with a ``.done`` marker, and
:func:`combine_job_parts` checks every split is there (for these inputs) and concatenates them in order.

Where the parts live (all re-exported here): inputs in :mod:`speechdis.inference.inputs`, the archive type and
its files in :mod:`speechdis.inference.archive`, grid parts in :mod:`speechdis.inference.grid`; this module
keeps :func:`extract` and its feature-loading worker pool.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Iterator, Sequence

import numpy as np

from speechdis.data.tables import WordSegment
from speechdis.errors import AudioError, ConfigError, SpeechdisError
from speechdis.inference.archive import EmbeddingSet, check_output_dir, load_archive, output_paths
from speechdis.inference.grid import (
    combine_job_parts,
    job_part_paths,
    remove_job_parts,
    save_job_part,
    split_utterances,
)
from speechdis.inference.inputs import (
    AUDIO_EXTENSIONS,
    Skipped,
    Utterance,
    collect_utterances,
    data_dir_utterances,
    describe_skipped,
    find_audio_files,
    load_segment_table,
    window_spans,
)
from speechdis.inference.model import Embedder
from speechdis.procpool import mp_context, ordered_map

__all__ = [
    "AUDIO_EXTENSIONS",
    "Utterance",
    "Skipped",
    "EmbeddingSet",
    "find_audio_files",
    "collect_utterances",
    "data_dir_utterances",
    "load_segment_table",
    "window_spans",
    "extract",
    "load_archive",
    "output_paths",
    "describe_skipped",
    "split_utterances",
    "job_part_paths",
    "save_job_part",
    "combine_job_parts",
    "check_output_dir",
    "remove_job_parts",
]

# Enough segments per model call to fill several batches without holding a corpus in memory.
_FLUSH = 1024


# -------------------------------------------------------------------------------------------- extraction
def _segments_of(u: Utterance, feats: np.ndarray, embedder: Embedder, table: list[WordSegment] | None,
                 window: float | None, hop: float | None) -> list[tuple[str, float, float, str]]:
    """(seg_id, start, end, word) of one utterance: ``table`` rows, windows, or the whole utterance."""
    cfg = embedder.feature_config
    shift, length = cfg.frame_shift_ms / 1000.0, cfg.frame_length_ms / 1000.0
    if table is not None:
        return [(s.seg_id, s.start, s.end, s.word) for s in sorted(table, key=lambda s: (s.start, s.end))]
    if window is not None:
        return [(f"{u.utt}_w{k:04d}", a, b, "")
                for k, (a, b) in enumerate(window_spans(feats.shape[0], window, hop, shift, length))]
    if embedder.trim and u.audio_path is not None:  # as prepare trims clips (Embedder.trim)
        start, end = embedder.trim_span(u.audio_path)
        return [(u.utt, start, end, "")]
    return [(u.utt, 0.0, round((feats.shape[0] - 1) * shift + length, 6), "")]


def extract(
    embedder: Embedder,
    inputs: Sequence[str | os.PathLike],
    *,
    word_segments: str | os.PathLike | None = None,
    ctm: str | os.PathLike | None = None,
    window: float | None = None,
    hop: float | None = None,
    min_frames: int = 3,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    nj: int = 1,
    job: int | None = None,
    workers: int = 0,
    ids: str = "stem",
) -> EmbeddingSet:
    """Embed the segments of ``inputs`` (see the module doc for inputs and segmentation).

    ``progress(n)`` is called as utterances are done; ``on_start(total)`` first, with the number of
    utterances. Unreadable / too-short audio and segments under ``min_frames`` frames are skipped and
    listed in the result; an :class:`AudioError` is raised only when nothing could be embedded.
    ``job=K`` embeds only split K of ``nj`` (:func:`split_utterances`). ``workers`` > 0 reads audio and
    computes features in that many (forked) processes while this one cuts and embeds; the result is the same.
    ``ids``: how audio files are named, ``stem`` or ``relpath`` (:func:`collect_utterances`). Segments longer
    than the model's crop are pooled windows (:meth:`Embedder.embed_features`, :attr:`Embedder.pool`); for
    one vector per file or per speaker see :func:`speechdis.inference.grouping.group_vectors`.
    """
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    t0 = time.perf_counter()
    if sum(x is not None for x in (word_segments, ctm, window)) > 1:
        raise ValueError("use only one of word_segments, ctm and window")
    if (window is None) != (hop is None):
        raise ValueError("window and hop go together")
    utts, notes = collect_utterances(embedder, inputs, ids)
    if job is not None:
        splits = split_utterances(utts, nj)
        if not 1 <= job <= nj:
            raise ConfigError(f"job must be in 1..{nj} (nj), got {job}")
        utts = splits[job - 1] if job <= len(splits) else []
    skipped = [Skipped("(note)", n) for n in notes]
    given: dict[str, list[WordSegment]] | None = None  # a --word-segments / --ctm table overrides all
    source = str(word_segments or ctm or "")
    if word_segments is not None or ctm is not None:
        given = load_segment_table(word_segments, ctm)
        unknown = sorted(set(given) - {u.utt for u in utts})
        if unknown:
            skipped.append(Skipped(source, f"segments of {len(unknown)} utterance(s) not among the inputs, "
                                           f"e.g. '{unknown[0]}'"))
    if on_start is not None:
        on_start(len(utts))

    rows: list[tuple[str, str, str, str, float, float]] = []  # id, utt, word, speaker, start, end
    pending: list[np.ndarray] = []
    parts: list[dict[str, np.ndarray]] = []
    n_utts = 0

    def flush() -> None:
        if pending:
            parts.append(embedder.embed_features(pending))
            pending.clear()

    # Segments: the given table; else windows; else the data dir's word segments; else the whole.
    tables = [given.get(u.utt, []) if given is not None else (None if window is not None else u.segments)
              for u in utts]
    loaded = _load_features([u for u, t in zip(utts, tables) if t is None or t], workers)
    for u, table in zip(utts, tables):
        if table is not None and not table:
            where = source if given is not None else "the data dir's word_segments"
            skipped.append(Skipped(u.source, f"no segments for '{u.utt}' in {where}"))
            if progress:
                progress(1)
            continue
        feats, error = next(loaded)
        if feats is None:
            skipped.append(Skipped(u.source, error))
            if progress:
                progress(1)
            continue
        produced = 0
        for seg_id, start, end, word in _segments_of(u, feats, embedder, table, window, hop):
            try:
                (seg,) = embedder.cut(feats, [(start, end)])
            except SpeechdisError as e:
                skipped.append(Skipped(f"{u.source} [{seg_id}]", str(e)))
                continue
            if seg.shape[0] < min_frames:
                skipped.append(Skipped(f"{u.source} [{seg_id}]", f"too short: {seg.shape[0]} frame(s) < "
                                                                 f"{min_frames} ({start:.3f}-{end:.3f}s)"))
                continue
            rows.append((seg_id, u.utt, word, u.speaker, start, end))
            pending.append(seg)
            produced += 1
        n_utts += produced > 0
        if len(pending) >= _FLUSH:
            flush()
        if progress:
            progress(1)
    flush()
    if not rows and job is not None:  # a split may hold only unusable inputs; the combine reports them
        return EmbeddingSet(ids=[], utts=[], words=[], speakers=[], starts=np.zeros(0), ends=np.zeros(0),
                            vectors={k: np.zeros((0, 0), dtype=np.float32) for k in embedder.out_keys},
                            kind=embedder.kind, model=str(embedder.path), model_sha256=embedder.sha256,
                            skipped=skipped, seconds=time.perf_counter() - t0)
    if not rows:
        reasons = [s for s in skipped if s.item != "(note)"][:3]
        detail = "; ".join(f"{s.item}: {s.reason}" for s in reasons) or "no segments"
        raise AudioError(f"nothing could be embedded from {len(utts)} utterance(s): {detail}")
    vectors = {k: np.concatenate([p[k] for p in parts]) for k in embedder.out_keys}
    return EmbeddingSet(
        ids=[r[0] for r in rows], utts=[r[1] for r in rows], words=[r[2] for r in rows],
        speakers=[r[3] for r in rows], starts=np.array([r[4] for r in rows], dtype=np.float64),
        ends=np.array([r[5] for r in rows], dtype=np.float64), vectors=vectors, kind=embedder.kind,
        model=str(embedder.path), model_sha256=embedder.sha256, skipped=skipped, n_utterances=n_utts,
        seconds=time.perf_counter() - t0)


# Utterances of the running extract(), for its forked feature workers (inherited at fork, never pickled: their
# load() closures hold readers and the embedder).
_FORKED: list[Utterance] = []


def _load_one(u: Utterance) -> tuple[np.ndarray | None, str | None]:
    """(features, None) or (None, why not) of one utterance; other errors propagate."""
    try:
        return u.load(), None
    except SpeechdisError as e:
        return None, str(e)


def _load_forked(i: int) -> tuple[np.ndarray | None, str | None]:
    return _load_one(_FORKED[i])


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # the workers are the parallelism; a thread pool each would oversubscribe


def _load_features(utts: list[Utterance], workers: int) -> Iterator[tuple[np.ndarray | None, str | None]]:
    """:func:`_load_one` of each utterance in order: in this process, or in ``workers`` forked processes a
    few utterances ahead (bounded, so features never pile up faster than they are embedded). A worker that
    dies raises :class:`~speechdis.errors.WorkerError` naming the utterance (:mod:`speechdis.procpool`)."""
    global _FORKED
    ctx = mp_context(require_fork=True)
    if workers <= 0 or len(utts) < 2 or ctx is None:
        yield from map(_load_one, utts)
        return
    _FORKED = utts
    try:
        yield from ordered_map(_load_forked, len(utts), workers, initializer=_worker_init, ctx=ctx,
                               name=lambda i: utts[i].source)
    finally:
        _FORKED = []
