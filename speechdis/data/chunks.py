"""Fixed-length chunks of whole utterances as ``word_segments`` (``speechdis prepare chunks``), for speaker
verification on continuous speech: speaker EER on 3 s chunks of sentences, or on whole utterances.

:func:`prepare_chunks` writes a data dir ``OUT`` that shares the input's tables: ``wav.scp``, ``segments``,
``text``, ``utt2spk``, ``spk2utt``, ``spk2gender``, ``utt2dur``, ``feats.scp``, ``cmvn.scp``,
``utt2num_frames`` and ``conf/feats.yaml`` are copied byte for byte (so ``feats.scp`` points at the same
arks and no features are recomputed), and only ``word_segments`` is new:

- chunks (default): consecutive, non-overlapping spans of ``seconds`` from the start of each utterance,
  ids ``<utt>_c0000``, ``<utt>_c0001``, ...; the last, shorter span is kept when it lasts at least
  ``min_seconds`` (default half a chunk), so an utterance shorter than ``seconds`` gives one chunk if it is
  long enough;
- ``whole=True``: one segment ``<utt>_whole`` per utterance, from 0 to its end.

Every segment's word is the fixed token :data:`CHUNK_LABEL` (``<chunk>``): these segments are for speaker
tasks, not word tasks. Utterances with no segment at all (shorter than ``min_seconds``) are counted in the
report and listed, with their durations, in ``OUT/chunks_skipped.txt``; dropped tails are counted too.

Durations come, per utterance, from the first of: ``utt2dur``; ``utt2num_frames`` with the frame shift and
length of ``conf/feats.yaml`` (Kaldi's 10 ms / 25 ms when the dir has none), taking ``(n - 1) * shift +
length``, the shortest audio that gives n frames; ``segments`` (when its end is not -1); the audio file's
header. A ``wav.scp`` entry that is a shell command has no header to read: give ``utt2dur`` (or features).
"""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from speechdis.audio.features import FeatureConfig, read_stored_feature_config
from speechdis.audio.io import audio_info, is_pipe_entry
from speechdis.data.datadir import DataDir
from speechdis.data.feats import FEATS_CONFIG
from speechdis.data.tables import WordSegment, format_time, write_word_segments
from speechdis.data.validate import validate_data_dir
from speechdis.errors import DataDirError
from speechdis.fileio import atomic_open

__all__ = ["CHUNK_LABEL", "SKIPPED_CHUNKS", "ChunkReport", "chunk_spans", "utterance_durations", "prepare_chunks"]

CHUNK_LABEL = "<chunk>"
SKIPPED_CHUNKS = "chunks_skipped.txt"

# Tables shared with the input data dir, copied as they are (word_segments is the one table rewritten).
_SHARED = ("wav.scp", "segments", "text", "utt2spk", "spk2utt", "spk2gender", "utt2dur", "feats.scp", "cmvn.scp",
           "utt2num_frames", FEATS_CONFIG)
_EPS = 1e-6  # seconds: float slack when dividing a duration into chunks


@dataclass
class ChunkReport:
    """What :func:`prepare_chunks` wrote and left out."""

    data_dir: Path
    out: Path
    seconds: float | None  # None: whole utterances
    min_seconds: float
    utterances: int = 0
    segments: int = 0
    speech_seconds: float = 0.0  # total length of the segments written
    skipped: list[tuple[str, float]] = field(default_factory=list)  # (utt, duration) with no segment
    tails_dropped: int = 0  # utterances whose last, shorter span was under min_seconds
    tail_seconds_dropped: float = 0.0
    duration_sources: dict[str, int] = field(default_factory=dict)  # where the durations came from

    def summary(self, max_items: int = 5) -> str:
        """Human-readable lines: segments written, where durations came from, every kind of skip."""
        what = "whole utterances" if self.seconds is None else f"{self.seconds:g} s chunks"
        sources = ", ".join(f"{n} from {s}" for s, n in self.duration_sources.items())
        lines = [f"{self.data_dir} -> {self.out}: {self.segments} segments ({what}, label {CHUNK_LABEL}, "
                 f"{self.speech_seconds / 60:.1f} min) of {self.utterances} utterances",
                 f"  durations: {sources}"]
        if self.tails_dropped:
            lines.append(f"  dropped {self.tails_dropped} last piece(s) shorter than {self.min_seconds:g} s "
                         f"({self.tail_seconds_dropped:.1f} s in all)")
        if self.skipped:
            shown = ", ".join(f"{u} ({d:.2f} s)" for u, d in self.skipped[:max_items])
            more = f" ... (all in {self.out / SKIPPED_CHUNKS})" if len(self.skipped) > max_items else \
                f" (listed in {self.out / SKIPPED_CHUNKS})"
            lines.append(f"  skipped {len(self.skipped)} utterance(s) shorter than {self.min_seconds:g} s: "
                         f"{shown}{more}")
        return "\n".join(lines)


def chunk_spans(duration: float, seconds: float, min_seconds: float) -> list[tuple[float, float]]:
    """Consecutive non-overlapping ``(start, end)`` spans of ``seconds`` covering ``[0, duration)``; the last,
    shorter one only when it lasts at least ``min_seconds`` (and is not empty)."""
    if seconds <= 0:
        raise ValueError(f"chunk length must be positive, got {seconds}")
    full = max(0, math.floor(duration / seconds + _EPS))
    spans = [(k * seconds, (k + 1) * seconds) for k in range(full)]
    rest = duration - full * seconds
    if rest > _EPS and rest >= min_seconds - _EPS:
        spans.append((full * seconds, duration))
    return spans


def _frames_duration(n: int, cfg: FeatureConfig) -> float:
    # The shortest audio that gives n frames (snip-edges framing): the chunks never pass the real end.
    return ((n - 1) * cfg.frame_shift_ms + cfg.frame_length_ms) / 1000.0


def utterance_durations(d: DataDir) -> tuple[dict[str, float], dict[str, int]]:
    """``({utt: seconds}, {source: count})`` for every utterance of ``d`` (see the module doc for the order of
    the sources). Raises :class:`DataDirError` naming the utterance when none gives its duration."""
    if d.path is None:
        raise DataDirError("utterance_durations: the data dir has no path (load it with DataDir.load)")
    conf = d.path / FEATS_CONFIG
    cfg = read_stored_feature_config(conf) if conf.exists() else FeatureConfig()
    frames_source = f"utt2num_frames ({cfg.frame_shift_ms:g} ms shift, {cfg.frame_length_ms:g} ms frames" \
                    + ("" if conf.exists() else f"; no {FEATS_CONFIG}: Kaldi's defaults") + ")"
    durations: dict[str, float] = {}
    sources: dict[str, int] = {}
    for utt in d.utts:
        seg = d.segments.get(utt)
        if utt in d.utt2dur:
            dur, source = d.utt2dur[utt], "utt2dur"
        elif utt in d.utt2num_frames:
            dur, source = _frames_duration(d.utt2num_frames[utt], cfg), frames_source
        elif seg is not None and seg.end >= 0:
            dur, source = seg.end - seg.start, "segments"
        else:
            entry, start, _ = d.audio_source(utt)
            if is_pipe_entry(entry):
                raise DataDirError(f"{d.path}/wav.scp: '{seg.recording if seg else utt}' is a shell command, "
                                   f"whose duration has no header to read (utterance '{utt}'): add utt2dur or "
                                   f"run speechdis features {d.path} first")
            sr, n, _ = audio_info(entry)
            dur, source = n / sr - (start or 0.0), "audio headers"
        if not dur > 0:
            raise DataDirError(f"{d.path}: utterance '{utt}' has duration {dur:g} s ({source})")
        durations[utt] = dur
        sources[source] = sources.get(source, 0) + 1
    return durations, sources


def prepare_chunks(data_dir: str | os.PathLike, out: str | os.PathLike, seconds: float = 3.0, *,
                   min_seconds: float | None = None, whole: bool = False) -> ChunkReport:
    """Write ``out``: ``data_dir``'s tables and a ``word_segments`` of ``seconds``-long chunks of every
    utterance (or, with ``whole``, one segment per utterance); see the module doc. ``min_seconds`` defaults to
    half a chunk (chunks) or 0 (whole: every utterance). Returns the report."""
    src, out = Path(data_dir), Path(out)
    if out.resolve() == src.resolve():
        raise DataDirError(f"prepare chunks: output {out} is the input data dir (its word_segments would be lost)")
    if not whole and not seconds > 0:
        raise DataDirError(f"prepare chunks: --seconds must be positive, got {seconds:g}")
    if min_seconds is None:
        min_seconds = 0.0 if whole else seconds / 2
    if min_seconds < 0 or (not whole and min_seconds > seconds):
        raise DataDirError(f"prepare chunks: --min-seconds {min_seconds:g} must be in [0, "
                           f"{'inf' if whole else f'{seconds:g}'}]")
    validate_data_dir(src)
    d = DataDir.load(src)
    durations, sources = utterance_durations(d)
    report = ChunkReport(src, out, None if whole else seconds, min_seconds, utterances=len(durations),
                         duration_sources=sources)
    rows: list[WordSegment] = []
    for utt, dur in durations.items():
        if whole:
            spans = [(0.0, dur)] if dur >= min_seconds else []
        else:
            spans = chunk_spans(dur, seconds, min_seconds)
            tail = dur - len(spans) * seconds
            if spans and tail > _EPS:
                report.tails_dropped += 1
                report.tail_seconds_dropped += tail
        if not spans:
            report.skipped.append((utt, dur))
            continue
        for k, (start, end) in enumerate(spans):
            rows.append(WordSegment(f"{utt}_whole" if whole else f"{utt}_c{k:04d}", utt, start, end, CHUNK_LABEL))
            report.speech_seconds += end - start
    if not rows:
        raise DataDirError(f"{src}: no utterance lasts {min_seconds:g} s: no segment to write")
    report.segments = len(rows)
    out.mkdir(parents=True, exist_ok=True)
    for name in _SHARED:
        if (src / name).exists():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(out / name, "wb") as dst, open(src / name, "rb") as f:
                shutil.copyfileobj(f, dst)
        elif (out / name).exists():  # left by an earlier run on another input: the dir must match this one
            (out / name).unlink()
    write_word_segments(out / "word_segments", rows)
    if report.skipped:
        with atomic_open(out / SKIPPED_CHUNKS) as fh:
            fh.writelines(f"{u} {format_time(dur)}\n" for u, dur in report.skipped)
    elif (out / SKIPPED_CHUNKS).exists():
        (out / SKIPPED_CHUNKS).unlink()
    return report
