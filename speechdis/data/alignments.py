"""Word alignments -> ``word_segments``: MFA TextGrids, LibriSpeech ``*.alignment.txt``, CTM.

Every reader returns ``{utt: [AlignedWord, ...]}`` in time order, silences included where the format
has them (empty word). :func:`alignments_to_word_segments` then drops silences and unknown-word
tokens, checks the words against the transcripts and names the segments.

Segment ids are ``<utt>_<k:04d>``, with k the 0-based position of the word in the utterance's
word sequence (silences not counted, dropped ``<unk>``-like tokens counted), so ``<utt>_0003`` is
always the utterance's 4th word and ids stay stable when unknown words are dropped.

Formats
-------
* TextGrid (Praat, long or short text format, UTF-8 or UTF-16): the ``words`` interval tier
  (name ``words`` case-insensitively, else a tier whose name ends in ``words``, e.g. MFA's
  ``spk - words``); utterance id = file stem. MFA layouts ``<dir>/<spk>/<utt>.TextGrid`` and flat
  ``<dir>/<utt>.TextGrid`` both work (searched recursively).
* ``*.alignment.txt`` (one per chapter): ``UTT ",W1,W2,,W3," "0.21,0.54,..."``: comma-separated
  words (empty = silence) and their END times; word k spans [end[k-1], end[k]) with end[-1] = 0.
* CTM: ``utt channel start duration word [confidence]``; gaps are silence.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping

from speechdis.data.tables import WordSegment
from speechdis.errors import DataDirError
from speechdis.fileio import atomic_open

__all__ = [
    "AlignedWord",
    "AlignmentSet",
    "SegmentStats",
    "read_textgrid",
    "write_ctm_lines",
    "read_textgrid_words",
    "read_alignment_txt",
    "read_ctm",
    "find_alignment_files",
    "load_alignments",
    "is_silence",
    "is_unknown",
    "alignments_to_word_segments",
    "segment_id",
]

AlignmentFormat = Literal["auto", "textgrid", "alignment-txt", "ctm"]

_SILENCE = {"", "sil", "sp", "spn_sil", "<sil>", "!sil", "<eps>", "silence", "<silence>"}
# Noise / unknown-word markers used by Kaldi, MFA and LibriSpeech tools.
_UNKNOWN = {"spn", "nsn", "<unk>", "unk", "[unk]", "<oov>", "<spoken_noise>", "[noise]", "<noise>",
            "[laughter]", "<laughter>", "[vocalized-noise]"}


@dataclass(frozen=True)
class AlignedWord:
    """One aligned token: ``word`` from ``start`` to ``end`` seconds (word "" = silence)."""

    word: str
    start: float
    end: float


def is_silence(word: str) -> bool:
    """Silence markers: empty, ``sil``, ``sp``, ``<eps>``, ... (case-insensitive)."""
    return word.strip().lower() in _SILENCE


def is_unknown(word: str) -> bool:
    """Unknown-word / noise tokens: ``<unk>``, ``spn``, ``[noise]``, any ``<...>``/``[...]`` token."""
    w = word.strip().lower()
    return w in _UNKNOWN or (len(w) > 2 and ((w[0] == "<" and w[-1] == ">") or (w[0] == "[" and w[-1] == "]")))


def segment_id(utt: str, k: int) -> str:
    """Segment id of the k-th (0-based) word of ``utt``: ``<utt>_<k:04d>``."""
    return f"{utt}_{k:04d}"


# --------------------------------------------------------------------------------------------
# TextGrid

# Praat's text formats are one token stream; the long format only adds "key =" labels and
# "[n]:" indices, which we drop, so both formats parse the same way.
_TG_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|-?\.\d+(?:[eE][-+]?\d+)?)'
                       r'|(<exists>|<absent>)|(\[\d*\]:?)|([A-Za-z_][A-Za-z_0-9]*\??\s*(?:=|:)?)|(\S)')


def _read_text_any(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        return raw.decode("utf-16")
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise DataDirError(f"{path}: cannot decode")  # pragma: no cover - latin-1 always decodes


def read_textgrid(path: str | os.PathLike) -> dict[str, list[tuple[float, float, str]]]:
    """Parse a Praat TextGrid (long or short text format) -> {tier name: [(xmin, xmax, text)]}.

    Point tiers (TextTier) are returned with xmin == xmax. Raises DataDirError naming the file on
    malformed input.
    """
    path = Path(path)
    try:
        text = _read_text_any(path)
    except OSError as e:
        raise DataDirError(f"{path}: cannot read: {e}") from e
    tokens: list[object] = []
    for m in _TG_TOKEN.finditer(text):
        s, num, flag, _index, _label, other = m.groups()
        if s is not None:
            tokens.append(s.replace('""', '"'))
        elif num is not None:
            tokens.append(float(num))
        elif flag is not None:
            tokens.append(flag)
        elif other is not None and other not in "=:":
            raise DataDirError(f"{path}: unexpected character {other!r} in TextGrid")
    pos = 0

    def take(kind: type, what: str):
        nonlocal pos
        if pos >= len(tokens):
            raise DataDirError(f"{path}: truncated TextGrid (expected {what})")
        tok = tokens[pos]
        pos += 1
        if kind is float and not isinstance(tok, float):
            raise DataDirError(f"{path}: malformed TextGrid: expected {what} (a number), got {tok!r}")
        if kind is str and not isinstance(tok, str):
            raise DataDirError(f"{path}: malformed TextGrid: expected {what} (a string), got {tok!r}")
        return tok

    if take(str, "file type") != "ooTextFile":
        raise DataDirError(f"{path}: not a Praat text file (no 'ooTextFile' header)")
    if take(str, "object class") != "TextGrid":
        raise DataDirError(f"{path}: not a TextGrid")
    take(float, "xmin")
    take(float, "xmax")
    tiers: dict[str, list[tuple[float, float, str]]] = {}
    flag = take(str, "<exists>")
    if flag == "<absent>":
        return tiers
    n_tiers = int(take(float, "tier count"))
    for _ in range(n_tiers):
        cls = take(str, "tier class")
        name = take(str, "tier name")
        take(float, "tier xmin")
        take(float, "tier xmax")
        n = int(take(float, "interval count"))
        items = []
        for _ in range(n):
            if cls == "IntervalTier":
                a = take(float, "interval xmin")
                b = take(float, "interval xmax")
                items.append((a, b, take(str, "interval text")))
            elif cls == "TextTier":
                t = take(float, "point time")
                items.append((t, t, take(str, "point mark")))
            else:
                raise DataDirError(f"{path}: unknown tier class {cls!r}")
        tiers[name] = items
    return tiers


def read_textgrid_words(path: str | os.PathLike, tier: str | None = None) -> list[AlignedWord]:
    """The words tier of a TextGrid as AlignedWords (empty intervals = silence), time-sorted."""
    path = Path(path)
    tiers = read_textgrid(path)
    if tier is not None:
        if tier not in tiers:
            raise DataDirError(f"{path}: no tier named '{tier}' (tiers: {', '.join(tiers) or 'none'})")
        name = tier
    else:
        exact = [t for t in tiers if t.strip().lower() == "words"]
        suffix = [t for t in tiers if t.strip().lower().endswith("words")]
        if exact:
            name = exact[0]
        elif len(suffix) == 1:
            name = suffix[0]
        else:
            raise DataDirError(f"{path}: cannot find the words tier (tiers: {', '.join(tiers) or 'none'})")
    return sorted((AlignedWord(t.strip(), a, b) for a, b, t in tiers[name]), key=lambda w: (w.start, w.end))


# --------------------------------------------------------------------------------------------
# alignment.txt and CTM

def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataDirError(f"{path}: cannot read: {e}") from e


def read_alignment_txt(path: str | os.PathLike) -> dict[str, list[AlignedWord]]:
    """Parse a LibriSpeech ``*.alignment.txt`` file -> {utt: words incl. silences}."""
    path = Path(path)
    out: dict[str, list[AlignedWord]] = {}
    lines = _read_lines(path)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise DataDirError(f"{path}:{lineno}: expected 'UTT \"WORDS\" \"END_TIMES\"', got {len(parts)} fields")
        utt, words_f, times_f = parts
        words = words_f.strip('"').split(",")
        times_s = times_f.strip('"').split(",")
        if len(words) != len(times_s):
            raise DataDirError(f"{path}:{lineno}: '{utt}': {len(words)} words but {len(times_s)} times")
        if utt in out:
            raise DataDirError(f"{path}:{lineno}: '{utt}': duplicate utterance")
        items = []
        prev = 0.0
        for w, t in zip(words, times_s):
            try:
                end = float(t)
            except ValueError:
                raise DataDirError(f"{path}:{lineno}: '{utt}': time '{t}' is not a number") from None
            if end < prev:
                raise DataDirError(f"{path}:{lineno}: '{utt}': end times decrease ({prev} then {end})")
            items.append(AlignedWord(w, prev, end))
            prev = end
        out[utt] = items
    return out


def read_ctm(path: str | os.PathLike) -> dict[str, list[AlignedWord]]:
    """Parse a CTM file (``utt channel start duration word [conf]``) -> {utt: words}, time-sorted."""
    path = Path(path)
    out: dict[str, list[AlignedWord]] = {}
    lines = _read_lines(path)
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith(";;"):
            continue
        parts = line.split()
        if len(parts) not in (5, 6):
            raise DataDirError(f"{path}:{lineno}: expected 'utt channel start duration word [conf]', "
                               f"got {len(parts)} fields")
        utt, _ch, s, d, word = parts[:5]
        try:
            start, dur = float(s), float(d)
        except ValueError:
            raise DataDirError(f"{path}:{lineno}: '{utt}': start/duration '{s} {d}' are not numbers") from None
        if dur < 0:
            raise DataDirError(f"{path}:{lineno}: '{utt}': negative duration {d}")
        out.setdefault(utt, []).append(AlignedWord(word, start, start + dur))
    for words in out.values():
        words.sort(key=lambda w: (w.start, w.end))
    return out



def write_ctm_lines(path: str | os.PathLike, lines: list[str]) -> None:
    """Write CTM ``lines`` (``utt 1 start duration word``) to ``path`` atomically, sorted by utterance (stably:
    the time order within an utterance is kept); with no lines, remove ``path`` if it exists."""
    path = Path(path)
    if not lines:
        if path.exists():
            path.unlink()
        return
    with atomic_open(path) as fh:
        fh.writelines(line + "\n" for line in sorted(lines, key=lambda line: line.split(" ", 1)[0]))

# --------------------------------------------------------------------------------------------
# Collections of files

_SUFFIXES = {"textgrid": (".textgrid",), "alignment-txt": (".alignment.txt",), "ctm": (".ctm",)}


def _format_of(p: Path) -> str | None:
    name = p.name.lower()
    for fmt, sufs in _SUFFIXES.items():
        if any(name.endswith(s) for s in sufs):
            return fmt
    return None


def find_alignment_files(source: str | os.PathLike, fmt: AlignmentFormat = "auto") -> list[tuple[Path, str]]:
    """[(file, format)] under ``source`` (a file or a directory searched recursively), sorted by path."""
    source = Path(source)
    if not source.exists():
        raise DataDirError(f"{source}: alignment source does not exist")
    # os.walk(followlinks=True): alignment trees are often symlinked in, and Path.rglob skips those.
    candidates = [source] if source.is_file() else sorted(
        Path(d) / f for d, _, files in os.walk(source, followlinks=True) for f in files)
    out = []
    for p in candidates:
        f = _format_of(p)
        if f is None and source.is_file() and fmt != "auto":
            f = fmt  # an explicitly named file may have any extension
        if f is None or (fmt != "auto" and f != fmt):
            continue
        out.append((p, f))
    return out


@dataclass
class AlignmentSet:
    """Alignments gathered from files: ``words[utt]`` plus where they came from and what clashed."""

    words: dict[str, list[AlignedWord]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # utts aligned in more than one file (first kept)


def load_alignments(source: str | os.PathLike, fmt: AlignmentFormat = "auto") -> AlignmentSet:
    """Read every alignment file under ``source`` (file or directory, recursive) into one AlignmentSet."""
    result = AlignmentSet()
    for path, f in find_alignment_files(source, fmt):
        if f == "textgrid":
            per_file = {path.name[: -len(".TextGrid")]: read_textgrid_words(path)}
        elif f == "alignment-txt":
            per_file = read_alignment_txt(path)
        else:
            per_file = read_ctm(path)
        result.files.append(path)
        for utt, words in per_file.items():
            if utt in result.words:
                result.duplicates.append(utt)
                continue
            result.words[utt] = words
    return result


# --------------------------------------------------------------------------------------------
# To word segments

@dataclass
class SegmentStats:
    """What happened while turning alignments into word segments."""

    segments: int = 0
    utts: int = 0  # utterances that produced segments
    silences: int = 0  # silence tokens dropped
    unknown: int = 0  # <unk>-like tokens dropped
    unknown_words: Counter = field(default_factory=Counter)
    empty_spans: int = 0  # words with end <= start (dropped)
    mismatched: dict[str, str] = field(default_factory=dict)  # utt -> what differs from the transcript


def _describe_mismatch(aligned: list[str], ref: list[str]) -> str:
    for i, (a, r) in enumerate(zip(aligned, ref)):
        if a != r:
            return f"word {i}: alignment '{a}' vs transcript '{r}'"
    return f"alignment has {len(aligned)} words, transcript {len(ref)}"


def alignments_to_word_segments(alignments: Mapping[str, list[AlignedWord]],
                                transcripts: Mapping[str, str] | None = None,
                                utts: Iterable[str] | None = None) -> tuple[list[WordSegment], SegmentStats]:
    """Word segments of the aligned utterances (``utts``: restrict to these), sorted by id.

    Silences and unknown-word tokens are dropped (counted in the stats). With ``transcripts``,
    the aligned word sequence must equal the transcript's (case-insensitive; an unknown-word
    token matches any transcript word); an utterance that disagrees gets no segments and is listed
    in ``stats.mismatched`` with the first difference. Segment words take the transcript's
    spelling when available (so they match ``text``), else the alignment's.
    """
    stats = SegmentStats()
    wanted = set(utts) if utts is not None else None
    segs: list[WordSegment] = []
    for utt in sorted(alignments):
        if wanted is not None and utt not in wanted:
            continue
        words = [w for w in alignments[utt] if not is_silence(w.word)]
        stats.silences += len(alignments[utt]) - len(words)
        ref = transcripts.get(utt).split() if transcripts is not None and utt in transcripts else None
        if ref is not None:
            aligned = [w.word.upper() for w in words]
            ref_up = [r.upper() for r in ref]
            ok = len(aligned) == len(ref_up) and all(
                a == r or is_unknown(a) for a, r in zip(aligned, ref_up))
            if not ok:
                stats.mismatched[utt] = _describe_mismatch(aligned, ref_up)
                continue
        produced = 0
        for k, w in enumerate(words):
            if is_unknown(w.word):
                stats.unknown += 1
                stats.unknown_words[w.word] += 1
                continue
            if not w.end > w.start:
                stats.empty_spans += 1
                continue
            label = ref[k] if ref is not None else w.word
            segs.append(WordSegment(segment_id(utt, k), utt, w.start, w.end, label))
            produced += 1
        if produced:
            stats.utts += 1
    segs.sort(key=lambda s: s.seg_id)
    stats.segments = len(segs)
    return segs, stats
