"""Word segments located in a data dir's features (``feats.scp`` + ``word_segments``) and their filter report.

The torch dataset, collate function and same/different-speaker batch sampler are in
:mod:`speechdis.data.dataset` (re-exported here for older callers).

Features are read lazily, one utterance at a time, through a reader mapping utt-id → (T, D) matrix
(:class:`speechdis.data.feats.FeatsReader` applies CMVN), so corpora far larger than RAM work.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from speechdis.audio.features import FeatureConfig, segment_frames_array
from speechdis.data.dataset import STORAGE_DTYPES, PairBatchSampler, WordSegmentDataset, collate_segments
from speechdis.data.feats import FeatsReader
from speechdis.data.tables import WordSegment, read_utt2num_frames, read_utt2spk, read_word_segments
from speechdis.errors import DataDirError

__all__ = ["FrameSegment", "SegmentFilterReport", "segments_from_table", "load_segments", "data_dir_segments",
           "WordSegmentDataset", "collate_segments", "PairBatchSampler", "STORAGE_DTYPES"]


@dataclass(frozen=True)
class FrameSegment:
    """A word segment located in its utterance's feature matrix (frames [start_frame, end_frame))."""

    seg_id: str
    utt: str
    speaker: str
    word: str
    start_frame: int
    end_frame: int  # exclusive

    @property
    def num_frames(self) -> int:
        """Length of the segment in frames."""
        return self.end_frame - self.start_frame


@dataclass
class SegmentFilterReport:
    kept: int = 0
    too_short: int = 0
    too_long: int = 0
    no_features: int = 0
    examples: list[str] = field(default_factory=list)

    def total_skipped(self) -> int:
        """Segments skipped for any reason."""
        return self.too_short + self.too_long + self.no_features

    def describe(self) -> str:
        """Counts in words, e.g. ``0 used; skipped 3 too short (< min_frames), 2 without features``."""
        parts = [f"{n} {what}" for n, what in ((self.too_short, "too short"), (self.too_long, "too long"),
                                               (self.no_features, "without features")) if n]
        text = f"{self.kept} used" + (f"; skipped {', '.join(parts)}" if parts else "")
        if self.examples:
            text += f" (e.g. {self.examples[0]})"
        return text


def segments_from_table(
    rows: Iterable[WordSegment],
    utt2spk: Mapping[str, str],
    utt2num_frames: Mapping[str, int],
    feature_config: FeatureConfig,
    min_frames: int = 3,
    max_frames: int | None = None,
) -> tuple[list[FrameSegment], SegmentFilterReport]:
    """Locates ``word_segments`` entries in the feature frames, applying the duration filters.

    Segments of utterances without features (e.g. skipped at feature extraction) and segments outside
    the duration limits are counted in the report, never silently dropped.
    """
    # Vectorised (a million segments): one pass to gather columns, the frame arithmetic and the filters in
    # numpy; the same segments, counts, examples and errors as a loop over the rows would give.
    rows = rows if isinstance(rows, list) else list(rows)
    report = SegmentFilterReport()
    has = np.fromiter((ws.utt in utt2num_frames for ws in rows), dtype=bool, count=len(rows))
    report.no_features = int(len(rows) - has.sum())
    for k in np.flatnonzero(~has)[:5].tolist():
        report.examples.append(f"{rows[k].seg_id}: utterance {rows[k].utt} has no features")
    located = [ws for ws, h in zip(rows, has.tolist()) if h]
    speakers = [utt2spk.get(ws.utt) for ws in located]
    if None in speakers:
        ws = located[speakers.index(None)]
        raise DataDirError(f"word_segments: segment {ws.seg_id} refers to utterance {ws.utt} missing from utt2spk")
    count = len(located)
    frames = np.fromiter((utt2num_frames[ws.utt] for ws in located), dtype=np.int64, count=count)
    starts = np.fromiter((ws.start for ws in located), dtype=np.float64, count=count)
    ends = np.fromiter((ws.end for ws in located), dtype=np.float64, count=count)
    b, e = segment_frames_array(starts, ends, feature_config, frames)
    n = e - b
    short = n < min_frames
    long = ~short & (n > max_frames) if max_frames is not None else np.zeros(len(n), dtype=bool)
    report.too_short, report.too_long = int(short.sum()), int(long.sum())
    keep = np.flatnonzero(~(short | long)).tolist()
    b_list, e_list = b.tolist(), e.tolist()  # Python ints, as segment_frames gives
    out = [FrameSegment(located[k].seg_id, located[k].utt, speakers[k], located[k].word, b_list[k], e_list[k])
           for k in keep]
    report.kept = len(out)
    return out, report


def load_segments(
    data_dir: str | os.PathLike,
    valid_dir: str | os.PathLike | None = None,
    valid_speakers: int = 0,
    seed: int = 0,
    min_frames: int = 3,
    max_frames: int | None = None,
    cmvn: str | None = None,
) -> tuple[list[FrameSegment], list[FrameSegment], Mapping[str, np.ndarray], SegmentFilterReport, int]:
    """Word segments of a data dir with features: (train, valid, reader, filter report, feature dim).

    Validation segments come from ``valid_dir`` when given, else from ``valid_speakers`` speakers held
    out of ``data_dir`` (chosen with ``seed``), so validation always measures unseen speakers.
    ``cmvn`` reads the features with another normalisation than the data dir's (e.g. ``none``).
    """
    train, report, reader = data_dir_segments(data_dir, min_frames, max_frames, cmvn)
    if valid_dir is not None:
        valid, _, vreader = data_dir_segments(valid_dir, min_frames, max_frames, cmvn)
        if vreader.config != reader.config:
            raise DataDirError(f"features of {valid_dir} were made with another config than those of {data_dir}")
        read: Mapping[str, np.ndarray] = _MultiReader(
            {s.utt: reader for s in train} | {s.utt: vreader for s in valid}, reader.config)
    else:
        read = reader
        valid = []
        if valid_speakers > 0:
            spks = sorted({s.speaker for s in train})
            if len(spks) - valid_speakers < 2:
                raise DataDirError(f"{data_dir}: {len(spks)} speakers cannot spare {valid_speakers} for validation")
            held = set(np.random.default_rng(seed).choice(spks, size=valid_speakers, replace=False).tolist())
            valid = [s for s in train if s.speaker in held]
            train = [s for s in train if s.speaker not in held]
    return train, valid, read, report, reader.dim


def data_dir_segments(data_dir: str | os.PathLike, min_frames: int = 3, max_frames: int | None = None,
                      cmvn: str | None = None, allow_commands: bool = True
                      ) -> tuple[list[FrameSegment], SegmentFilterReport, FeatsReader]:
    """All word segments of one data dir located in its features, and the (lazy) features reader
    (``allow_commands``: see :class:`FeatsReader`)."""
    d = Path(data_dir)
    for name in ("word_segments", "utt2spk", "feats.scp", "utt2num_frames"):
        if not (d / name).exists():
            hint = " (run `speechdis features` first)" if name in ("feats.scp", "utt2num_frames") else ""
            raise DataDirError(f"{d}: missing {name}{hint}")
    reader = FeatsReader(d, cmvn=cmvn, allow_commands=allow_commands)
    segs, report = segments_from_table(read_word_segments(d / "word_segments"), read_utt2spk(d / "utt2spk"),
                                       read_utt2num_frames(d / "utt2num_frames"), reader.config or FeatureConfig(),
                                       min_frames, max_frames)
    if not segs:
        raise DataDirError(f"{d}: no usable word segments ({report.describe()}; "
                           f"min_frames={min_frames}{'' if max_frames is None else f', max_frames={max_frames}'})")
    return segs, report, reader


class _MultiReader:
    """Routes utterance ids to the reader of the data dir they come from."""

    def __init__(self, routes: Mapping[str, Mapping[str, np.ndarray]], config: FeatureConfig | None) -> None:
        self.routes = routes
        self.config = config

    def __getitem__(self, utt: str) -> np.ndarray:
        return self.routes[utt][utt]
