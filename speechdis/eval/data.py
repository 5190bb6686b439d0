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

__all__ = ["Progress", "say", "EvalData", "load_eval_data", "eval_features"]


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
    # Folder mode (eval.folders): True for the query files' segments, which are searched for and not
    # searched; None: every segment is a query candidate and in the archive (a data dir).
    query_mask: np.ndarray | None = None
    # Where the data came from (features computed here, folders, labels, skipped files): for the report.
    source: dict[str, int | str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seg_ids)

    def describe(self) -> dict[str, int | str]:
        """Counts for the report."""
        return {"data_dir": str(self.data_dir), "segments": len(self), "utterances": len(set(self.utts)),
                "speakers": len(set(self.speakers)), "words": len(set(self.words)),
                **{f"filtered_{k}": v for k, v in self.n_filtered.items() if v}, **self.source}


def eval_features(data_dir: str | os.PathLike, work_dir: str | os.PathLike, config: "FeatureConfig",  # noqa: F821
                  allow_commands: bool = False, progress: Progress | None = None
                  ) -> tuple[Path, str | None, str | None]:
    """The data dir to evaluate and how to read it: ``(dir, cmvn, note on the features or None)``.

    A data dir with ``feats.scp`` is used as it is (``cmvn`` None: as its ``conf/feats.yaml`` says). One
    without is copied (its tables) into ``work_dir`` and its features are computed there from ``wav.scp`` with
    ``config`` (the model's front end), so models with that front end read them as they are; a rerun with the
    same audio and config reuses them (:func:`~speechdis.data.featjobs.make_features` resumes). When that front
    end has no CMVN of its own (the packaged models normalise inside), the DTW baseline and the data's
    segment frames read them with per-utterance CMVN (``cmvn="utterance"``), as the recipes' DTW does.
    ``wav.scp`` shell commands are refused unless ``allow_commands``.
    """
    from speechdis.audio.io import is_pipe_entry
    from speechdis.data.featjobs import make_features
    from speechdis.data.tables import refuse_commands
    from speechdis.errors import DataDirError

    d = Path(data_dir)
    if (d / "feats.scp").is_file():
        return d, None, None
    src = DataDir.load(d)
    if not src.wav_scp:
        raise DataDirError(f"{d}: no feats.scp and no wav.scp to compute features from")
    if not src.word_segments:
        raise DataDirError(f"{d}: missing word_segments (the word segments to evaluate)")
    if not allow_commands and any(is_pipe_entry(e) for e in src.wav_scp.values()):
        refuse_commands(d / "wav.scp", {u: e for u, e in src.wav_scp.items() if is_pipe_entry(e)})
    work = Path(work_dir)
    if work.resolve() != d.resolve():
        src.save(work)  # the tables only: completed feature jobs in work/data are resumed, not redone
    cfg = config.resolved()
    say(progress, f"{d}: no feats.scp; features of its {len(src.utt2spk)} utterances from wav.scp with the "
                  f"model's front end into {work}")
    report = make_features(work, cfg)
    say(progress, report.summary().splitlines()[0] + ("" if report.jobs_run else " (reused: made by an earlier run)"))
    note = f"computed from {d / 'wav.scp'} with the model's front end ({cfg.kind}, {cfg.dim} dims, cmvn {cfg.cmvn})"
    if cfg.cmvn == "none":
        return work, "utterance", note + "; DTW reads them with per-utterance CMVN"
    return work, None, note


def load_eval_data(data_dir: str | os.PathLike, min_frames: int = 5, allow_commands: bool = False,
                   cmvn: str | None = None) -> EvalData:
    """Word segments of ``data_dir`` (features required: see :func:`eval_features`) with at least ``min_frames``
    frames. Its feats.scp / cmvn.scp are read as plain files: a shell-command entry is refused unless
    ``allow_commands``; ``cmvn`` reads them with another normalisation than ``conf/feats.yaml`` says."""
    from speechdis.audio.features import FeatureConfig
    from speechdis.data.segments import data_dir_segments

    d = Path(data_dir)
    segs, report, reader = data_dir_segments(d, min_frames=min_frames, cmvn=cmvn, allow_commands=allow_commands)
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
