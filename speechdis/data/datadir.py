"""The Kaldi data-dir model (:class:`DataDir`: load, save, subset) and the data-dir operations built on
it: subset, split by speaker, speaker-disjoint train/test split, fix (Kaldi's ``fix_data_dir.sh``).

The tables themselves are read and written by :mod:`speechdis.data.tables`.
"""
from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from speechdis.data.tables import (
    Segment,
    WordSegment,
    read_feats_scp,
    read_segments,
    read_table,
    read_text,
    read_utt2dur,
    read_utt2num_frames,
    read_utt2spk,
    read_wav_scp,
    read_word_segments,
    utt2spk_to_spk2utt,
    write_feats_scp,
    write_segments,
    write_spk2utt,
    write_table,
    write_text,
    write_utt2dur,
    write_utt2num_frames,
    write_utt2spk,
    write_wav_scp,
    write_word_segments,
)
from speechdis.data.validate import validate_data_dir
from speechdis.errors import DataDirError

__all__ = ["DataDir", "subset_data_dir", "split_by_speaker", "speaker_groups", "job_splits",
           "train_test_split_speakers", "fix_data_dir"]


# --------------------------------------------------------------------------------------------
# DataDir

# file name -> DataDir attribute, in the order they are written
_TABLES = ["wav.scp", "segments", "text", "utt2spk", "spk2utt", "spk2gender", "feats.scp",
           "cmvn.scp", "utt2num_frames", "utt2dur", "word_segments"]


@dataclass
class DataDir:
    """An in-memory Kaldi data dir. ``utt2spk`` is the master list of utterances.

    ``spk2utt`` is not stored: it is derived from ``utt2spk`` (property) and written on save.
    Empty tables are simply absent on disk.
    """

    utt2spk: dict[str, str] = field(default_factory=dict)
    wav_scp: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    feats_scp: dict[str, str] = field(default_factory=dict)
    cmvn_scp: dict[str, str] = field(default_factory=dict)
    utt2num_frames: dict[str, int] = field(default_factory=dict)
    utt2dur: dict[str, float] = field(default_factory=dict)
    spk2gender: dict[str, str] = field(default_factory=dict)
    word_segments: list[WordSegment] = field(default_factory=list)
    path: Path | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DataDir":
        """Read every table present in ``path`` (``utt2spk`` required). Malformed lines raise DataDirError."""
        path = Path(path)
        if not path.is_dir():
            raise DataDirError(f"{path}: not a directory")
        if not (path / "utt2spk").exists():
            raise DataDirError(f"{path}/utt2spk: no such file (every data dir needs utt2spk)")
        d = cls(path=path)
        d.utt2spk = read_utt2spk(path / "utt2spk")
        readers = {
            "wav.scp": ("wav_scp", read_wav_scp),
            "text": ("text", read_text),
            "segments": ("segments", read_segments),
            "feats.scp": ("feats_scp", read_feats_scp),
            "cmvn.scp": ("cmvn_scp", read_feats_scp),
            "utt2num_frames": ("utt2num_frames", read_utt2num_frames),
            "utt2dur": ("utt2dur", read_utt2dur),
            "spk2gender": ("spk2gender", lambda p: read_table(p, 2, 2)),
            "word_segments": ("word_segments", read_word_segments),
        }
        for name, (attr, reader) in readers.items():
            if (path / name).exists():
                setattr(d, attr, reader(path / name))
        return d

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write all non-empty tables to ``path`` (default: where it was loaded), sorted, atomically.

        Tables that are empty here but exist on disk are removed, so the directory matches the object.
        """
        path = Path(path) if path is not None else self.path
        if path is None:
            raise DataDirError("DataDir.save: no path given")
        path.mkdir(parents=True, exist_ok=True)
        writers = {
            "wav.scp": (self.wav_scp, write_wav_scp),
            "segments": (self.segments, write_segments),
            "text": (self.text, write_text),
            "utt2spk": (self.utt2spk, write_utt2spk),
            "spk2utt": (self.spk2utt, write_spk2utt),
            "spk2gender": (self.spk2gender, write_table),
            "feats.scp": (self.feats_scp, write_feats_scp),
            "cmvn.scp": (self.cmvn_scp, write_feats_scp),
            "utt2num_frames": (self.utt2num_frames, write_utt2num_frames),
            "utt2dur": (self.utt2dur, write_utt2dur),
            "word_segments": (self.word_segments, write_word_segments),
        }
        for name, (table, writer) in writers.items():
            if table:
                writer(path / name, table)
            elif (path / name).exists():
                (path / name).unlink()
        self.path = path
        return path

    # -- properties ----------------------------------------------------------------------
    @property
    def utts(self) -> list[str]:
        """Utterance ids, sorted."""
        return sorted(self.utt2spk)

    @property
    def speakers(self) -> list[str]:
        """Speaker ids, sorted."""
        return sorted(set(self.utt2spk.values()))

    @property
    def spk2utt(self) -> dict[str, list[str]]:
        """{speaker: sorted utterance ids}."""
        return utt2spk_to_spk2utt(self.utt2spk)

    @property
    def num_utts(self) -> int:
        """Number of utterances (entries of utt2spk)."""
        return len(self.utt2spk)

    @property
    def num_speakers(self) -> int:
        """Number of distinct speakers in utt2spk."""
        return len(set(self.utt2spk.values()))

    def audio_source(self, utt: str) -> tuple[str, float | None, float | None]:
        """(wav.scp entry, start, end) for ``utt``; start/end are None without ``segments``."""
        if self.segments:
            seg = self.segments.get(utt)
            if seg is None:
                raise DataDirError(f"{self.path}/segments: no entry for utterance '{utt}'")
            entry = self.wav_scp.get(seg.recording)
            if entry is None:
                raise DataDirError(f"{self.path}/wav.scp: no entry for recording '{seg.recording}' "
                                   f"(utterance '{utt}')")
            return entry, seg.start, (None if seg.end < 0 else seg.end)
        entry = self.wav_scp.get(utt)
        if entry is None:
            raise DataDirError(f"{self.path}/wav.scp: no entry for utterance '{utt}'")
        return entry, None, None

    def word_segments_by_utt(self) -> dict[str, list[WordSegment]]:
        """{utt: its word segments in time order}."""
        out: dict[str, list[WordSegment]] = {}
        for s in self.word_segments:
            out.setdefault(s.utt, []).append(s)
        for v in out.values():
            v.sort(key=lambda s: (s.start, s.end))
        return out

    def subset(self, utts: Iterable[str] | None = None, speakers: Iterable[str] | None = None) -> "DataDir":
        """New DataDir with only the given utterances and/or speakers (see :func:`subset_data_dir`)."""
        keep = set(self.utt2spk)
        if utts is not None:
            wanted = set(utts)
            unknown = sorted(wanted - keep)
            if unknown:
                raise DataDirError(f"subset: {len(unknown)} unknown utterance(s), e.g. '{unknown[0]}'")
            keep &= wanted
        if speakers is not None:
            spks = set(speakers)
            unknown = sorted(spks - set(self.utt2spk.values()))
            if unknown:
                raise DataDirError(f"subset: {len(unknown)} unknown speaker(s), e.g. '{unknown[0]}'")
            keep = {u for u in keep if self.utt2spk[u] in spks}
        kept_spks = {self.utt2spk[u] for u in keep}
        segs = {u: s for u, s in self.segments.items() if u in keep}
        if segs:
            recs = {s.recording for s in segs.values()}
            wav = {r: e for r, e in self.wav_scp.items() if r in recs}
        else:
            wav = {u: e for u, e in self.wav_scp.items() if u in keep}
        return DataDir(
            utt2spk={u: s for u, s in self.utt2spk.items() if u in keep},
            wav_scp=wav,
            text={u: t for u, t in self.text.items() if u in keep},
            segments=segs,
            feats_scp={u: v for u, v in self.feats_scp.items() if u in keep},
            # cmvn.scp may be keyed by speaker or by utterance; keep whichever keys survive.
            cmvn_scp={k: v for k, v in self.cmvn_scp.items() if k in keep or k in kept_spks},
            utt2num_frames={u: n for u, n in self.utt2num_frames.items() if u in keep},
            utt2dur={u: d for u, d in self.utt2dur.items() if u in keep},
            spk2gender={s: g for s, g in self.spk2gender.items() if s in kept_spks},
            word_segments=[w for w in self.word_segments if w.utt in keep],
        )

    def validate(self) -> list[str]:
        """Validate the on-disk copy (see :func:`validate_data_dir`); returns warnings."""
        if self.path is None:
            raise DataDirError("DataDir.validate: not saved anywhere yet")
        return validate_data_dir(self.path)


def _as_datadir(d: DataDir | str | os.PathLike) -> DataDir:
    return d if isinstance(d, DataDir) else DataDir.load(d)


# --------------------------------------------------------------------------------------------
# Subsets and splits

def subset_data_dir(data_dir: DataDir | str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                    utts: Iterable[str] | None = None, speakers: Iterable[str] | None = None) -> DataDir:
    """The part of ``data_dir`` with the given utterances and/or speakers; written to ``out_dir`` if given.

    Every table is filtered consistently (wav.scp keeps the recordings the kept segments use,
    cmvn.scp the kept speakers/utterances, word_segments those of kept utterances).
    """
    sub = _as_datadir(data_dir).subset(utts=utts, speakers=speakers)
    if out_dir is not None:
        sub.save(out_dir)
    return sub


def speaker_groups(speakers: list[str], counts: list[int], n: int) -> list[list[str]]:
    """``speakers`` (in their order, ``counts[i]`` utterances each) cut into ``n`` contiguous non-empty groups
    with utterance counts as equal as possible (the rule of :func:`split_by_speaker`); needs ``n <= len(speakers)``."""
    if not 1 <= n <= len(speakers):
        raise ValueError(f"cannot cut {len(speakers)} speaker(s) into {n} groups")
    total = sum(counts)
    groups: list[list[str]] = []
    start = 0
    done = 0
    for j in range(n):
        if j == n - 1:
            groups.append(speakers[start:])
            break
        # Take speakers until this part reaches its share of the remaining utterances, leaving at
        # least one speaker for each remaining part.
        target = (total - done) / (n - j)
        end = start + 1
        acc = counts[start]
        while end < len(speakers) - (n - j - 1) and acc + counts[end] / 2 <= target:
            acc += counts[end]
            end += 1
        groups.append(speakers[start:end])
        done += acc
        start = end
    return groups


def job_splits(keys: list[str], speakers: list[str], nj: int) -> list[list[str]]:
    """``keys`` (in their order; ``speakers[i]`` the speaker of ``keys[i]``) cut into at most ``nj`` contiguous
    jobs for Kaldi-style job arrays, deterministically: whole runs of one speaker per job, balanced by count
    (``split_data.sh``; with Kaldi's speaker-prefixed sorted ids a run is a speaker); per key
    (``split_data.sh --per-utt``) when there are fewer such runs than jobs. ``nj`` is capped at ``len(keys)``;
    no job is empty."""
    if nj < 1:
        raise ValueError(f"nj must be >= 1, got {nj}")
    if not keys:
        return []
    nj = min(nj, len(keys))
    runs: list[list[str]] = []
    prev = object()
    for k, s in zip(keys, speakers):
        if s != prev:
            runs.append([])
            prev = s
        runs[-1].append(k)
    if len(runs) >= nj:
        idx = [str(i) for i in range(len(runs))]
        groups = speaker_groups(idx, [len(r) for r in runs], nj)
        return [[k for i in g for k in runs[int(i)]] for g in groups]
    n = len(keys)
    bounds = [round(i * n / nj) for i in range(nj + 1)]
    return [keys[bounds[i]:bounds[i + 1]] for i in range(nj)]


def split_by_speaker(data_dir: DataDir | str | os.PathLike, n: int, *, write: bool = True) -> list[DataDir]:
    """Split into ``n`` parts keeping each speaker in one part (Kaldi ``split_data.sh --per-spk``).

    Speakers are taken in sorted order and cut into contiguous groups with utterance counts as
    equal as possible. With ``write`` the parts go to ``<data_dir>/split<n>/<j>`` (j = 1..n), like
    Kaldi. Raises DataDirError when there are fewer speakers than parts.
    """
    d = _as_datadir(data_dir)
    if n < 1:
        raise DataDirError(f"split_by_speaker: number of parts must be >= 1, got {n}")
    spk2utt = d.spk2utt
    spks = list(spk2utt)
    if len(spks) < n:
        raise DataDirError(f"{d.path or 'data dir'}: cannot split {len(spks)} speaker(s) into {n} parts")
    groups = speaker_groups(spks, [len(spk2utt[s]) for s in spks], n)
    parts = [d.subset(speakers=g) for g in groups]
    if write:
        if d.path is None:
            raise DataDirError("split_by_speaker: data dir has no path to write under")
        for j, part in enumerate(parts, 1):
            part.save(d.path / f"split{n}" / str(j))
    return parts


def train_test_split_speakers(data_dir: DataDir | str | os.PathLike, test_fraction: float, seed: int = 0, *,
                              out_train: str | os.PathLike | None = None,
                              out_test: str | os.PathLike | None = None) -> tuple[DataDir, DataDir]:
    """Split into (train, test) with disjoint speakers; ``round(test_fraction * #speakers)`` test speakers.

    At least one speaker goes to each side. The choice is a seeded shuffle of the sorted speakers, so
    it is reproducible. Parts are written to ``out_train``/``out_test`` when given.
    """
    d = _as_datadir(data_dir)
    if not 0.0 < test_fraction < 1.0:
        raise DataDirError(f"train_test_split_speakers: test_fraction must be in (0, 1), got {test_fraction}")
    spks = d.speakers
    if len(spks) < 2:
        raise DataDirError(f"{d.path or 'data dir'}: need at least 2 speakers for a speaker-disjoint split, "
                           f"have {len(spks)}")
    n_test = min(max(1, round(test_fraction * len(spks))), len(spks) - 1)
    order = list(spks)
    random.Random(seed).shuffle(order)
    test_spks = set(order[:n_test])
    train = d.subset(speakers=[s for s in spks if s not in test_spks])
    test = d.subset(speakers=sorted(test_spks))
    if out_train is not None:
        train.save(out_train)
    if out_test is not None:
        test.save(out_test)
    return train, test


def fix_data_dir(path: str | os.PathLike) -> list[str]:
    """Keep only utterances present in every per-utterance table (like Kaldi's fix_data_dir.sh).

    An utterance survives if it is in utt2spk and, where those files exist, in text, in wav.scp
    (or segments with a known recording) and in feats.scp. Original files are copied to
    ``<path>/.backup/`` first. Returns the removed utterance ids.
    """
    path = Path(path)
    d = DataDir.load(path)
    keep = set(d.utt2spk)
    if (path / "text").exists():
        keep &= set(d.text)
    if d.segments:
        keep &= {u for u, s in d.segments.items() if s.recording in d.wav_scp}
    elif (path / "wav.scp").exists():
        keep &= set(d.wav_scp)
    if (path / "feats.scp").exists():
        keep &= set(d.feats_scp)
    # Every utterance id any per-utterance table names: one only in wav.scp or text is removed too.
    named = set(d.utt2spk) | set(d.text) | set(d.feats_scp) | (set(d.segments) if d.segments else set(d.wav_scp))
    removed = sorted(named - keep)
    backup = path / ".backup"
    backup.mkdir(exist_ok=True)
    for name in _TABLES:
        if (path / name).exists():
            shutil.copy2(path / name, backup / name)
    sub = d.subset(utts=keep)
    sub.save(path)
    return removed
