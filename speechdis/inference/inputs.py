"""Extraction inputs: audio files, directories and Kaldi data dirs → :class:`Utterance` records; segment
tables (word_segments / CTM), sliding-window spans, and the summary of skipped inputs.

Moved out of :mod:`speechdis.inference.extract` (which re-exports it).
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment, read_word_segments
from speechdis.errors import AudioError, ConfigError, DataDirError
from speechdis.inference.model import Embedder

__all__ = [
    "AUDIO_EXTENSIONS", "Utterance", "Skipped", "find_audio_files", "collect_utterances", "data_dir_utterances",
    "load_segment_table", "window_spans", "describe_skipped", "ID_MODES",
]


AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
# How audio files given as inputs are named (extract --ids; see _file_ids).
ID_MODES = ("stem", "relpath")


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
    # The audio file of an input given as a file (not a data-dir entry): what Embedder.trim measures.
    audio_path: str | None = None


@dataclass(frozen=True)
class Skipped:
    """An input (file, utterance or segment) that produced no vector, and why."""

    item: str
    reason: str


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


def _file_ids(files: list[tuple[Path, Path]], notes: list[str] | None = None, ids: str = "stem") -> list[str]:
    """Ids for (file, root) pairs. ``ids="stem"``: the stem, or the path below the root when stems collide
    (parts joined by ``-``); ``ids="relpath"``: always the path below the root without its extension, as
    it is (``spk1/day2/utt.wav`` below ``audio/`` is ``spk1/day2/utt``), so ids do not depend on which
    other files are given. Either way, that id with its extension when two files differ only in their
    extension (``s.wav`` and ``s.flac`` become ``s.wav`` and ``s.flac``; a line in ``notes`` names them)."""
    if ids not in ID_MODES:
        raise ConfigError(f"ids must be one of {', '.join(ID_MODES)}, got {ids!r}")
    stems = [_clean_id(f.stem) for f, _ in files]
    counts = Counter(stems)
    out = []
    for (f, root), stem in zip(files, stems):
        if counts[stem] == 1 and ids == "stem":
            out.append(stem)
            continue
        try:
            rel = f.resolve().relative_to(root.resolve())
        except ValueError:
            rel = f.resolve()
        sep = "/" if ids == "relpath" else "-"
        out.append(_clean_id(sep.join(p for p in rel.with_suffix("").parts if p not in ("/", ""))))
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


def collect_utterances(embedder: Embedder, inputs: Sequence[str | os.PathLike], ids: str = "stem"
                       ) -> tuple[list[Utterance], list[str]]:
    """The utterances of ``inputs`` → (utterances, notes about how data dirs are read).

    ``ids``: how audio files are named (:func:`_file_ids`: ``stem`` or ``relpath``); data dirs keep theirs.
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
    for (f, _), utt in zip(files, _file_ids(files, notes, ids)):
        utts.append(Utterance(utt, "", str(f), lambda f=f, utt=utt: embedder.file_features(f, utt),
                              audio_path=str(f)))
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
        from speechdis.audio.io import WavEntryLoader, is_pipe_entry

        cfg = embedder.feature_config
        loader = WavEntryLoader(cfg.sample_rate, min_duration=cfg.min_duration,
                                allow_upsample=embedder.allow_upsample)

        def load(utt: str) -> np.ndarray:
            entry, start, end = data.audio_source(utt)
            if start is None and end is None and not is_pipe_entry(entry):  # a whole file: read in blocks
                return embedder.file_features(entry.strip(), utt)
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
