"""Evaluation data from plain folders of audio (``speechdis evaluate std --queries DIR --archive DIR``).

The files and their word labels become a Kaldi data dir (``wav.scp``, ``utt2spk``, ``text``,
``word_segments``), which the data-dir machinery then evaluates (:func:`~speechdis.eval.data.eval_features`,
:func:`~speechdis.eval.data.load_eval_data`, :func:`~speechdis.eval.tasks.std.run_std`): the query files'
segments are searched for in the archive files' segments (:attr:`EvalData.query_mask`).

Labels (``labels``):

* ``filename``: a regular expression searched in each file's path below its folder, without the extension,
  with ``/`` between folders; its group ``word`` (or its first group) is the label, an optional group
  ``speaker`` the speaker. Default :data:`LABEL_RULES` ``filename``: the file name up to its first ``_``,
  ``-``, ``.`` or space (``yes_01.wav`` → ``yes``, ``up-3.flac`` → ``up``); ``folder``: the name of the
  folder holding the file (``yes/0a7c2a8d_nohash_0.wav`` → ``yes``, Speech Commands' layout).
* a TSV file: ``path<TAB>word`` (the whole file is the word), ``path<TAB>word<TAB>speaker``,
  ``path<TAB>word<TAB>start<TAB>end`` (seconds: a word inside a long file; a file may have many lines) or
  that with a fifth column, the speaker. A relative path is looked up below ``queries`` and ``archive``;
  blank lines and lines starting with ``#`` are skipped.

A file without a speaker is its own speaker (cross-speaker QbE then leaves out only the query's own file).
A word that is a whole file is the file's energy-trimmed span when ``trim`` is given (as ``extract`` and
``prepare`` trim clips; the packaged models trim), else the whole file. A file no rule labels, a TSV path
that is in neither folder and a folder without audio are errors naming the file or line; with
``skip_unlabelled`` unlabelled files are left out, counted and listed (:attr:`FolderData.skipped`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment
from speechdis.errors import AudioError, ConfigError, DataDirError
from speechdis.eval.data import EvalData
from speechdis.fileio import atomic_open
from speechdis.inference.inputs import AUDIO_EXTENSIONS, find_audio_files

__all__ = ["LABEL_RULES", "FolderData", "folder_data_dir", "with_folder_roles"]

LABEL_RULES = {
    "filename": r"(?P<word>[^/_\-.\s]+)[^/]*$",
    "folder": r"(?P<word>[^/]+)/[^/]+$",
}
SKIPPED_FILES = "skipped_files.txt"  # in the data dir made: "file: why" per file left out
_SIDES = ("q", "a")  # utterance-id prefixes of query and archive files
_NAMES = {"queries": "query", "archive": "archive"}
_END_SLACK = 0.05  # seconds a TSV end may pass the file's end (rounded times), cut to the end


@dataclass
class FolderData:
    """The data dir made from the folders and what went into it."""

    data_dir: Path
    query_utts: set[str]  # empty: no --queries folder (every archive segment is a query candidate)
    files: dict[str, int]  # audio files found: {"queries": n, "archive": n}
    labels: str  # the rule, for the report
    skipped: list[str] = field(default_factory=list)  # "file: why" of files left out

    def describe(self) -> dict[str, int | str]:
        """For the report's data section."""
        out: dict[str, int | str] = {"labels": self.labels,
                                     **{f"{_NAMES[k]}_files": v for k, v in self.files.items()}}
        if self.skipped:
            out["skipped_files"] = f"{len(self.skipped)} (listed in {self.data_dir / SKIPPED_FILES})"
        return out


@dataclass
class _Label:
    word: str
    speaker: str | None = None
    span: tuple[float, float] | None = None  # None: the whole file
    where: str = ""  # "tsv:line" for messages


def _clean(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip())


def _rel(path: Path, root: Path) -> str:
    return _abs(path).relative_to(_abs(root)).with_suffix("").as_posix()


def _abs(path: Path) -> Path:
    # Absolute and normalised, but links kept: a folder of symlinks is labelled by the links' names.
    return Path(os.path.abspath(path))


def _compile(pattern: str) -> re.Pattern:
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ConfigError(f"--label-regex {pattern!r}: not a regular expression ({e})") from e
    if "word" not in rx.groupindex and rx.groups == 0:
        raise ConfigError(f"--label-regex {pattern!r}: needs a group for the word, e.g. (?P<word>...)")
    return rx


def _regex_label(rx: re.Pattern, rel: str) -> _Label | None:
    m = rx.search(rel)
    if m is None:
        return None
    word = m.group("word") if "word" in rx.groupindex else m.group(1)
    if not word or not word.strip():
        return None
    spk = m.group("speaker") if "speaker" in rx.groupindex else None
    return _Label(_clean(word), _clean(spk) if spk and spk.strip() else None)


def _seconds(text: str, tsv: Path, lineno: int, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise DataDirError(f"{tsv}:{lineno}: {what} {text!r} is not a number of seconds") from None
    if not (v >= 0 and v < float("inf")):
        raise DataDirError(f"{tsv}:{lineno}: {what} {text!r} must be finite and >= 0 seconds")
    return v


def _read_tsv(tsv: Path, roots: dict[str, Path]) -> dict[Path, list[_Label]]:
    """{resolved audio file: its labels} from a labels TSV (module doc)."""
    if not tsv.is_file():
        raise DataDirError(f"{tsv}: no such labels file (--labels takes filename, folder or a TSV file)")
    out: dict[Path, list[_Label]] = {}
    for lineno, line in enumerate(tsv.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.rstrip("\r\n").split("\t")
        if len(cols) not in (2, 3, 4, 5) or not all(c.strip() for c in cols):
            raise DataDirError(f"{tsv}:{lineno}: expected path<TAB>word[<TAB>speaker] or "
                               f"path<TAB>word<TAB>start<TAB>end[<TAB>speaker], got {len(cols)} column(s): {line!r}")
        raw = Path(cols[0].strip())
        found = [raw] if raw.is_absolute() else [r / raw for r in dict.fromkeys(roots.values())]
        found = [_abs(p) for p in found if p.is_file()]
        if not found:
            where = " or ".join(str(r) for r in dict.fromkeys(roots.values()))
            raise DataDirError(f"{tsv}:{lineno}: {raw}: no such audio file" + ("" if raw.is_absolute() else
                                                                              f" below {where}"))
        if len(set(found)) > 1:
            raise DataDirError(f"{tsv}:{lineno}: {raw} is in both --queries and --archive; give its full path")
        span, spk = None, None
        if len(cols) >= 4:
            span = (_seconds(cols[2], tsv, lineno, "start"), _seconds(cols[3], tsv, lineno, "end"))
            if not span[1] > span[0]:
                raise DataDirError(f"{tsv}:{lineno}: end {cols[3]} is not after start {cols[2]}")
        if len(cols) in (3, 5):
            spk = _clean(cols[-1])
        labels = out.setdefault(found[0], [])
        if span is None and labels or labels and labels[0].span is None:
            raise DataDirError(f"{tsv}:{lineno}: {raw} has a whole-file label and another line "
                               f"(give start and end for every word of a file with several)")
        labels.append(_Label(_clean(cols[1]), spk, span, f"{tsv}:{lineno}"))
    return out


def folder_data_dir(archive: str | os.PathLike, out_dir: str | os.PathLike, queries: str | os.PathLike | None = None,
                    labels: str = "filename", label_regex: str | None = None, trim: dict | None = None,
                    skip_unlabelled: bool = False) -> FolderData:
    """Write the data dir of ``archive`` (and ``queries``) audio files with their word labels to ``out_dir``.

    ``labels``: ``filename``, ``folder`` or the path of a TSV (module doc); ``label_regex`` replaces the rule
    of ``filename`` / ``folder``. ``trim`` (``{"trim_db", "pad"}``): whole-file words are energy-trimmed.
    ``queries`` the same folder as ``archive`` (or None): every file is searched for and searched, as in a
    data dir. Raises :class:`DataDirError` / :class:`AudioError` / :class:`ConfigError` naming what is wrong.
    """
    from speechdis.audio.io import audio_info
    from speechdis.audio.trim import file_energy_bounds

    roots = {"archive": Path(archive)}
    if queries is not None and _abs(Path(queries)) != _abs(Path(archive)):
        roots = {"queries": Path(queries), **roots}
    files: dict[str, list[Path]] = {}
    for side, root in roots.items():
        if not root.is_dir():
            raise AudioError(f"{root}: no such folder (--{side})")
        files[side] = [_abs(f) for f in find_audio_files(root)]
        if not files[side]:
            raise AudioError(f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder or below "
                             f"(--{side})")
    if len(roots) == 2:
        both = set(files["queries"]) & set(files["archive"])
        if both:
            raise DataDirError(f"{min(both)} is in both --queries {roots['queries']} and --archive "
                               f"{roots['archive']}; give folders that do not overlap (or the same folder twice)")
    tsv: dict[Path, list[_Label]] | None = None
    if labels in LABEL_RULES:
        pattern = label_regex or LABEL_RULES[labels]
        rule = f"{labels}: /{pattern}/"
        rx = _compile(pattern)
    else:
        if label_regex is not None:
            raise ConfigError("--label-regex applies to --labels filename or folder, not to a TSV")
        tsv_path = Path(labels)
        tsv = _read_tsv(tsv_path, roots)
        rule = f"tsv: {tsv_path}"
        known = {f for fs in files.values() for f in fs}
        stray = [p for p in tsv if p not in known]
        if stray:  # an absolute path outside both folders
            raise DataDirError(f"{tsv_path}: {stray[0]} is not below {' or '.join(map(str, roots.values()))}")

    d = DataDir()
    query_utts: set[str] = set()
    skipped: list[str] = []
    seen: dict[str, Path] = {}
    for side, fs in files.items():
        prefix = _SIDES[0] if side == "queries" else _SIDES[1]
        for f in fs:
            rel = _rel(f, roots[side])
            if tsv is not None:
                labs = tsv.get(f)
                why = f"not in {labels}"
            else:
                lab = _regex_label(rx, rel)
                labs = [lab] if lab else None
                why = f"--labels {labels}{' --label-regex' if label_regex else ''} gives no word for '{rel}'"
            if not labs:
                if not skip_unlabelled:
                    raise DataDirError(f"{f}: unlabelled ({why}); label it, or give --skip-unlabelled")
                skipped.append(f"{f}: unlabelled ({why})")
                continue
            utt = f"{prefix}-{_clean(rel).replace('/', '-')}"
            spk = labs[0].speaker
            if spk is not None:
                utt = f"{spk}-{utt}"  # Kaldi order: utterance ids start with their speaker's
            if utt in seen:
                raise DataDirError(f"{f} and {seen[utt]} would share the id '{utt}'; rename one")
            seen[utt] = f
            try:
                sr, frames, _ = audio_info(f)
                duration = frames / sr
                trimmed = file_energy_bounds(f, **trim) if trim and any(lab.span is None for lab in labs) else None
            except (AudioError, RuntimeError) as e:  # soundfile's errors are RuntimeErrors
                skipped.append(f"{f}: {e}")
                continue
            d.utt2spk[utt] = spk if spk is not None else utt
            d.wav_scp[utt] = str(f)
            d.utt2dur[utt] = round(duration, 4)
            words = []
            for k, lab in enumerate(labs):
                if lab.span is None:
                    span = trimmed or (0.0, round(duration, 4))
                else:
                    span = lab.span
                    if span[1] > duration + _END_SLACK:
                        raise DataDirError(f"{lab.where}: end {span[1]:g} s is past the end of {f} "
                                           f"({duration:.3f} s)")
                    span = (span[0], min(span[1], round(duration, 4)))
                d.word_segments.append(WordSegment(f"{utt}-{k:04d}", utt, span[0], span[1], lab.word))
                words.append(lab.word)
            d.text[utt] = " ".join(words)
            if side == "queries":
                query_utts.add(utt)
    if not d.utt2spk:
        raise DataDirError(f"no usable audio: all {sum(map(len, files.values()))} files were skipped "
                           f"(e.g. {skipped[0]})")
    d.word_segments.sort(key=lambda s: s.seg_id)
    d.save(Path(out_dir))
    listing = Path(out_dir) / SKIPPED_FILES
    if skipped:
        with atomic_open(listing) as fh:
            fh.write("".join(f"{line}\n" for line in skipped))
    else:
        listing.unlink(missing_ok=True)
    return FolderData(Path(out_dir), query_utts, {k: len(v) for k, v in files.items()}, rule, skipped)


def with_folder_roles(data: EvalData, folders: FolderData) -> EvalData:
    """``data`` (loaded from ``folders.data_dir``) with the query files' segments marked as queries and only
    the archive files searched at utterance level; the folders' description added to its report."""
    if folders.query_utts:
        data.query_mask = np.array([u in folders.query_utts for u in data.utts], dtype=bool)
        data.utt_words = {u: w for u, w in data.utt_words.items() if u not in folders.query_utts}
    data.source = {**folders.describe(), **data.source}
    return data
