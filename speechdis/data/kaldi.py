"""Kaldi data directories: read/write the tables, validate, subset and split.

A data dir holds text tables keyed by the first field, sorted in C-locale order (plain code-point
order, which Python's ``sorted`` gives for str), one entry per id:

====================  ==========================================  =====================
file                  line                                        keyed by
====================  ==========================================  =====================
``wav.scp``           ``id path`` or ``id command |``              utt (recording with segments)
``text``              ``utt WORD WORD ...``                        utt
``utt2spk``           ``utt spk``                                  utt
``spk2utt``           ``spk utt1 utt2 ...`` (derived from utt2spk) speaker
``segments``          ``utt recording start end`` (s; end -1=EOF) utt
``feats.scp``         ``utt ark_path:offset``                      utt
``cmvn.scp``          ``id ark_path:offset``                       speaker or utt
``utt2num_frames``    ``utt frames``                               utt
``utt2dur``           ``utt seconds``                              utt
``spk2gender``        ``spk m|f``                                  speaker
``word_segments``     ``seg-id utt start end WORD`` (seconds)      seg-id
====================  ==========================================  =====================

All writes go through :func:`speechdis.fileio.atomic_open`.
"""
from __future__ import annotations

import math
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from speechdis.errors import DataDirError
from speechdis.fileio import atomic_open

__all__ = [
    "Segment",
    "WordSegment",
    "DataDir",
    "Problem",
    "read_table",
    "write_table",
    "read_wav_scp",
    "read_text",
    "read_utt2spk",
    "read_spk2utt",
    "read_segments",
    "read_feats_scp",
    "read_utt2num_frames",
    "read_utt2dur",
    "read_word_segments",
    "write_wav_scp",
    "write_text",
    "write_utt2spk",
    "write_spk2utt",
    "write_segments",
    "write_feats_scp",
    "write_utt2num_frames",
    "write_utt2dur",
    "write_word_segments",
    "utt2spk_to_spk2utt",
    "format_time",
    "check_data_dir",
    "validate_data_dir",
    "subset_data_dir",
    "split_by_speaker",
    "train_test_split_speakers",
    "fix_data_dir",
]


@dataclass(frozen=True)
class Segment:
    """A ``segments`` entry: the utterance is ``recording`` from ``start`` to ``end`` seconds.

    ``end`` = -1 means "to the end of the recording" (Kaldi convention).
    """

    recording: str
    start: float
    end: float


@dataclass(frozen=True)
class WordSegment:
    """A ``word_segments`` entry: ``word`` spoken in ``utt`` from ``start`` to ``end`` seconds.

    Times are relative to the utterance (i.e. to the start of its audio / feature matrix).
    """

    seg_id: str
    utt: str
    start: float
    end: float
    word: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def format_time(t: float) -> str:
    """Seconds as text: up to 4 decimals, trailing zeros dropped (``1.5``, ``0.21``, ``3``)."""
    s = f"{t:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# --------------------------------------------------------------------------------------------
# Reading

def _iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                yield lineno, line.rstrip("\n").rstrip("\r")
    except FileNotFoundError:
        raise DataDirError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise DataDirError(f"{path}: not valid UTF-8 ({e})") from e


def read_table(path: str | os.PathLike, min_fields: int = 2, max_fields: int | None = None,
               allow_empty_value: bool = False) -> dict[str, str]:
    """Read a ``key value...`` table into {key: rest-of-line}, strictly.

    Raises DataDirError naming file and line for a blank line, too few/many fields, or a duplicate key.
    The value is the rest of the line after the key (whitespace-trimmed).
    """
    path = Path(path)
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, line in _iter_lines(path):
        if not line.strip():
            raise DataDirError(f"{path}:{lineno}: empty line")
        parts = line.split()
        if len(parts) < min_fields and not (allow_empty_value and len(parts) == 1):
            raise DataDirError(f"{path}:{lineno}: '{parts[0]}': expected at least {min_fields} fields, "
                               f"got {len(parts)}")
        if max_fields is not None and len(parts) > max_fields:
            raise DataDirError(f"{path}:{lineno}: '{parts[0]}': expected at most {max_fields} fields, "
                               f"got {len(parts)}")
        key = parts[0]
        if key in out:
            raise DataDirError(f"{path}:{lineno}: duplicate id '{key}' (first on line {first_line[key]})")
        first_line[key] = lineno
        out[key] = line.strip()[len(key):].strip()
    return out


def _float(path: Path, lineno: int | str, key: str, text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise DataDirError(f"{path}:{lineno}: '{key}': {what} '{text}' is not a number") from None
    if not math.isfinite(v):
        raise DataDirError(f"{path}:{lineno}: '{key}': {what} '{text}' is not finite")
    return v


def read_wav_scp(path: str | os.PathLike) -> dict[str, str]:
    """``wav.scp`` -> {id: path-or-command}."""
    return read_table(path, 2)


def read_text(path: str | os.PathLike) -> dict[str, str]:
    """``text`` -> {utt: transcript} (transcript may be empty)."""
    return read_table(path, 2, allow_empty_value=True)


def read_utt2spk(path: str | os.PathLike) -> dict[str, str]:
    """``utt2spk`` -> {utt: spk}."""
    return read_table(path, 2, 2)


def read_spk2utt(path: str | os.PathLike) -> dict[str, list[str]]:
    """``spk2utt`` -> {spk: [utt, ...]}."""
    return {k: v.split() for k, v in read_table(path, 2).items()}


def read_segments(path: str | os.PathLike) -> dict[str, Segment]:
    """``segments`` -> {utt: Segment}."""
    path = Path(path)
    out = {}
    raw = read_table(path, 4, 4)
    for i, (utt, rest) in enumerate(raw.items(), 1):
        rec, s, e = rest.split()
        out[utt] = Segment(rec, _float(path, i, utt, s, "start"), _float(path, i, utt, e, "end"))
    return out


def read_feats_scp(path: str | os.PathLike) -> dict[str, str]:
    """``feats.scp`` (or ``cmvn.scp``) -> {id: rxspecifier}."""
    return read_table(path, 2)


def read_utt2num_frames(path: str | os.PathLike) -> dict[str, int]:
    """``utt2num_frames`` -> {utt: frames}."""
    path = Path(path)
    out = {}
    for i, (utt, v) in enumerate(read_table(path, 2, 2).items(), 1):
        try:
            out[utt] = int(v)
        except ValueError:
            raise DataDirError(f"{path}:{i}: '{utt}': frame count '{v}' is not an integer") from None
    return out


def read_utt2dur(path: str | os.PathLike) -> dict[str, float]:
    """``utt2dur`` -> {utt: seconds}."""
    path = Path(path)
    return {utt: _float(path, i, utt, v, "duration")
            for i, (utt, v) in enumerate(read_table(path, 2, 2).items(), 1)}


def read_word_segments(path: str | os.PathLike) -> list[WordSegment]:
    """``word_segments`` -> [WordSegment] in file order."""
    path = Path(path)
    out = []
    for i, (seg, rest) in enumerate(read_table(path, 5, 5).items(), 1):
        utt, s, e, word = rest.split()
        out.append(WordSegment(seg, utt, _float(path, i, seg, s, "start"), _float(path, i, seg, e, "end"), word))
    return out


# --------------------------------------------------------------------------------------------
# Writing

def write_table(path: str | os.PathLike, table: Mapping[str, object]) -> None:
    """Write {key: value} as ``key value`` lines sorted by key (C order), atomically.

    Values are written with ``str``; lists/tuples are space-joined.
    """
    with atomic_open(path, "w", encoding="utf-8") as f:
        for key in sorted(table):
            if not key or any(c.isspace() for c in key):
                raise DataDirError(f"{path}: invalid id {key!r} (empty or contains whitespace)")
            v = table[key]
            if isinstance(v, (list, tuple)):
                v = " ".join(str(x) for x in v)
            v = str(v)
            if "\n" in v or "\r" in v:
                raise DataDirError(f"{path}: value for '{key}' contains a line break")
            f.write(f"{key} {v}\n" if v else f"{key}\n")


def write_wav_scp(path: str | os.PathLike, wav_scp: Mapping[str, str]) -> None:
    """Write ``wav.scp``."""
    write_table(path, wav_scp)


def write_text(path: str | os.PathLike, text: Mapping[str, str]) -> None:
    """Write ``text``."""
    write_table(path, text)


def write_utt2spk(path: str | os.PathLike, utt2spk: Mapping[str, str]) -> None:
    """Write ``utt2spk``."""
    write_table(path, utt2spk)


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> dict[str, list[str]]:
    """{utt: spk} -> {spk: sorted utts}, speakers sorted."""
    out: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        out.setdefault(utt2spk[utt], []).append(utt)
    return {k: out[k] for k in sorted(out)}


def write_spk2utt(path: str | os.PathLike, spk2utt: Mapping[str, Sequence[str]]) -> None:
    """Write ``spk2utt`` (utterance lists sorted)."""
    write_table(path, {k: sorted(v) for k, v in spk2utt.items()})


def write_segments(path: str | os.PathLike, segments: Mapping[str, Segment]) -> None:
    """Write ``segments``."""
    write_table(path, {u: f"{s.recording} {format_time(s.start)} {format_time(s.end)}"
                       for u, s in segments.items()})


def write_feats_scp(path: str | os.PathLike, feats_scp: Mapping[str, str]) -> None:
    """Write ``feats.scp`` / ``cmvn.scp``."""
    write_table(path, feats_scp)


def write_utt2num_frames(path: str | os.PathLike, utt2num_frames: Mapping[str, int]) -> None:
    """Write ``utt2num_frames``."""
    write_table(path, {u: int(n) for u, n in utt2num_frames.items()})


def write_utt2dur(path: str | os.PathLike, utt2dur: Mapping[str, float]) -> None:
    """Write ``utt2dur``."""
    write_table(path, {u: format_time(d) for u, d in utt2dur.items()})


def write_word_segments(path: str | os.PathLike, segments: Iterable[WordSegment]) -> None:
    """Write ``word_segments`` sorted by segment id; ids must be unique."""
    table = {}
    for s in segments:
        if s.seg_id in table:
            raise DataDirError(f"{path}: duplicate segment id '{s.seg_id}'")
        if any(c.isspace() for c in s.word) or not s.word:
            raise DataDirError(f"{path}: segment '{s.seg_id}': invalid word {s.word!r}")
        table[s.seg_id] = f"{s.utt} {format_time(s.start)} {format_time(s.end)} {s.word}"
    write_table(path, table)


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
        return len(self.utt2spk)

    @property
    def num_speakers(self) -> int:
        return len(set(self.utt2spk.values()))

    @property
    def has_segments(self) -> bool:
        return bool(self.segments)

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
# Validation

@dataclass(frozen=True)
class Problem:
    """One validation finding: ``file:line: 'id': message``."""

    file: str
    line: int | None
    id: str | None
    message: str
    error: bool = True

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        who = f" '{self.id}':" if self.id is not None else ""
        return f"{where}:{who} {self.message}"


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def err(self, name: str, line: int | None, id_: str | None, msg: str) -> None:
        self.problems.append(Problem(str(self.path / name), line, id_, msg, True))

    def warn(self, name: str, line: int | None, id_: str | None, msg: str) -> None:
        self.problems.append(Problem(str(self.path / name), line, id_, msg, False))

    def table(self, name: str, min_fields: int, max_fields: int | None = None,
              allow_empty_value: bool = False) -> dict[str, tuple[int, list[str]]] | None:
        """{key: (lineno, fields)} for the first occurrence of each key; None if the file is absent.

        Reports blank lines, wrong field counts, duplicates and sort-order violations.
        """
        p = self.path / name
        if not p.exists():
            return None
        out: dict[str, tuple[int, list[str]]] = {}
        prev: str | None = None
        try:
            for lineno, line in _iter_lines(p):
                parts = line.split()
                if not parts:
                    self.err(name, lineno, None, "empty line")
                    continue
                key = parts[0]
                n = len(parts)
                if n < min_fields and not (allow_empty_value and n == 1):
                    self.err(name, lineno, key, f"expected at least {min_fields} fields, got {n}")
                    continue
                if max_fields is not None and n > max_fields:
                    self.err(name, lineno, key, f"expected at most {max_fields} fields, got {n}")
                    continue
                if key in out:
                    self.err(name, lineno, key, f"duplicate id (first on line {out[key][0]})")
                    continue
                if prev is not None and key < prev:
                    self.err(name, lineno, key, f"not sorted: comes after '{prev}' "
                                                f"(sort with 'LC_ALL=C sort')")
                prev = key if prev is None or key > prev else prev
                out[key] = (lineno, parts)
        except DataDirError as e:
            self.err(name, None, None, str(e))
        return out

    def number(self, name: str, lineno: int, key: str, text: str, what: str) -> float | None:
        try:
            v = float(text)
        except ValueError:
            self.err(name, lineno, key, f"{what} '{text}' is not a number")
            return None
        if not math.isfinite(v):
            self.err(name, lineno, key, f"{what} '{text}' is not finite")
            return None
        return v

    def same_keys(self, name: str, table: dict[str, tuple[int, list[str]]],
                  ref: dict[str, tuple[int, list[str]]], ref_name: str, what: str = "utterance") -> None:
        for key, (lineno, _) in table.items():
            if key not in ref:
                self.err(name, lineno, key, f"{what} not in {ref_name}")
        for key, (lineno, _) in ref.items():
            if key not in table:
                self.err(name, None, key, f"{what} has no entry (listed in {ref_name} line {lineno})")


def check_data_dir(path: str | os.PathLike) -> list[Problem]:
    """All problems found in data dir ``path`` (errors and warnings), like Kaldi's validate_data_dir.sh.

    Checks: each table's line format, C-sorted unique ids; utt2spk/spk2utt consistency; ``text``,
    ``wav.scp`` (or ``segments`` + recordings in ``wav.scp``), ``feats.scp``, ``utt2num_frames``,
    ``utt2dur`` cover exactly the utterances of utt2spk; segment and word-segment times
    (0 <= start < end) and that word segments name known utterances; cmvn.scp keyed by all speakers
    or all utterances.
    """
    path = Path(path)
    c = _Checker(path)
    if not path.is_dir():
        c.err("", None, None, "not a directory")
        return c.problems
    utt2spk = c.table("utt2spk", 2, 2)
    if utt2spk is None:
        c.err("utt2spk", None, None, "missing (required)")
        return c.problems
    if not utt2spk:
        c.err("utt2spk", None, None, "is empty")
    spk_of = {u: f[1] for u, (_, f) in utt2spk.items()}

    # utt2spk must also be sorted by speaker for Kaldi tools that stream per speaker; our code
    # does not need it, so this is a warning (make speaker ids prefixes of utterance ids).
    by_spk = sorted(spk_of, key=lambda u: (spk_of[u], u))
    if by_spk != sorted(spk_of):
        bad = next(u for u, v in zip(sorted(spk_of), by_spk) if u != v)
        c.warn("utt2spk", utt2spk[bad][0], bad, "order differs when sorted by speaker "
                                                 "(make speaker ids prefixes of utterance ids)")

    spk2utt = c.table("spk2utt", 2)
    if spk2utt is None:
        c.err("spk2utt", None, None, "missing (write it from utt2spk)")
    else:
        listed: dict[str, tuple[str, int]] = {}
        for spk, (lineno, fields) in spk2utt.items():
            utts = fields[1:]
            if utts != sorted(utts):
                c.err("spk2utt", lineno, spk, "utterance list is not sorted")
            for u in utts:
                if u in listed:
                    c.err("spk2utt", lineno, u, f"utterance listed twice (also under speaker '{listed[u][0]}')")
                    continue
                listed[u] = (spk, lineno)
                if u not in spk_of:
                    c.err("spk2utt", lineno, u, f"utterance (speaker '{spk}') not in utt2spk")
                elif spk_of[u] != spk:
                    c.err("spk2utt", lineno, u, f"listed under speaker '{spk}' but utt2spk line "
                                                f"{utt2spk[u][0]} says '{spk_of[u]}'")
        for u, (lineno, _) in utt2spk.items():
            if u not in listed:
                c.err("utt2spk", lineno, u, f"utterance (speaker '{spk_of[u]}') missing from spk2utt")

    text = c.table("text", 2, allow_empty_value=True)
    if text is not None:
        c.same_keys("text", text, utt2spk, "utt2spk")
        for u, (lineno, fields) in text.items():
            if len(fields) == 1:
                c.warn("text", lineno, u, "empty transcript")

    wav = c.table("wav.scp", 2)
    segments = c.table("segments", 4, 4)
    feats = c.table("feats.scp", 2)  # rxspecifiers may be pipes with spaces
    if wav is None and feats is None:
        c.err("wav.scp", None, None, "missing, and there is no feats.scp either")
    if segments is not None:
        c.same_keys("segments", segments, utt2spk, "utt2spk")
        used = set()
        for u, (lineno, f) in segments.items():
            rec = f[1]
            used.add(rec)
            if wav is not None and rec not in wav:
                c.err("segments", lineno, u, f"recording '{rec}' not in wav.scp")
            s = c.number("segments", lineno, u, f[2], "start")
            e = c.number("segments", lineno, u, f[3], "end")
            if s is not None and s < 0:
                c.err("segments", lineno, u, f"start {f[2]} is negative")
            if s is not None and e is not None and not (e > s or e == -1):
                c.err("segments", lineno, u, f"end {f[3]} is not after start {f[2]}")
        for rec, (lineno, _) in (wav or {}).items():
            if rec not in used:
                c.warn("wav.scp", lineno, rec, "recording not used by any segment")
    elif wav is not None:
        c.same_keys("wav.scp", wav, utt2spk, "utt2spk")
    if feats is not None:
        c.same_keys("feats.scp", feats, utt2spk, "utt2spk")

    for name, integer in (("utt2num_frames", True), ("utt2dur", False)):
        tab = c.table(name, 2, 2)
        if tab is None:
            continue
        c.same_keys(name, tab, utt2spk, "utt2spk")
        for u, (lineno, f) in tab.items():
            v = c.number(name, lineno, u, f[1], "value")
            if v is not None and (v <= 0 or (integer and v != int(v))):
                c.err(name, lineno, u, f"invalid value '{f[1]}' (want a positive {'integer' if integer else 'number'})")

    cmvn = c.table("cmvn.scp", 2)
    if cmvn is not None:
        spks = set(spk_of.values())
        keys = set(cmvn)
        if keys != spks and keys != set(spk_of):
            c.err("cmvn.scp", None, None, "keys are neither exactly the speakers nor exactly the utterances")

    gender = c.table("spk2gender", 2, 2)
    if gender is not None:
        spks = set(spk_of.values())
        for s, (lineno, f) in gender.items():
            if s not in spks:
                c.err("spk2gender", lineno, s, "speaker not in utt2spk")
            if f[1] not in ("m", "f"):
                c.err("spk2gender", lineno, s, f"gender '{f[1]}' is not 'm' or 'f'")

    words = c.table("word_segments", 5, 5)
    if words is not None:
        for seg, (lineno, f) in words.items():
            utt = f[1]
            if utt not in spk_of:
                c.err("word_segments", lineno, seg, f"utterance '{utt}' not in utt2spk")
            s = c.number("word_segments", lineno, seg, f[2], "start")
            e = c.number("word_segments", lineno, seg, f[3], "end")
            if s is not None and s < 0:
                c.err("word_segments", lineno, seg, f"start {f[2]} is negative")
            if s is not None and e is not None and not e > s:
                c.err("word_segments", lineno, seg, f"start {f[2]} is not before end {f[3]}")
    return c.problems


def validate_data_dir(path: str | os.PathLike) -> list[str]:
    """Validate data dir ``path``; raise DataDirError listing every error (``file:line: 'id': ...``).

    Returns the warnings (as strings) when there are no errors.
    """
    problems = check_data_dir(path)
    errors = [str(p) for p in problems if p.error]
    if errors:
        shown = errors[:50]
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise DataDirError(f"{path}: invalid data dir ({len(errors)} error(s)):\n  " + "\n  ".join(shown) + more)
    return [str(p) for p in problems if not p.error]


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
    counts = [len(spk2utt[s]) for s in spks]
    total = sum(counts)
    groups: list[list[str]] = []
    start = 0
    done = 0
    for j in range(n):
        if j == n - 1:
            groups.append(spks[start:])
            break
        # Take speakers until this part reaches its share of the remaining utterances, leaving at
        # least one speaker for each remaining part.
        target = (total - done) / (n - j)
        end = start + 1
        acc = counts[start]
        while end < len(spks) - (n - j - 1) and acc + counts[end] / 2 <= target:
            acc += counts[end]
            end += 1
        groups.append(spks[start:end])
        done += acc
        start = end
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
    removed = sorted(set(d.utt2spk) - keep)
    backup = path / ".backup"
    backup.mkdir(exist_ok=True)
    for name in _TABLES:
        if (path / name).exists():
            shutil.copy2(path / name, backup / name)
    sub = d.subset(utts=keep)
    sub.save(path)
    return removed
