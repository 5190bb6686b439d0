"""Validation of Kaldi data dirs, like Kaldi's ``validate_data_dir.sh``: every problem with file and line."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from speechdis.data.tables import _iter_lines
from speechdis.errors import DataDirError

__all__ = ["Problem", "check_data_dir", "validate_data_dir"]


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


# Word ends may pass the utterance end by alignment rounding (a frame or two), not more.
SEGMENT_END_TOLERANCE = 0.03


def check_data_dir(path: str | os.PathLike) -> list[Problem]:
    """All problems found in data dir ``path`` (errors and warnings), like Kaldi's validate_data_dir.sh.

    Checks: each table's line format, C-sorted unique ids; utt2spk/spk2utt consistency; ``text``,
    ``wav.scp`` (or ``segments`` + recordings in ``wav.scp``), ``feats.scp``, ``utt2num_frames``,
    ``utt2dur`` cover exactly the utterances of utt2spk; segment and word-segment times
    (0 <= start < end) and that word segments name known utterances; cmvn.scp keyed by all speakers
    or all utterances. Entries of wav.scp/feats.scp/cmvn.scp that are shell commands (``... |``) are warnings:
    reading them runs the command.
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

    durations: dict[str, float] = {}
    for name, integer in (("utt2num_frames", True), ("utt2dur", False)):
        tab = c.table(name, 2, 2)
        if tab is None:
            continue
        c.same_keys(name, tab, utt2spk, "utt2spk")
        for u, (lineno, f) in tab.items():
            v = c.number(name, lineno, u, f[1], "value")
            if v is not None and (v <= 0 or (integer and v != int(v))):
                c.err(name, lineno, u, f"invalid value '{f[1]}' (want a positive {'integer' if integer else 'number'})")
            elif v is not None and not integer:
                durations[u] = v

    cmvn = c.table("cmvn.scp", 2)
    for name, tab, when in (("wav.scp", wav, "speechdis features and extract run"),
                            ("feats.scp", feats, "speechdis extract, train and evaluate --allow-commands run"),
                            ("cmvn.scp", cmvn, "speechdis extract, train and evaluate --allow-commands run")):
        commands = [(k, lineno) for k, (lineno, f) in (tab or {}).items() if f[-1].endswith("|")]
        if commands:
            k, lineno = commands[0]
            c.warn(name, lineno, k, f"shell command ({len(commands)} such entries in the file), which {when} "
                                    f"as you: check them before using this data dir")
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
            dur = durations.get(utt)
            if dur is not None and e is not None and e > dur + SEGMENT_END_TOLERANCE:
                c.err("word_segments", lineno, seg, f"[{f[2]}, {f[3]}] ends past the end of utterance '{utt}' "
                                                    f"({dur:g}s in utt2dur)")
    return c.problems


def validate_data_dir(path: str | os.PathLike, ignore: Sequence[str] = ()) -> list[str]:
    """Validate data dir ``path``; raise DataDirError listing every error (``file:line: 'id': ...``).

    Returns the warnings (as strings) when there are no errors. Problems of the tables named in ``ignore``
    (file names, e.g. ``utt2dur`` for a caller that recomputes it) are left out.
    """
    problems = [p for p in check_data_dir(path) if Path(p.file).name not in ignore]
    errors = [str(p) for p in problems if p.error]
    if errors:
        shown = errors[:50]
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise DataDirError(f"{path}: invalid data dir ({len(errors)} error(s)):\n  " + "\n  ".join(shown) + more)
    return [str(p) for p in problems if not p.error]
