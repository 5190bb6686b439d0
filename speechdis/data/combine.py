"""Combine data dirs of several corpora into one (Kaldi's ``utils/combine_data.sh`` idea), ids kept unique.

Every per-utterance table is merged: ``wav.scp``, ``segments``, ``text``, ``utt2spk``, ``utt2dur``,
``spk2gender``, ``word_segments`` and the aligner's ``phones.ctm``. With ``prefix="auto"`` (the default) each
input's utterance, speaker, recording and segment ids get ``<name>-`` in front as soon as any utterance or
speaker id occurs in two inputs (two corpora's speaker ``0001`` are different people and must stay apart);
``"always"`` prefixes unconditionally, ``"never"`` refuses colliding ids. Names default to the dirs' basenames,
made unique with their parent folder (``so762/train`` -> ``so762_train``).

Refused with a one-line error naming the dir: a table present in some inputs but not others (``text``,
``segments``, ``word_segments``, ``phones.ctm``), which would leave part of the result without it; an input
that fails validation. ``utt2dur`` present in some inputs only is completed for the others (from their
``segments``, frame counts or audio headers, as ``speechdis prepare chunks`` reads durations), so the result
validates. Features (``feats.scp``, ``cmvn.scp``) are not carried: run ``speechdis features`` on
the result, so all of it has one feature config and its CMVN stats.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

from speechdis.data.align import PHONES_CTM
from speechdis.data.alignments import read_ctm, write_ctm_lines
from speechdis.data.chunks import utterance_durations
from speechdis.data.datadir import DataDir
from speechdis.data.tables import Segment, WordSegment, format_time
from speechdis.data.validate import validate_data_dir
from speechdis.errors import DataDirError

__all__ = ["CombineReport", "combine_data_dirs"]

_CHECKED = ("text", "segments", "word_segments", PHONES_CTM)


@dataclass
class CombineReport:
    """What :func:`combine_data_dirs` merged."""

    out: Path
    names: list[str]
    prefixed: bool
    counts: list[tuple[int, int, int]] = field(default_factory=list)  # per input: utts, speakers, word segments
    durations_filled: list[str] = field(default_factory=list)  # inputs whose utt2dur was completed

    def summary(self) -> str:
        """Human-readable lines."""
        lines = [f"combined {len(self.names)} data dirs -> {self.out}"
                 + (" (ids prefixed with the input names)" if self.prefixed else " (ids unchanged)")]
        lines += [f"  {n}: {u} utterances, {s} speakers, {w} word segments" for n, (u, s, w) in
                  zip(self.names, self.counts)]
        tu, ts, tw = (sum(c[i] for c in self.counts) for i in range(3))
        lines.append(f"  total: {tu} utterances, {ts} speakers, {tw} word segments "
                     f"(features not carried: run speechdis features {self.out})")
        if self.durations_filled:
            lines.append(f"  utt2dur completed for {', '.join(self.durations_filled)} (the other inputs have one)")
        return "\n".join(lines)


def _default_names(dirs: list[Path]) -> list[str]:
    names = [d.resolve().name for d in dirs]
    if len(set(names)) < len(names):
        names = [f"{d.resolve().parent.name}_{d.resolve().name}" for d in dirs]
    return names


def combine_data_dirs(out: str | os.PathLike, dirs: Sequence[str | os.PathLike], *,
                      names: Sequence[str] | None = None,
                      prefix: Literal["auto", "always", "never"] = "auto") -> CombineReport:
    """Merge ``dirs`` into the data dir ``out`` (see the module doc); returns the report."""
    paths = [Path(d) for d in dirs]
    if len(paths) < 1:
        raise DataDirError("combine: no input data dirs")
    out = Path(out)
    if any(p.resolve() == out.resolve() for p in paths):
        raise DataDirError(f"combine: output {out} is also an input")
    names = list(names) if names is not None else _default_names(paths)
    if len(names) != len(paths) or len(set(names)) != len(names) or not all(n and n.isprintable() and
                                                                            " " not in n for n in names):
        raise DataDirError(f"combine: need {len(paths)} distinct names without spaces, got {names}")
    for p in paths:
        validate_data_dir(p)
    for table in _CHECKED:
        have = [p for p in paths if (p / table).exists()]
        if have and len(have) != len(paths):
            lacking = next(p for p in paths if not (p / table).exists())
            raise DataDirError(f"combine: {lacking} has no {table} but {have[0]} has: the combined dir would be "
                               f"inconsistent (align/prepare it first, or leave it out)")
    loaded = [DataDir.load(p) for p in paths]
    with_dur = [bool(d.utt2dur) for d in loaded]
    fill_durations = any(with_dur) and not all(with_dur)
    utt_seen: dict[str, str] = {}
    spk_seen: dict[str, str] = {}
    clash = ""
    for name, d in zip(names, loaded):
        for u in d.utt2spk:
            if u in utt_seen and not clash:
                clash = f"utterance '{u}' is in {utt_seen[u]} and {name}"
            utt_seen.setdefault(u, name)
        for s in set(d.utt2spk.values()):
            if s in spk_seen and not clash:
                clash = f"speaker '{s}' is in {spk_seen[s]} and {name}"
            spk_seen.setdefault(s, name)
    if clash and prefix == "never":
        raise DataDirError(f"combine: {clash} (use prefix 'auto' or 'always' to keep them apart)")
    prefixed = prefix == "always" or bool(clash)
    result = DataDir()
    ctm_lines: list[str] = []
    report = CombineReport(out, names, prefixed)
    for name, d, p in zip(names, loaded, paths):
        f = (lambda x, n=name: f"{n}-{x}") if prefixed else (lambda x: x)
        result.utt2spk.update({f(u): f(s) for u, s in d.utt2spk.items()})
        result.text.update({f(u): t for u, t in d.text.items()})
        if fill_durations and not d.utt2dur:
            durations = {u: round(v, 4) for u, v in utterance_durations(d)[0].items()}
            report.durations_filled.append(name)
        else:
            durations = d.utt2dur
        result.utt2dur.update({f(u): v for u, v in durations.items()})
        result.spk2gender.update({f(s): g for s, g in d.spk2gender.items()})
        result.wav_scp.update({f(r): e for r, e in d.wav_scp.items()})
        result.segments.update({f(u): Segment(f(s.recording), s.start, s.end) for u, s in d.segments.items()})
        result.word_segments += [WordSegment(f(w.seg_id), f(w.utt), w.start, w.end, w.word) for w in d.word_segments]
        if (p / PHONES_CTM).exists():
            for utt, phones in read_ctm(p / PHONES_CTM).items():
                ctm_lines += [f"{f(utt)} 1 {format_time(a.start)} {format_time(a.end - a.start)} {a.word}"
                              for a in phones]
        report.counts.append((d.num_utts, d.num_speakers, len(d.word_segments)))
    result.save(out)
    write_ctm_lines(out / PHONES_CTM, ctm_lines)
    return report
