"""Forced alignment of a data dir's transcripts with PocketSphinx -> ``word_segments`` + ``phones.ctm``.

Needs the optional extra ``speechdis[align]`` (the ``pocketsphinx`` wheel, which carries the en-us
acoustic model and CMUdict: nothing is downloaded). :func:`align_data_dir` reads ``text`` and the audio
(``wav.scp``, ``segments``), resamples to 16 kHz, and writes into the data dir:

``word_segments``   ``seg-id utt start end WORD`` (the project's format; ``<utt>_<k:04d>`` with k the word's
                    position in ``text``; the word spelled as in ``text``)
``phones.ctm``      ``utt 1 start duration PHONE`` (a CTM, readable by :func:`speechdis.data.alignments.read_ctm`):
                    the CMU phones (no stress marks) of every aligned word, in time order; silences are gaps
``align_failures``  ``utt reason`` for every utterance left unaligned (absent if none)
``align_oov``       ``word count`` for transcript words in neither CMUdict nor ``--lexicon`` (absent if none)

Words are matched case-insensitively with leading/trailing punctuation stripped (``"Hello,"`` -> ``hello``);
a token that is only punctuation is not a word. A user lexicon (``WORD PH1 PH2 ...``, stress digits allowed)
adds pronunciations for words CMUdict lacks. An utterance with an out-of-dictionary word is not aligned
(reason ``oov: w1 w2``).

Each utterance is tried with the :data:`DEFAULT_ATTEMPTS` in turn until one aligns every word at word and
phone level. Measured on speechocean762 (children's/accented speech): PocketSphinx's default beams with the
audio as it is fail the phone pass on ~25 % of utterances; 0.3 s of silence padded around the audio and a
narrower beam (1e-30) bring that to 2.6 % (all 1,880 utterances), and the retries to 1.1 %.
On audio with digital-zero silences (the synthetic corpus) the word pass finds no path for a quarter of the
utterances unless Gaussian noise at -60 dBFS is added (the third attempt); on real recordings that noise hurts
(it turned 16 of 60 alignments into failures), so it is not used first.

Jobs: the sorted utterances are cut into ``nj`` speaker-contiguous jobs (:func:`job_splits`); job j writes
``<data_dir>/align/ali.<j>.jsonl`` and then ``ali.<j>.done`` (hash of its utterances and settings); a
rerun skips complete jobs (resume), ``job=K`` computes split K only (grid job arrays), and a call without
``job`` computes what is missing and merges all jobs into the files above.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from speechdis.data.datadir import DataDir, job_splits
from speechdis.data.tables import WordSegment, format_time, write_table
from speechdis.errors import ConfigError, DataDirError, SpeechdisError
from speechdis.fileio import atomic_open

__all__ = ["AlignAttempt", "DEFAULT_ATTEMPTS", "AlignReport", "UttAlignment", "Aligner", "normalize_word",
           "read_lexicon", "align_data_dir", "PHONES_CTM", "FAILURES_FILE", "OOV_FILE"]

log = logging.getLogger(__name__)

PHONES_CTM = "phones.ctm"
FAILURES_FILE = "align_failures"
OOV_FILE = "align_oov"
SAMPLE_RATE = 16000  # the en-us model's rate
_FRAME_RATE = 100.0  # PocketSphinx frames per second
_FILLERS = {"<s>", "</s>", "<sil>", "[noise]", "[speech]", "(null)"}
_ALT = re.compile(r"\(\d+\)$")
_EDGE_PUNCT = re.compile(r"^[^\w']+|[^\w']+$")


@dataclass(frozen=True)
class AlignAttempt:
    """One try: PocketSphinx beams (``-beam``, ``-wbeam``, ``-pbeam``), seconds of silence padded on both sides and
    the std of Gaussian noise added to every sample (``dither``; 1e-3 = -60 dBFS)."""

    beam: float
    wbeam: float
    pbeam: float
    pad: float
    dither: float = 0.0


# Narrow beam + padding first (see the module doc for the measured effect), then PocketSphinx's defaults
# (1e-48 / 7e-29 / 1e-48) padded, then dithered (for digital-zero silences), then wider, then the defaults on
# the audio as it is.
DEFAULT_ATTEMPTS: tuple[AlignAttempt, ...] = (
    AlignAttempt(1e-30, 1e-20, 1e-30, 0.3),
    AlignAttempt(1e-48, 7e-29, 1e-48, 0.3),
    AlignAttempt(1e-30, 1e-20, 1e-30, 0.3, dither=1e-3),
    AlignAttempt(1e-64, 1e-40, 1e-64, 0.5),
    AlignAttempt(1e-48, 7e-29, 1e-48, 0.0),
)


def normalize_word(token: str) -> str:
    """Dictionary form of a transcript token: lower case, leading/trailing punctuation stripped ("" = not a word)."""
    return _EDGE_PUNCT.sub("", token.lower())


def read_lexicon(path: str | os.PathLike) -> dict[str, list[list[str]]]:
    """``WORD PH1 PH2 ...`` lines -> {normalised word: [phones, ...]} (stress digits dropped, phones upper case)."""
    path = Path(path)
    out: dict[str, list[list[str]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataDirError(f"{path}: cannot read lexicon: {e}") from e
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or line.startswith(";;;"):
            continue
        if len(parts) < 2:
            raise DataDirError(f"{path}:{lineno}: expected 'WORD PHONE PHONE ...', got {line.strip()!r}")
        word = normalize_word(_ALT.sub("", parts[0]))
        if not word:
            raise DataDirError(f"{path}:{lineno}: {parts[0]!r} is not a word")
        phones = [re.sub(r"\d+$", "", p).upper() for p in parts[1:]]
        if phones not in out.setdefault(word, []):
            out[word].append(phones)
    return out


@dataclass
class UttAlignment:
    """The alignment of one utterance, or why there is none (``reason``)."""

    utt: str
    words: list[tuple[int, str, float, float]] = field(default_factory=list)  # (position in text, word, start, end)
    phones: list[tuple[str, float, float]] = field(default_factory=list)  # (phone, start, end)
    attempt: int = 0  # 1-based index of the attempt that succeeded (0: failed)
    reason: str = ""
    oov: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Aligner:
    """PocketSphinx forced aligner (en-us model + CMUdict + an optional user lexicon) for one process."""

    def __init__(self, lexicon: Mapping[str, list[list[str]]] | None = None,
                 attempts: Sequence[AlignAttempt] = DEFAULT_ATTEMPTS) -> None:
        try:
            import pocketsphinx  # noqa: F401
        except ImportError as e:
            raise ConfigError("forced alignment needs PocketSphinx: pip install 'speechdis[align]'") from e
        if not attempts:
            raise ConfigError("at least one alignment attempt is needed")
        self.attempts = tuple(attempts)
        self.lexicon = dict(lexicon or {})
        self._decoders: dict[int, object] = {}
        self._known: dict[str, bool] = {}
        self.phone_set = self._model_phones()
        for word, prons in self.lexicon.items():
            for pron in prons:
                bad = [p for p in pron if p not in self.phone_set]
                if bad:
                    raise DataDirError(f"lexicon word '{word}': phone(s) {' '.join(bad)} not in the en-us model's "
                                       f"phone set ({' '.join(sorted(self.phone_set))})")

    @staticmethod
    def _model_phones() -> set[str]:
        from pocketsphinx import get_model_path

        phones: set[str] = set()
        with open(os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict"), encoding="utf-8") as f:
            for line in f:
                phones.update(line.split()[1:])
        return phones | {"SIL"}

    def _decoder(self, i: int):
        if i not in self._decoders:
            from pocketsphinx import Decoder

            a = self.attempts[i]
            d = Decoder(lm=None, loglevel="FATAL", samprate=float(SAMPLE_RATE), beam=a.beam, wbeam=a.wbeam,
                        pbeam=a.pbeam)
            # User-lexicon words CMUdict lacks (every variant: word, word(2), ...).
            for word, prons in self.lexicon.items():
                if d.lookup_word(word) is None:
                    for k, pron in enumerate(prons):
                        d.add_word(word if k == 0 else f"{word}({k + 1})", " ".join(pron), k == len(prons) - 1)
            self._decoders[i] = d
        return self._decoders[i]

    def oov(self, words: Sequence[str]) -> list[str]:
        """The words (normalised) that neither CMUdict nor the lexicon knows, in order, repeated as they occur."""
        d = self._decoder(0)
        out = []
        for w in words:
            if w not in self._known:
                self._known[w] = d.lookup_word(w) is not None
            if not self._known[w]:
                out.append(w)
        return out

    def align(self, utt: str, text: str, wave: np.ndarray) -> UttAlignment:
        """Align ``text`` (the transcript) to ``wave`` (mono float, 16 kHz); never raises for a failed alignment."""
        tokens = text.split()
        pos = [(k, normalize_word(t)) for k, t in enumerate(tokens)]
        pos = [(k, w) for k, w in pos if w]
        duration = len(wave) / SAMPLE_RATE
        res = UttAlignment(utt, seconds=duration)
        if not pos:
            res.reason = "no words in the transcript"
            return res
        res.oov = self.oov([w for _, w in pos])
        if res.oov:
            res.reason = "oov: " + " ".join(dict.fromkeys(res.oov))
            return res
        words = [w for _, w in pos]
        reasons = []
        for i, a in enumerate(self.attempts):
            pad = np.zeros(int(round(a.pad * SAMPLE_RATE)), dtype=np.float32)
            x = np.concatenate([pad, np.asarray(wave, dtype=np.float32), pad])
            if a.dither:  # digital-zero stretches (synthetic audio) make the word pass find no path
                x = x + a.dither * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
            pcm = (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
            got, why = self._run(self._decoder(i), words, pcm)
            if got is None:
                reasons.append(f"attempt {i + 1}: {why}")
                continue
            res.attempt = i + 1
            def clip(t: float, pad: float = a.pad) -> float:
                return min(max(t - pad, 0.0), duration)

            for (k, _), (_, s, e, phones) in zip(pos, got):
                res.words.append((k, tokens[k], clip(s), clip(e)))
                res.phones += [(p, clip(ps), clip(pe)) for p, ps, pe in phones]
            return res
        res.reason = "; ".join(reasons)
        return res

    @staticmethod
    def _run(d, words: list[str], pcm: bytes):
        """[(word, start, end, [(phone, start, end)])] of the non-filler words, or (None, reason)."""
        try:
            d.set_align_text(" ".join(words))
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            if d.hyp() is None:
                return None, "word pass found no path"
            hyp = [_ALT.sub("", s.word) for s in d.seg() if s.word.lower() not in _FILLERS]
            if hyp != words:
                return None, f"word pass aligned {len(hyp)} of {len(words)} words"
            d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            out = []
            for w in d.get_alignment():
                if w.name.lower() in _FILLERS:
                    continue
                phones = [(p.name, p.start / _FRAME_RATE, (p.start + p.duration) / _FRAME_RATE) for p in w]
                out.append((_ALT.sub("", w.name), w.start / _FRAME_RATE, (w.start + w.duration) / _FRAME_RATE,
                            phones))
        except RuntimeError as e:
            return None, f"phone pass: {e}"
        if [w for w, *_ in out] != words:
            return None, "phone pass lost words"
        return out, ""


# --------------------------------------------------------------------------------------------
# Data-dir jobs


@dataclass
class AlignReport:
    """Outcome of :func:`align_data_dir`."""

    data_dir: Path
    nj: int
    utts: int = 0
    aligned: int = 0
    first_attempt: int = 0  # aligned by the first attempt
    failures: dict[str, str] = field(default_factory=dict)  # utt -> reason
    oov: Counter = field(default_factory=Counter)  # word -> occurrences
    segments: int = 0
    phones: int = 0
    seconds: float = 0.0  # audio aligned
    jobs_run: list[int] = field(default_factory=list)
    jobs_resumed: list[int] = field(default_factory=list)
    job: int | None = None

    def summary(self, max_items: int = 5) -> str:
        """Human-readable lines (the CLI prints them)."""
        if self.job is not None:
            return (f"align job {self.job} of {self.nj}: {'computed' if self.jobs_run else 'already complete'} "
                    f"(merge by running without --job once all jobs are done)")
        n = max(self.utts, 1)
        lines = [f"aligned {self.aligned}/{self.utts} utterances ({self.first_attempt} at the first attempt, "
                 f"{self.aligned - self.first_attempt} on retry): {self.segments} word segments, {self.phones} "
                 f"phones, {self.seconds / 3600:.2f} h -> {self.data_dir}/word_segments, {self.data_dir}/{PHONES_CTM}",
                 f"jobs: {len(self.jobs_run)} run, {len(self.jobs_resumed)} already complete (of {self.nj})"]
        if self.failures:
            lines.append(f"WARNING: {len(self.failures)} utterance(s) ({100 * len(self.failures) / n:.1f}%) not "
                         f"aligned, listed in {self.data_dir / FAILURES_FILE}:")
            lines += [f"  {u}: {r}" for u, r in list(self.failures.items())[:max_items]]
            if len(self.failures) > max_items:
                lines.append(f"  ... (+{len(self.failures) - max_items})")
        if self.oov:
            lines.append(f"WARNING: {len(self.oov)} out-of-dictionary word(s) ({sum(self.oov.values())} tokens; "
                         f"add them with --lexicon), listed in {self.data_dir / OOV_FILE}: "
                         + " ".join(w for w, _ in self.oov.most_common(10)))
        return "\n".join(lines)


def _settings(lexicon: Mapping, attempts: Sequence[AlignAttempt]) -> str:
    blob = json.dumps({"lexicon": sorted((w, p) for w, p in lexicon.items()),
                       "attempts": [asdict(a) for a in attempts]}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()


def _items_hash(items: list[tuple[str, str, str, float | None, float | None]]) -> str:
    h = hashlib.sha1()
    for it in items:
        h.update(("\t".join(map(str, it)) + "\n").encode())
    return h.hexdigest()


def _run_job(out: str, done: str, items, lexicon, attempts, marker: dict) -> int:
    """Align one job's utterances into ``out`` (JSON lines) and write its ``done`` marker; returns its count."""
    from speechdis.audio.io import WavEntryLoader

    aligner = Aligner(lexicon, attempts)
    loader = WavEntryLoader(SAMPLE_RATE)
    with atomic_open(out) as f:
        for utt, text, entry, start, end in items:
            try:
                wave = loader.load(entry, start=start, end=end)
                res = aligner.align(utt, text, wave)
            except SpeechdisError as e:
                res = UttAlignment(utt, reason=f"audio: {e}")
            f.write(json.dumps(asdict(res)) + "\n")
    with atomic_open(done) as f:
        json.dump(marker, f)
    return len(items)


def _job_complete(done: Path, out: Path, marker: dict) -> bool:
    try:
        return json.loads(done.read_text(encoding="utf-8")) == marker and out.exists()
    except (OSError, ValueError):
        return False


def align_data_dir(data_dir: str | os.PathLike, *, nj: int = 1, job: int | None = None,
                   lexicon: str | os.PathLike | Mapping[str, list[list[str]]] | None = None,
                   attempts: Sequence[AlignAttempt] = DEFAULT_ATTEMPTS, force: bool = False,
                   keep_word_segments: bool = False,
                   progress: Callable[[int], None] | None = None) -> AlignReport:
    """Align every utterance of ``data_dir`` (see the module doc); returns the report.

    ``keep_word_segments``: write only ``phones.ctm`` (and the failure/OOV lists), leaving an existing
    ``word_segments`` (e.g. Speech Commands' energy-trimmed clips) as it is. ``force`` recomputes complete jobs.
    """
    d = DataDir.load(data_dir)
    path = Path(data_dir)
    if not d.text:
        raise DataDirError(f"{path}/text: missing or empty (alignment needs transcripts)")
    if job is not None and not 1 <= job <= nj:
        raise ConfigError(f"--job must be in 1..{nj}, got {job}")
    lex = read_lexicon(lexicon) if isinstance(lexicon, (str, os.PathLike)) else dict(lexicon or {})
    Aligner(lex, attempts)  # fail early: pocketsphinx missing, lexicon phones unknown
    utts = d.utts
    missing = [u for u in utts if u not in d.text]
    report = AlignReport(path, nj, utts=len(utts), job=job)
    for u in missing:
        report.failures[u] = "no transcript in text"
    utts = [u for u in utts if u in d.text]
    splits = job_splits(utts, [d.utt2spk[u] for u in utts], nj)
    work = path / "align"
    work.mkdir(exist_ok=True)
    settings = _settings(lex, attempts)
    todo = []
    for j, keys in enumerate(splits, 1):
        if job is not None and j != job:
            continue
        items = []
        for u in keys:
            entry, s, e = d.audio_source(u)
            items.append((u, d.text[u], entry, s, e))
        marker = {"settings": settings, "items": _items_hash(items), "n": len(items)}
        out, done = work / f"ali.{j}.jsonl", work / f"ali.{j}.done"
        if not force and _job_complete(done, out, marker):
            report.jobs_resumed.append(j)
            if progress:
                progress(len(items))
        else:
            todo.append((j, (str(out), str(done), items, lex, tuple(attempts), marker)))
    if len(todo) > 1:
        with ProcessPoolExecutor(max_workers=len(todo)) as pool:
            futures = {j: pool.submit(_run_job, *a) for j, a in todo}
            for j, fut in futures.items():
                n = fut.result()
                report.jobs_run.append(j)
                if progress:
                    progress(n)
    else:
        for j, a in todo:
            n = _run_job(*a)
            report.jobs_run.append(j)
            if progress:
                progress(n)
    if job is not None:
        return report
    _merge(d, path, work, len(splits), report, keep_word_segments)
    return report


def _merge(d: DataDir, path: Path, work: Path, njobs: int, report: AlignReport, keep_word_segments: bool) -> None:
    segs: list[WordSegment] = []
    ctm: list[str] = []
    for j in range(1, njobs + 1):
        with open(work / f"ali.{j}.jsonl", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                report.oov.update(r["oov"])
                if r["reason"]:
                    report.failures[r["utt"]] = r["reason"]
                    continue
                report.aligned += 1
                report.first_attempt += r["attempt"] == 1
                report.seconds += r["seconds"]
                for k, word, s, e in r["words"]:
                    if e > s:
                        segs.append(WordSegment(f"{r['utt']}_{k:04d}", r["utt"], s, e, word))
                for p, s, e in r["phones"]:
                    ctm.append(f"{r['utt']} 1 {format_time(s)} {format_time(e - s)} {p}")
    report.segments = len(segs)
    report.phones = len(ctm)
    if not keep_word_segments:
        d.word_segments = sorted(segs, key=lambda s: s.seg_id)
        d.save(path)
    with atomic_open(path / PHONES_CTM) as f:
        f.writelines(line + "\n" for line in ctm)
    for name, table in ((FAILURES_FILE, report.failures), (OOV_FILE, dict(report.oov))):
        if table:
            write_table(path / name, table)
        elif (path / name).exists():
            (path / name).unlink()
    log.info("aligned %d/%d utterances of %s; %d failed, %d OOV words", report.aligned, report.utts, path,
             len(report.failures), len(report.oov))
