"""Embedding extraction for many inputs (``speechdis extract``): inputs → segments → vectors → files.

Inputs are audio files, directories (searched recursively for wav/flac/ogg) or Kaldi data dirs (a
directory holding ``wav.scp`` or ``feats.scp``). A data dir's ``feats.scp`` is used when its features
were made with the model's feature config; otherwise features are computed from ``wav.scp`` exactly
as :mod:`speechdis.inference.model` does for raw audio.

Segmentation (one of): the whole utterance; a ``word_segments`` table (``--word-segments``, or the
data dir's own); a CTM (``--ctm``, silences and unknown-word tokens dropped); sliding windows
(``--window``/``--hop``). Utterance ids of audio files are their file stems (made unique with
their parent directories when two files share a stem).

Results (:class:`EmbeddingSet`) go to ``.npz`` (``ids``, ``utts``, ``words``, ``speakers``,
``starts``, ``ends`` and one ``(N, dim)`` array per vector kind) and/or Kaldi ark/scp pairs
``<prefix>.<kind>.ark/.scp`` (one float vector per segment id). Unusable inputs are skipped with a
reason (:attr:`EmbeddingSet.skipped`); nothing usable at all is an error.

Grid job arrays (Kaldi style): ``extract(..., nj=N, job=K)`` embeds split K of N of the utterances only
(contiguous runs of whole speakers, :func:`~speechdis.data.datadir.job_splits`); :func:`save_job_part`
writes it beside ``--out`` as ``<out>.split<N>.<K>.npz`` with a ``.done`` marker, and
:func:`combine_job_parts` checks every split is there (for these inputs) and concatenates them in order.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment, read_word_segments, write_feats_scp
from speechdis.errors import AudioError, ConfigError, DataDirError, SpeechdisError
from speechdis.fileio import atomic_open
from speechdis.inference.model import Embedder

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
    "load_embeddings",
    "output_paths",
    "describe_skipped",
    "split_utterances",
    "job_part_paths",
    "save_job_part",
    "combine_job_parts",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
# Enough segments per model call to fill several batches without holding a corpus in memory.
_FLUSH = 1024


@dataclass
class Utterance:
    """One utterance to embed: ``load()`` gives its model-ready (T, D) features."""

    utt: str
    speaker: str
    source: str  # for messages: the file, or "<data dir>:<utt>"
    load: Callable[[], np.ndarray]
    # The data dir's word segments of this utterance; None where there is no such table (audio files,
    # data dirs without word_segments): then the whole utterance is the default segment.
    segments: list[WordSegment] | None = None


@dataclass(frozen=True)
class Skipped:
    """An input (file, utterance or segment) that produced no vector, and why."""

    item: str
    reason: str


@dataclass
class EmbeddingSet:
    """Vectors of N segments with their labels (``""`` / NaN where unknown)."""

    ids: list[str]
    utts: list[str]
    words: list[str]
    speakers: list[str]
    starts: np.ndarray
    ends: np.ndarray
    vectors: dict[str, np.ndarray]
    kind: str = ""
    model: str = ""
    model_sha256: str = ""  # of the model file: which model made the vectors, wherever that file is now
    skipped: list[Skipped] = field(default_factory=list)
    n_utterances: int = 0
    seconds: float = 0.0  # wall time of feature loading + embedding

    def __len__(self) -> int:
        return len(self.ids)

    def save_npz(self, path: str | os.PathLike) -> Path:
        """Write the set to ``path`` (``.npz``, string arrays: loads without pickle)."""
        path = Path(path)
        arrays = {"ids": np.array(self.ids, dtype=str), "utts": np.array(self.utts, dtype=str),
                  "words": np.array(self.words, dtype=str), "speakers": np.array(self.speakers, dtype=str),
                  "starts": np.asarray(self.starts, dtype=np.float64),
                  "ends": np.asarray(self.ends, dtype=np.float64),
                  "kind": np.array(self.kind), "model": np.array(self.model),
                  "model_sha256": np.array(self.model_sha256)}
        clash = set(arrays) & set(self.vectors)
        if clash:
            raise ValueError(f"vector names clash with label arrays: {sorted(clash)}")
        arrays.update({k: np.asarray(v, dtype=np.float32) for k, v in self.vectors.items()})
        with atomic_open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    def save_ark(self, prefix: str | os.PathLike) -> list[Path]:
        """Write ``<prefix>.<kind>.ark`` + ``.scp`` for each vector kind (scp paths absolute)."""
        from speechdis.data.ark import write_ark

        if len(set(self.ids)) != len(self.ids):
            dup = next(i for i, c in Counter(self.ids).items() if c > 1)
            raise DataDirError(f"segment id '{dup}' occurs twice; ark/scp need unique ids")
        written = []
        prefix = Path(prefix).resolve()
        for key, mat in self.vectors.items():
            ark = prefix.parent / f"{prefix.name}.{key}.ark"
            scp = prefix.parent / f"{prefix.name}.{key}.scp"
            rows = ((i, np.asarray(mat[n], dtype=np.float32)) for n, i in enumerate(self.ids))
            write_feats_scp(scp, write_ark(str(ark), rows, str(ark)))
            written += [ark, scp]
        return written

    def summary(self) -> str:
        """One line: what was embedded."""
        dims = ", ".join(f"{k} {v.shape[1]}" for k, v in self.vectors.items())
        return (f"{len(self)} segment(s) from {self.n_utterances} utterance(s), {self.kind} model ({dims}), "
                f"{self.seconds:.1f}s")


def load_embeddings(path: str | os.PathLike, allow_empty: bool = False) -> EmbeddingSet:
    """Read an ``.npz`` written by :meth:`EmbeddingSet.save_npz`, checked (:mod:`speechdis.inference.vector_files`;
    ``allow_empty``: a set of no segments is fine)."""
    from speechdis.inference.vector_files import check_vector_arrays, read_npz

    path = Path(path)
    data = read_npz(path)
    missing = [k for k in ("ids", "utts", "words", "speakers", "starts", "ends", "kind", "model") if k not in data]
    if missing:
        raise DataDirError(f"{path}: not a speechdis embeddings file (missing {', '.join(missing)})")
    ids, vectors = check_vector_arrays(data, path, allow_empty)
    return EmbeddingSet(
        ids=ids, utts=data["utts"].tolist(), words=data["words"].tolist(),
        speakers=data["speakers"].tolist(), starts=data["starts"], ends=data["ends"],
        vectors=vectors, kind=str(data["kind"]), model=str(data["model"]),
        model_sha256=str(data["model_sha256"]) if "model_sha256" in data else "",
        n_utterances=len(set(data["utts"].tolist())))


def output_paths(out: str | os.PathLike, fmt: str) -> tuple[Path | None, Path | None]:
    """(npz path, ark prefix) for ``--out OUT --format npz|ark|both``: ``x.npz`` → ``x.npz``, ``x``."""
    if fmt not in ("npz", "ark", "both"):
        raise ValueError(f"format must be npz, ark or both, not {fmt!r}")
    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".npz" else out
    npz = stem.with_name(stem.name + ".npz") if fmt in ("npz", "both") else None
    ark = stem if fmt in ("ark", "both") else None
    return npz, ark


def check_output_dir(out: str | os.PathLike) -> None:
    """Raise ConfigError unless files can be written beside ``--out`` (checked before any work; the
    folder is created when missing)."""
    out = Path(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create folder {parent} ({e.strerror or e})") from None
    if not parent.is_dir():
        raise ConfigError(f"--out {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: folder {parent} is not writable")


# ------------------------------------------------------------------------------------------------ inputs
def find_audio_files(directory: str | os.PathLike) -> list[Path]:
    """Audio files (wav/flac/ogg, any case) under ``directory``, recursively, sorted."""
    d = Path(directory)
    return sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def _is_data_dir(d: Path) -> bool:
    return (d / "wav.scp").is_file() or (d / "feats.scp").is_file()


def _clean_id(text: str) -> str:
    # Kaldi ids cannot hold whitespace.
    return re.sub(r"\s+", "_", text.strip()) or "_"


def _file_ids(files: list[tuple[Path, Path]], notes: list[str] | None = None) -> list[str]:
    """Ids for (file, root) pairs: the stem, or the path below the root when stems collide, and that path
    with its extension when two files differ only in their extension (``s.wav`` and ``s.flac`` become
    ``s.wav`` and ``s.flac``; a line in ``notes`` names them)."""
    stems = [_clean_id(f.stem) for f, _ in files]
    counts = Counter(stems)
    out = []
    for (f, root), stem in zip(files, stems):
        if counts[stem] == 1:
            out.append(stem)
            continue
        try:
            rel = f.resolve().relative_to(root.resolve())
        except ValueError:
            rel = f.resolve()
        out.append(_clean_id("-".join(p for p in rel.with_suffix("").parts if p not in ("/", ""))))
    groups: dict[str, list[int]] = {}
    for k, utt in enumerate(out):
        groups.setdefault(utt, []).append(k)
    for utt, ks in groups.items():
        new = [f"{utt}{_clean_id(files[k][0].suffix)}" for k in ks]
        if len(ks) < 2 or len(set(new)) < len(new):
            continue  # unique, or the same file twice (which the caller refuses, naming both)
        for k, n in zip(ks, new):
            out[k] = n
        if notes is not None:
            notes.append(f"{' and '.join(str(files[k][0]) for k in ks)} would share the id '{utt}'; kept both, "
                         f"as {' and '.join(repr(n) for n in new)} (rename one to choose the ids)")
    return out


def collect_utterances(embedder: Embedder, inputs: Sequence[str | os.PathLike]
                       ) -> tuple[list[Utterance], list[str]]:
    """The utterances of ``inputs`` → (utterances, notes about how data dirs are read).

    Raises for an input that does not exist or a directory without audio; reads nothing yet.
    """
    if not inputs:
        raise AudioError("no inputs given")
    files: list[tuple[Path, Path]] = []
    utts: list[Utterance] = []
    notes: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise AudioError(f"{p}: no such file or directory")
        if p.is_dir() and _is_data_dir(p):
            u, note = data_dir_utterances(embedder, p)
            utts += u
            notes += note
        elif p.is_dir():
            found = find_audio_files(p)
            if not found:
                raise AudioError(f"{p}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this directory "
                                 f"or below, and it is not a data dir (no wav.scp / feats.scp)")
            files += [(f, p) for f in found]
        else:
            files.append((p, p.parent))
    for (f, _), utt in zip(files, _file_ids(files, notes)):
        utts.append(Utterance(utt, "", str(f), lambda f=f, utt=utt: embedder.file_features(f, utt)))
    seen: dict[str, str] = {}
    for u in utts:
        if u.utt in seen:
            raise DataDirError(f"utterance id '{u.utt}' comes from two inputs ({seen[u.utt]} and {u.source}); "
                               f"give each file once, or rename one so that their ids differ")
        seen[u.utt] = u.source
    return utts, notes


def data_dir_utterances(embedder: Embedder, d: Path) -> tuple[list[Utterance], list[str]]:
    """Utterances of a data dir (with their word segments), read from feats.scp when it matches the
    model's features, else computed from wav.scp; and notes on which."""
    from speechdis.data.feats import FeatsReader

    data = DataDir.load(d) if (d / "utt2spk").exists() else None
    notes: list[str] = []
    reader = None
    if (d / "feats.scp").is_file():
        reader = FeatsReader(d)
        if reader.config is not None and reader.config == embedder.feature_config.resolved():
            pass
        else:
            rc = reader.config
            have = "unknown" if rc is None else f"{rc.kind}/{rc.dim}/cmvn {rc.cmvn}"
            notes.append(f"{d}: its features ({have}) differ from the model's "
                         f"({embedder.feature_config.kind}/{embedder.feature_config.dim}/cmvn "
                         f"{embedder.feature_config.cmvn}); computing features from wav.scp instead")
            reader = None
    if reader is None and (data is None or not data.wav_scp):
        raise DataDirError(f"{d}: no usable features (feats.scp missing or made with another config) "
                           f"and no wav.scp to compute them from")
    utt2spk = data.utt2spk if data is not None else {}
    out: list[Utterance] = []
    if reader is not None:
        for utt in reader.utts:
            out.append(Utterance(utt, utt2spk.get(utt, ""), f"{d}:{utt}", lambda utt=utt: reader[utt]))
        missing = [u for u in (data.utts if data is not None else []) if u not in reader]
        if missing:
            notes.append(f"{d}: {len(missing)} utterance(s) have no features (see feats_skipped.txt), "
                         f"e.g. {missing[0]}")
    else:
        from speechdis.audio.io import WavEntryLoader

        cfg = embedder.feature_config
        loader = WavEntryLoader(cfg.sample_rate, min_duration=cfg.min_duration,
                                allow_upsample=embedder.allow_upsample)

        def load(utt: str) -> np.ndarray:
            entry, start, end = data.audio_source(utt)
            return embedder.features(loader.load(entry, start=start, end=end), cfg.sample_rate, utt)

        for utt in data.utts:
            out.append(Utterance(utt, utt2spk.get(utt, ""), f"{d}:{utt}", lambda utt=utt: load(utt)))
    if data is not None and data.word_segments:
        by_utt = data.word_segments_by_utt()
        for u in out:
            u.segments = by_utt.get(u.utt, [])
    return out, notes


def load_segment_table(word_segments: str | os.PathLike | None = None, ctm: str | os.PathLike | None = None
                       ) -> dict[str, list[WordSegment]]:
    """Word segments by utterance from a ``word_segments`` file or a CTM (one of them)."""
    if (word_segments is None) == (ctm is None):
        raise ValueError("give exactly one of word_segments and ctm")
    if word_segments is not None:
        if not Path(word_segments).is_file():
            raise DataDirError(f"{word_segments}: no such word_segments file")
        rows = read_word_segments(word_segments)
    else:
        from speechdis.data.alignments import alignments_to_word_segments, read_ctm

        if not Path(ctm).is_file():
            raise DataDirError(f"{ctm}: no such CTM file")
        rows, _ = alignments_to_word_segments(read_ctm(ctm))
    out: dict[str, list[WordSegment]] = {}
    for s in rows:
        out.setdefault(s.utt, []).append(s)
    return out


def window_spans(num_frames: int, window: float, hop: float, frame_shift: float, frame_length: float
                 ) -> list[tuple[float, float]]:
    """Sliding windows ``(start, end)`` seconds over an utterance of ``num_frames`` frames.

    Windows start every ``hop`` seconds; the last one is moved back to end at the utterance end so
    the tail is covered; an utterance shorter than ``window`` is one window.
    """
    if window <= 0 or hop <= 0:
        raise ValueError("window and hop must be > 0")
    duration = (num_frames - 1) * frame_shift + frame_length
    if duration <= window:
        return [(0.0, duration)]
    spans = []
    start = 0.0
    while start + window <= duration + 1e-9:
        spans.append((round(start, 6), round(start + window, 6)))
        start += hop
    if spans[-1][1] < duration - 1e-6:
        spans.append((round(duration - window, 6), round(duration, 6)))
    return spans


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
) -> EmbeddingSet:
    """Embed the segments of ``inputs`` (see the module doc for inputs and segmentation).

    ``progress(n)`` is called as utterances are done; ``on_start(total)`` first, with the number of
    utterances. Unreadable / too-short audio and segments under ``min_frames`` frames are skipped and
    listed in the result; an :class:`AudioError` is raised only when nothing could be embedded.
    ``job=K`` embeds only split K of ``nj`` (:func:`split_utterances`). ``workers`` > 0 reads audio and
    computes features in that many (forked) processes while this one cuts and embeds; the result is the same.
    """
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    t0 = time.perf_counter()
    if sum(x is not None for x in (word_segments, ctm, window)) > 1:
        raise ValueError("use only one of word_segments, ctm and window")
    if (window is None) != (hop is None):
        raise ValueError("window and hop go together")
    utts, notes = collect_utterances(embedder, inputs)
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
    few utterances ahead (bounded, so features never pile up faster than they are embedded)."""
    global _FORKED
    if workers <= 0 or len(utts) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(_load_one, utts)
        return
    _FORKED = utts
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_init) as pool:
            ahead = 4 * workers
            pending = deque(pool.apply_async(_load_forked, (i,)) for i in range(min(ahead, len(utts))))
            nxt = len(pending)
            while pending:
                res = pending.popleft().get()
                if nxt < len(utts):
                    pending.append(pool.apply_async(_load_forked, (nxt,)))
                    nxt += 1
                yield res
    finally:
        _FORKED = []


# ------------------------------------------------------------------------------------ grid job arrays
def split_utterances(utts: list[Utterance], nj: int) -> list[list[Utterance]]:
    """The utterances cut into at most ``nj`` contiguous jobs of whole speakers (per utterance when there are
    fewer speakers than jobs; :func:`~speechdis.data.datadir.job_splits`), in input order."""
    from speechdis.data.datadir import job_splits

    if nj < 1:
        raise ConfigError(f"nj must be >= 1, got {nj}")
    keys = [str(i) for i in range(len(utts))]
    return [[utts[int(k)] for k in split] for split in job_splits(keys, [u.speaker for u in utts], nj)]


def job_part_paths(out: str | os.PathLike, nj: int, job: int) -> tuple[Path, Path]:
    """(npz, done marker) of split ``job`` of ``nj`` for ``--out out``: ``<out>.split<nj>.<job>.npz/.done``."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".npz" else out
    base = stem.with_name(f"{stem.name}.split{nj}.{job}")
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".done")


def _utts_hash(utts: list[Utterance]) -> str:
    return hashlib.sha1("\n".join(f"{u.utt}\t{u.source}" for u in utts).encode()).hexdigest()


def save_job_part(res: EmbeddingSet, embedder: Embedder, inputs: Sequence[str | os.PathLike],
                  out: str | os.PathLike, nj: int, job: int, options: dict | None = None) -> Path:
    """Write split ``job``'s result (from ``extract(..., nj=nj, job=job)``) and then its done marker: the
    utterances it covered, the model (sha256 of its file), the extraction ``options`` (segments, windows,
    ...), the part file's own sha256 and its skips. Returns the npz path."""
    from speechdis.fileio import file_sha256

    npz, done = job_part_paths(out, nj, job)
    utts, _ = collect_utterances(embedder, inputs)
    splits = split_utterances(utts, nj)
    part = splits[job - 1] if job <= len(splits) else []
    res.save_npz(npz)
    with atomic_open(done, "w", encoding="utf-8") as f:
        json.dump({"nj": nj, "job": job, "utts_hash": _utts_hash(part), "model_sha256": embedder.sha256,
                   "model": str(embedder.path), "options": _part_options(embedder, options),
                   "part_sha256": file_sha256(npz), "n_utterances": res.n_utterances,
                   "seconds": res.seconds, "skipped": [[s.item, s.reason] for s in res.skipped]}, f)
    return npz


def _part_options(embedder: Embedder, options: dict | None) -> dict:
    # JSON-plain, so a marker read back compares equal to what this run would write.
    return json.loads(json.dumps({**(options or {}), "vectors": embedder.out_keys}, default=str))


def _part_problem(rec: dict, npz: Path, part: list[Utterance], embedder: Embedder, options: dict) -> str | None:
    """Why a finished job's part cannot be combined into this run's output (None: it can)."""
    from speechdis.fileio import file_sha256

    if rec.get("utts_hash") != _utts_hash(part):
        return "made for other inputs"
    if not npz.is_file():
        return f"{npz.name} is missing"
    if "model_sha256" not in rec:
        return "made by an older speechdis that did not record its model"
    if rec["model_sha256"] != embedder.sha256:
        return f"made by another model ({rec.get('model', '?')}, not {embedder.path}: the files differ)"
    if options is not None and rec.get("options") != _part_options(embedder, options):
        return f"made with other options ({rec.get('options')} here {_part_options(embedder, options)})"
    if file_sha256(npz) != rec.get("part_sha256"):
        return f"{npz.name} is not the file the job wrote (changed, replaced or truncated since)"
    return None


def remove_job_parts(out: str | os.PathLike, nj: int) -> list[Path]:
    """Delete the parts and done markers of ``--nj nj`` jobs for ``--out out`` (after a successful combine)."""
    removed = []
    for k in range(1, nj + 1):
        for path in job_part_paths(out, nj, k):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def combine_job_parts(embedder: Embedder, inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
                      nj: int, options: dict | None = None) -> EmbeddingSet:
    """The splits of ``extract(..., nj=nj, job=K)`` for K = 1..nj, concatenated in order (the same rows as one
    ``extract`` call). Raises :class:`~speechdis.data.featjobs.IncompleteJobsError` naming the jobs whose
    part is missing, or was made for other inputs, by another model (sha256 of the file) or with other
    ``options`` (as given to :func:`save_job_part`; None: not compared), or whose part file is not the one
    the job wrote (a copied-over or truncated npz);
    :class:`AudioError` when nothing at all was embedded."""
    from speechdis.data.featjobs import IncompleteJobsError

    utts, _ = collect_utterances(embedder, inputs)
    splits = split_utterances(utts, nj)
    missing, recs, problems = [], [], []
    for k in range(1, nj + 1):
        npz, done = job_part_paths(out, nj, k)
        part = splits[k - 1] if k <= len(splits) else []
        try:
            rec = json.loads(done.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            missing.append(k)
            continue
        problem = _part_problem(rec, npz, part, embedder, options) if isinstance(rec, dict) else "unreadable"
        if problem is None:
            recs.append((npz, rec))
        else:
            missing.append(k)
            problems.append(f"job {k} ({npz.name}): {problem}")
    if missing:
        npz0, _ = job_part_paths(out, nj, missing[0])
        why = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "") if problems else (
            f"no valid {npz0.name.replace(f'.{missing[0]}.', '.JOB.')} and .done for these inputs")
        raise IncompleteJobsError(
            f"--out {out}: cannot combine: job(s) {' '.join(map(str, missing))} of {nj} not complete ({why}); "
            f"rerun them with --nj {nj} --job K, then --combine", missing)
    sets = [(load_embeddings(npz, allow_empty=True), rec) for npz, rec in recs]
    skipped: list[Skipped] = []
    seen_notes: set[str] = set()
    for _, rec in sets:
        for item, reason in rec["skipped"]:
            if item == "(note)":  # every job notes the same thing about the inputs: once
                if reason in seen_notes:
                    continue
                seen_notes.add(reason)
            skipped.append(Skipped(item, reason))
    full = [es for es, _ in sets if len(es)]
    if not full:
        reasons = [s for s in skipped if s.item != "(note)"][:3]
        detail = "; ".join(f"{s.item}: {s.reason}" for s in reasons) or "no segments"
        raise AudioError(f"nothing could be embedded from {len(utts)} utterance(s): {detail}")
    cat = lambda attr: [x for es in full for x in getattr(es, attr)]  # noqa: E731
    return EmbeddingSet(
        ids=cat("ids"), utts=cat("utts"), words=cat("words"), speakers=cat("speakers"),
        starts=np.concatenate([es.starts for es in full]), ends=np.concatenate([es.ends for es in full]),
        vectors={k: np.concatenate([es.vectors[k] for es in full]) for k in full[0].vectors},
        kind=full[0].kind, model=full[0].model, model_sha256=full[0].model_sha256, skipped=skipped,
        n_utterances=sum(int(rec["n_utterances"]) for _, rec in sets), seconds=sum(rec["seconds"] for _, rec in sets))


def describe_skipped(skipped: Iterable[Skipped], limit: int = 20) -> list[str]:
    """Lines for a skip summary: counts by reason kind, then up to ``limit`` items."""
    skipped = list(skipped)
    notes = [s for s in skipped if s.item == "(note)"]
    real = [s for s in skipped if s.item != "(note)"]
    lines = [f"note: {s.reason}" for s in notes]
    if real:
        kinds = Counter(_reason_kind(s.reason) for s in real)
        lines.append(f"skipped {len(real)} input(s): " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
        lines += [f"  {s.item}: {_without_item(s.item, s.reason)}" for s in real[:limit]]
        if len(real) > limit:
            lines.append(f"  ... and {len(real) - limit} more")
    return lines


def _without_item(item: str, reason: str) -> str:
    """``reason`` without a leading ``ITEM: `` (audio errors name their file, which the line already shows)."""
    for prefix in (item, item.split(" [", 1)[0]):
        if prefix and reason.startswith(f"{prefix}: "):
            return reason[len(prefix) + 2:]
    return reason


def _reason_kind(reason: str) -> str:
    r = reason.lower()
    if "too short" in r:
        return "too short"
    if "cannot read" in r or "corrupt" in r or "cannot decode" in r:
        return "unreadable"
    if "no such" in r:
        return "missing"
    if "empty" in r:
        return "empty"
    if "no segments" in r or "not among the inputs" in r:
        return "without segments"
    return "other"
