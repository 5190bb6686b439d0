"""What the corpus preparations share: the report (counts per split, noise, every skipped file), clip
reading with reasons instead of exceptions, and one trimmed word segment per clip."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechdis.audio.trim import energy_bounds
from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment

__all__ = ["SkippedFile", "SplitCounts", "CorpusReport", "read_clip", "add_clip", "split_counts"]


@dataclass(frozen=True)
class SkippedFile:
    """A file of the corpus that went into no data dir, and why."""

    path: str
    reason: str


@dataclass
class SplitCounts:
    """What one written data dir holds."""

    out_dir: Path | None
    utterances: int = 0
    speakers: int = 0
    words: int = 0  # distinct words (one word segment per utterance)
    segment_seconds_mean: float = 0.0


@dataclass
class CorpusReport:
    """Counts per split, noise clips, how the split was made, and every file left out with its reason."""

    corpus: Path
    out: Path
    layout: str
    splits: dict[str, SplitCounts] = field(default_factory=dict)
    split_method: str = ""
    noise_clips: int = 0
    noise_dir: Path | None = None
    trimmed: bool = True
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def utterances(self) -> int:
        """Utterances over all splits."""
        return sum(s.utterances for s in self.splits.values())

    def summary(self, max_items: int = 20) -> str:
        """Human-readable lines: splits, noise, notes and (up to ``max_items``) skipped files."""
        lines = [f"{self.corpus} ({self.layout} layout) -> {self.out}"
                 + (f"; split: {self.split_method}" if self.split_method else "")]
        for name, s in self.splits.items():
            where = f" -> {s.out_dir}" if s.out_dir is not None else " (not written)"
            lines.append(f"  {name}: {s.utterances} utterances, {s.speakers} speakers, {s.words} words, "
                         f"mean segment {s.segment_seconds_mean:.2f}s{where}")
        if self.noise_dir is not None or self.noise_clips:
            lines.append(f"  noise: {self.noise_clips} clips" + (f" -> {self.noise_dir}" if self.noise_dir else ""))
        lines.append(f"  word segments: {'trimmed to energy bounds' if self.trimmed else 'whole clips'}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} file(s):")
            lines += [f"    {s.path}: {s.reason}" for s in self.skipped[:max_items]]
            if len(self.skipped) > max_items:
                lines.append(f"    ... and {len(self.skipped) - max_items} more")
        return "\n".join(lines)


def read_clip(path: str | os.PathLike) -> tuple[np.ndarray | None, int, str]:
    """``(mono wave, sample rate, "")``, or ``(None, 0, reason)`` for unreadable, empty or all-zero audio."""
    import soundfile as sf

    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - a corrupt file is reported, not fatal
        return None, 0, f"unreadable audio: {e}"
    if wave.shape[0] == 0:
        return None, 0, "empty audio (no samples)"
    wave = wave.mean(axis=1)
    if not np.any(wave):
        return None, 0, "silent audio (all samples zero)"
    return wave, int(sr), ""


def add_clip(d: DataDir, utt: str, spk: str, word: str, path: Path, wave: np.ndarray, sr: int, *,
             trim: bool = True, trim_db: float = 35.0, pad: float = 0.03) -> None:
    """One utterance = the whole clip, with one word segment (trimmed to its energy bounds when asked)."""
    duration = round(len(wave) / sr, 4)
    start, end = energy_bounds(wave, sr, trim_db, pad) if trim else (0.0, duration)
    d.utt2spk[utt] = spk
    d.wav_scp[utt] = str(Path(path).resolve())
    d.text[utt] = word
    d.utt2dur[utt] = duration
    d.word_segments.append(WordSegment(f"{utt}_0000", utt, start, end, word))


def split_counts(d: DataDir, out_dir: Path | None) -> SplitCounts:
    """Counts of a prepared data dir."""
    seg = [w.duration for w in d.word_segments]
    return SplitCounts(out_dir, d.num_utts, d.num_speakers, len({w.word for w in d.word_segments}),
                       float(np.mean(seg)) if seg else 0.0)
