"""LibriSpeech (and the synthetic corpus, same layout) -> Kaldi data dir with word segments.

Input layout: ``<corpus>/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac`` plus one
``<spk>-<chapter>.trans.txt`` per chapter (``UTT WORD WORD ...``). Output: ``wav.scp`` (absolute
paths), ``text``, ``utt2spk``/``spk2utt`` (speaker = reader id, the directory name; Kaldi's
recipe uses reader-chapter, but speaker embeddings need the person), ``utt2dur`` (from the audio
headers), ``spk2gender`` (when ``<corpus>/SPEAKERS.TXT`` exists) and ``word_segments`` from word
alignments (see :mod:`speechdis.data.alignments` for formats and segment ids).

Nothing is dropped silently: transcript lines whose audio is missing or unreadable, audio without a
transcript, ids that do not match their directory, utterances without alignment, alignments of
utterances not in the subset, alignments that disagree with the transcript and segments outside
the audio are all listed in the returned :class:`PrepareReport`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from speechdis.data.alignments import AlignmentFormat, alignments_to_word_segments, load_alignments
from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment
from speechdis.data.validate import validate_data_dir
from speechdis.errors import AudioError, DataDirError

__all__ = ["PrepareReport", "prepare_librispeech", "read_speakers_txt"]

_AUDIO_EXTS = (".flac", ".wav")
# Word ends may overrun the audio by rounding in the aligner's frame grid; beyond this it is an error.
_END_TOLERANCE = 0.05


@dataclass
class PrepareReport:
    """Counts and every problem found while preparing one subset."""

    corpus: Path
    subset: str
    out_dir: Path
    utts: int = 0
    speakers: int = 0
    chapters: int = 0
    word_tokens: int = 0
    vocabulary: int = 0
    hours: float = 0.0
    missing_audio: list[str] = field(default_factory=list)  # transcript line, no audio file
    unreadable_audio: dict[str, str] = field(default_factory=dict)  # utt -> reason (excluded)
    untranscribed_audio: list[str] = field(default_factory=list)  # audio file, no transcript line
    bad_ids: list[str] = field(default_factory=list)  # "file:line: id" not matching its directory / dup
    alignment_source: Path | None = None
    alignment_files: int = 0
    aligned_utts: int = 0  # utterances with at least one word segment
    unaligned_utts: list[str] = field(default_factory=list)  # in the subset, no alignment found
    unknown_alignment_utts: list[str] = field(default_factory=list)  # aligned, not in the subset
    duplicate_alignments: list[str] = field(default_factory=list)
    mismatched: dict[str, str] = field(default_factory=dict)  # utt -> first difference
    segments: int = 0
    segment_vocabulary: int = 0
    silences_skipped: int = 0
    unknown_skipped: int = 0
    empty_spans_skipped: int = 0
    beyond_audio: list[str] = field(default_factory=list)  # segment ids dropped (past the end)
    warnings: list[str] = field(default_factory=list)  # from validate_data_dir

    def summary(self, max_items: int = 5) -> str:
        """Multi-line human-readable summary (the CLI prints it)."""

        def items(xs) -> str:
            xs = list(xs)
            return ", ".join(xs[:max_items]) + (f", ... (+{len(xs) - max_items})" if len(xs) > max_items else "")

        lines = [
            f"{self.subset}: {self.utts} utterances, {self.speakers} speakers, {self.chapters} chapters, "
            f"{self.hours:.2f} h, {self.word_tokens} words ({self.vocabulary} distinct) -> {self.out_dir}",
        ]
        if self.alignment_source is None:
            lines.append("alignments: not used")
        else:
            lines.append(f"alignments: {self.alignment_files} file(s) under {self.alignment_source}; "
                         f"{self.segments} word segments ({self.segment_vocabulary} distinct words) "
                         f"in {self.aligned_utts} utterances; skipped {self.silences_skipped} silences, "
                         f"{self.unknown_skipped} unknown-word tokens")
        problems = [
            ("transcribed but audio missing", self.missing_audio),
            ("unreadable audio (excluded)", [f"{u} ({r})" for u, r in self.unreadable_audio.items()]),
            ("audio without transcript", self.untranscribed_audio),
            ("bad or duplicate ids (skipped)", self.bad_ids),
            ("utterances without alignment", self.unaligned_utts),
            ("alignments for utterances not in the subset", self.unknown_alignment_utts),
            ("utterances aligned in more than one file (first kept)", self.duplicate_alignments),
            ("alignments disagreeing with the transcript (no segments)",
             [f"{u} [{d}]" for u, d in self.mismatched.items()]),
            ("segments past the end of the audio (dropped)", self.beyond_audio),
        ]
        for what, xs in problems:
            if xs:
                lines.append(f"WARNING: {len(xs)} {what}: {items(xs)}")
        if self.empty_spans_skipped:
            lines.append(f"WARNING: {self.empty_spans_skipped} zero-length word spans dropped")
        for w in self.warnings[:max_items]:
            lines.append(f"WARNING: {w}")
        return "\n".join(lines)


def read_speakers_txt(path: str | os.PathLike) -> dict[str, str]:
    """LibriSpeech ``SPEAKERS.TXT`` -> {reader id: 'm'|'f'} (``;`` lines are comments)."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2 and parts[1].upper() in ("M", "F"):
            out[parts[0]] = parts[1].lower()
    return out


def _audio_duration(path: Path) -> float:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile errors come in several classes; all mean "unreadable"
        raise AudioError(f"{path}: cannot read audio header: {e}") from e
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    return info.frames / info.samplerate


def prepare_librispeech(
    corpus: str | os.PathLike,
    subset: str,
    out_dir: str | os.PathLike,
    alignments: str | os.PathLike | None = None,
    alignment_format: AlignmentFormat = "auto",
    use_alignments: bool = True,
) -> PrepareReport:
    """Build a Kaldi data dir for ``<corpus>/<subset>`` in ``out_dir`` and return what happened.

    ``alignments``: a file or directory searched recursively for TextGrid / ``*.alignment.txt`` /
    CTM files; default: the subset directory itself (where per-chapter ``*.alignment.txt`` files
    live). An explicitly given source with no alignment files is an error; the default with none
    just yields no ``word_segments``. ``use_alignments=False`` skips alignments entirely.
    Raises DataDirError when the subset is missing or has no usable utterance.
    """
    corpus = Path(corpus).resolve()
    out_dir = Path(out_dir)
    root = corpus / subset
    if not root.is_dir():
        avail = sorted(p.name for p in corpus.iterdir() if p.is_dir()) if corpus.is_dir() else []
        raise DataDirError(f"{root}: no such subset directory"
                           + (f" (available: {', '.join(avail)})" if avail else ""))
    report = PrepareReport(corpus=corpus, subset=subset, out_dir=out_dir)
    d = DataDir()
    transcribed: set[Path] = set()
    chapters = set()
    for trans in sorted(root.glob("*/*/*.trans.txt")):
        chapter_dir = trans.parent
        spk, chapter = chapter_dir.parent.name, chapter_dir.name
        prefix = f"{spk}-{chapter}-"
        for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            utt, words = parts[0], parts[1:]
            where = f"{trans.relative_to(corpus)}:{lineno}: {utt}"
            if not utt.startswith(prefix) or len(utt) == len(prefix):
                report.bad_ids.append(where + f" (expected prefix {prefix})")
                continue
            if utt in d.utt2spk:
                report.bad_ids.append(where + " (duplicate)")
                continue
            audio = next((chapter_dir / f"{utt}{ext}" for ext in _AUDIO_EXTS
                          if (chapter_dir / f"{utt}{ext}").is_file()), None)
            if audio is None:
                report.missing_audio.append(utt)
                continue
            transcribed.add(audio)
            try:
                dur = _audio_duration(audio)
            except AudioError as e:
                report.unreadable_audio[utt] = str(e).split(": ", 1)[-1]
                continue
            d.wav_scp[utt] = str(audio)
            d.text[utt] = " ".join(words)
            d.utt2spk[utt] = spk
            d.utt2dur[utt] = dur
            chapters.add((spk, chapter))
    for ext in _AUDIO_EXTS:
        for audio in sorted(root.glob(f"*/*/*{ext}")):
            if audio not in transcribed:
                report.untranscribed_audio.append(audio.stem)
    if not d.utt2spk:
        raise DataDirError(f"{root}: no usable utterances (no */*/*.trans.txt with matching audio)")

    speakers_txt = corpus / "SPEAKERS.TXT"
    if speakers_txt.is_file():
        genders = read_speakers_txt(speakers_txt)
        d.spk2gender = {s: genders[s] for s in set(d.utt2spk.values()) if s in genders}

    if use_alignments:
        explicit = alignments is not None
        source = Path(alignments).resolve() if explicit else root
        aset = load_alignments(source, alignment_format)
        if explicit and not aset.files:
            raise DataDirError(f"{source}: no alignment files found (format {alignment_format})")
        report.alignment_source = source
        report.alignment_files = len(aset.files)
        report.duplicate_alignments = sorted(set(aset.duplicates))
        if aset.files:
            report.unknown_alignment_utts = sorted(u for u in aset.words if u not in d.utt2spk)
            segs, stats = alignments_to_word_segments(aset.words, d.text, utts=d.utt2spk)
            kept: list[WordSegment] = []
            for s in segs:
                dur = d.utt2dur[s.utt]
                if s.end > dur + _END_TOLERANCE or s.start >= dur:
                    report.beyond_audio.append(s.seg_id)
                    continue
                if s.end > dur:  # rounding overrun: clip to the audio
                    s = WordSegment(s.seg_id, s.utt, s.start, dur, s.word)
                kept.append(s)
            d.word_segments = kept
            report.mismatched = stats.mismatched
            report.silences_skipped = stats.silences
            report.unknown_skipped = stats.unknown
            report.empty_spans_skipped = stats.empty_spans
            report.segments = len(kept)
            report.segment_vocabulary = len({s.word for s in kept})
            report.aligned_utts = len({s.utt for s in kept})
            report.unaligned_utts = sorted(u for u in d.utt2spk if u not in aset.words)

    d.save(out_dir)
    report.warnings = validate_data_dir(out_dir)
    report.utts = d.num_utts
    report.speakers = d.num_speakers
    report.chapters = len(chapters)
    tokens = [w for t in d.text.values() for w in t.split()]
    report.word_tokens = len(tokens)
    report.vocabulary = len(set(tokens))
    report.hours = sum(d.utt2dur.values()) / 3600.0
    return report
