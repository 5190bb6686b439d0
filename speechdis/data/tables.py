"""Kaldi table I/O: read and write the text tables of a data dir, and the segment row types.

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

The row types of the two segment tables live here (:class:`Segment`, :class:`WordSegment`); the
data-dir model is :mod:`speechdis.data.datadir`, validation :mod:`speechdis.data.validate`.
All writes go through :func:`speechdis.fileio.atomic_open`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from speechdis.errors import DataDirError
from speechdis.fileio import atomic_open

__all__ = [
    "Segment",
    "WordSegment",
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
    "command_entries",
    "refuse_commands",
    "format_time",
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
        """Length of the word in seconds."""
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


def command_entries(table: Mapping[str, str]) -> list[str]:
    """Ids of the entries that are shell commands (Kaldi extended filenames ``... |``, which readers run)."""
    return [k for k, v in table.items() if v.rstrip().endswith("|")]


def refuse_commands(path: str | os.PathLike, table: Mapping[str, str], allow: str = "--allow-commands") -> None:
    """DataDirError naming the first command entry of ``table`` (read from ``path``), where only plain files
    may be read unless ``allow`` (the option that permits running them) is given."""
    bad = command_entries(table)
    if bad:
        lineno = list(table).index(bad[0]) + 1  # read_table refuses blank lines: position = line
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataDirError(f"{path}:{lineno}: '{bad[0]}' is a shell command ({table[bad[0]]!r}){more}; not run "
                           f"unless {allow} is given")


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
    for i, (seg, rest) in enumerate(read_table(path, 5, 5).items(), 1):  # blank lines are errors: i = line
        utt, s, e, word = rest.split()
        start, end = _float(path, i, seg, s, "start"), _float(path, i, seg, e, "end")
        if end < start:
            raise DataDirError(f"{path}:{i}: segment '{seg}' is invalid: end {e} is before start {s} "
                               f"(fix or remove this line)")
        out.append(WordSegment(seg, utt, start, end, word))
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
