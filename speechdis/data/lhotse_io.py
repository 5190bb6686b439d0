"""lhotse interop: lhotse manifests (recordings + supervisions with word alignments, or cuts) <-> data dirs.

Import (``speechdis prepare lhotse MANIFEST... OUT``): every supervision becomes an utterance (id = the
supervision id; speaker, text, gender carried over); its recording's audio source becomes a ``wav.scp`` entry
(a file path, or a command as ``cmd |``); a ``segments`` file is written unless every supervision is a whole
single-channel recording of its own. The supervision's ``alignment["word"]`` items become ``word_segments``
(times relative to the utterance; silence tokens dropped), so the data dir is ready for ``speechdis features``
and training. Manifests may be RecordingSets, SupervisionSets or CutSets (decomposed), any lhotse format
(``.jsonl.gz``, ``.jsonl``, ``.json``); several of each are merged.

Export (:func:`export_lhotse`, ``speechdis prepare export-lhotse DATA_DIR OUT``): ``recordings.jsonl.gz`` and
``supervisions.jsonl.gz`` (word segments as ``alignment["word"]``, times relative to the recording as lhotse
has them). Import of an export gives the same data dir back (tested).

lhotse is an optional dependency: ``pip install speechdis[lhotse]``.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from speechdis.data.alignments import is_silence, segment_id
from speechdis.data.datadir import DataDir
from speechdis.data.tables import Segment, WordSegment
from speechdis.errors import DataDirError

__all__ = ["import_lhotse", "export_lhotse", "LhotseImportReport"]

_TOL = 1e-3  # seconds: a supervision this close to its recording's ends covers the whole recording


def _lhotse():
    try:
        import lhotse
    except ImportError:
        raise DataDirError("lhotse is not installed; install the extra: pip install 'speechdis[lhotse]'") from None
    return lhotse


@dataclass
class LhotseImportReport:
    out_dir: Path
    recordings: int
    utterances: int
    speakers: int
    word_segments: int
    without_alignment: int
    segmented: bool

    def summary(self) -> str:
        """One line of what the import wrote and what it left without alignments."""
        return (f"{self.out_dir}: {self.utterances} utterances of {self.speakers} speakers from {self.recordings} "
                f"recordings{' (segments file)' if self.segmented else ''}, {self.word_segments} word segments"
                + (f"; {self.without_alignment} utterances without word alignment" if self.without_alignment else ""))


def _load_sets(paths: Iterable[str | os.PathLike]):
    lhotse = _lhotse()
    recordings, supervisions = [], []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise DataDirError(f"{p}: no such manifest")
        files = sorted(x for x in p.iterdir() if x.name.endswith((".jsonl.gz", ".jsonl", ".json"))) if p.is_dir() \
            else [p]
        for f in files:
            try:
                m = lhotse.load_manifest(f)
            except Exception as e:  # lhotse raises plain ValueError/KeyError for foreign files
                raise DataDirError(f"{f}: not a lhotse manifest ({e})") from e
            if isinstance(m, lhotse.RecordingSet):
                recordings.extend(m)
            elif isinstance(m, lhotse.SupervisionSet):
                supervisions.extend(m)
            elif isinstance(m, lhotse.CutSet):
                recs, sups, _ = m.decompose()
                recordings.extend(recs or [])
                supervisions.extend(sups or [])
            else:
                raise DataDirError(f"{f}: a {type(m).__name__}; expected recordings, supervisions or cuts")
    by_id = {}
    for r in recordings:
        by_id.setdefault(r.id, r)
    sups = {}
    for s in supervisions:
        sups.setdefault(s.id, s)
    return by_id, list(sups.values())


def _wav_entry(rec) -> str:
    if len(rec.sources) != 1:
        raise DataDirError(f"recording {rec.id}: {len(rec.sources)} audio sources (one per channel?); only "
                           f"recordings with a single source can go into wav.scp")
    src = rec.sources[0]
    if src.type == "file":
        return str(Path(src.source).resolve())
    if src.type == "command":
        return f"{src.source} |"
    raise DataDirError(f"recording {rec.id}: audio source of type {src.type!r} (only files and commands can go "
                       f"into wav.scp)")


def import_lhotse(manifests: Iterable[str | os.PathLike], out_dir: str | os.PathLike) -> LhotseImportReport:
    """lhotse manifests → a data dir with ``word_segments`` (see the module doc)."""
    recordings, supervisions = _load_sets(manifests)
    if not supervisions:
        raise DataDirError("no supervisions in the manifests (give a SupervisionSet or a CutSet)")
    per_rec: dict[str, int] = {}
    for s in supervisions:
        if s.recording_id not in recordings:
            raise DataDirError(f"supervision {s.id}: recording {s.recording_id!r} is in none of the manifests")
        per_rec[s.recording_id] = per_rec.get(s.recording_id, 0) + 1
    whole = all(per_rec[s.recording_id] == 1 and s.start <= _TOL
                and abs(s.end - recordings[s.recording_id].duration) <= _TOL for s in supervisions)
    d = DataDir()
    n_words, unaligned = 0, 0
    for s in sorted(supervisions, key=lambda s: s.id):
        utt = s.id
        if s.speaker is None:
            raise DataDirError(f"supervision {utt}: no speaker (a data dir needs utt2spk)")
        d.utt2spk[utt] = s.speaker
        if whole:
            d.wav_scp[utt] = _wav_entry(recordings[s.recording_id])
        else:
            d.wav_scp[s.recording_id] = _wav_entry(recordings[s.recording_id])
            d.segments[utt] = Segment(s.recording_id, round(s.start, 4), round(s.end, 4))
        if s.text:
            d.text[utt] = " ".join(s.text.split())
        if s.gender:
            d.spk2gender[s.speaker] = s.gender.lower()[:1]
        d.utt2dur[utt] = round(s.duration, 4)
        words = [a for a in (s.alignment or {}).get("word", []) if not is_silence(a.symbol)]
        if not words:
            unaligned += 1
        for k, a in enumerate(sorted(words, key=lambda a: a.start)):
            start, end = max(a.start - s.start, 0.0), min(a.end - s.start, s.duration)
            if end <= start:
                raise DataDirError(f"supervision {utt}: word {a.symbol!r} at {a.start}s is outside the supervision")
            d.word_segments.append(WordSegment(segment_id(utt, k), utt, round(start, 4), round(end, 4), a.symbol))
            n_words += 1
    out = Path(out_dir)
    d.save(out)
    return LhotseImportReport(out, len(per_rec), len(d.utt2spk), len(set(d.utt2spk.values())), n_words, unaligned,
                              not whole)


def export_lhotse(data_dir: str | os.PathLike, out_dir: str | os.PathLike, prefix: str = "") -> tuple[Path, Path]:
    """A data dir (with word segments) → ``<prefix>recordings.jsonl.gz`` and ``<prefix>supervisions.jsonl.gz``.

    Audio files are probed for their length; pipe entries (``cmd |``) become command sources and are run once
    to learn it. Returns the two paths.
    """
    lhotse = _lhotse()
    import soundfile as sf
    from lhotse.audio import AudioSource
    from lhotse.supervision import AlignmentItem

    from speechdis.audio.io import _run_pipe, is_pipe_entry

    d = DataDir.load(data_dir)
    if not d.wav_scp:
        raise DataDirError(f"{data_dir}: no wav.scp")
    recs = []
    for rec_id, entry in sorted(d.wav_scp.items()):
        if is_pipe_entry(entry):
            command = entry.rstrip().rstrip("|").strip()
            info = sf.info(io.BytesIO(_run_pipe(entry)))
            recs.append(lhotse.Recording(
                id=rec_id, sources=[AudioSource(type="command", channels=list(range(info.channels)), source=command)],
                sampling_rate=info.samplerate, num_samples=info.frames, duration=info.frames / info.samplerate))
        else:
            recs.append(lhotse.Recording.from_file(entry, recording_id=rec_id))
    rec_by_id = {r.id: r for r in recs}
    words = d.word_segments_by_utt()
    sups = []
    for utt in d.utts:
        if d.segments:
            seg = d.segments[utt]
            rec = rec_by_id[seg.recording]
            start, end = seg.start, (rec.duration if seg.end < 0 else seg.end)
        else:
            rec = rec_by_id.get(utt)
            if rec is None:
                raise DataDirError(f"{data_dir}/wav.scp: no entry for utterance '{utt}'")
            start, end = 0.0, rec.duration
        gender = d.spk2gender.get(d.utt2spk[utt])
        ali = [AlignmentItem(symbol=w.word, start=round(start + w.start, 4), duration=round(w.end - w.start, 4))
               for w in words.get(utt, [])]
        sups.append(lhotse.SupervisionSegment(
            id=utt, recording_id=rec.id, start=start, duration=round(end - start, 4), channel=0,
            text=d.text.get(utt), speaker=d.utt2spk[utt], gender=gender.upper() if gender else None,
            alignment={"word": ali} if ali else None))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rpath, spath = out / f"{prefix}recordings.jsonl.gz", out / f"{prefix}supervisions.jsonl.gz"
    lhotse.RecordingSet.from_recordings(recs).to_file(rpath)
    lhotse.SupervisionSet.from_segments(sups).to_file(spath)
    return rpath, spath
