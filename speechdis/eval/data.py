"""The evaluation data: a data dir's word segments located in its features, with labels (:class:`EvalData`).

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment
from speechdis.eval.systems import (
    segment_stats,
)

__all__ = ["Progress", "say", "EvalData", "load_eval_data"]


Progress = Callable[[str], None]


def say(progress: Progress | None, msg: str) -> None:
    """Pass ``msg`` to the progress callback, if any."""
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
