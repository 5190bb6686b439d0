"""Speech Commands (one-second single-word clips, 16 kHz) → speaker-disjoint Kaldi data dirs + a noise list.

Two layouts are read:

* the full release: one folder per word ``<word>/<spk>_nohash_<n>.wav``, ``_background_noise_/`` (long
  noise recordings), ``validation_list.txt`` and ``testing_list.txt`` (paths relative to the corpus);
* the test-set layout: ``<word>/<spk>_nohash_<n>.wav``, ``_unknown_/<word>_<spk>_nohash_<n>.wav`` (other
  words), ``_silence_/`` (noise).

The speaker is the 8-hex hash in the file name. Each clip is one utterance ``<spk>-<word>-<n>`` (so
utterance ids sort by speaker, as Kaldi wants) with the word in upper case as transcript and one word
segment, trimmed to the clip's energy bounds as for FSDD (:func:`speechdis.audio.trim.energy_bounds`).

Split (speaker-disjoint): when the release's lists exist and no speaker has clips in two of train /
dev (``validation_list``) / test (``testing_list``), they are used. Otherwise every speaker goes by a
stable hash of its id, :func:`speaker_split`: ``h = int(sha1(spk).hexdigest()[:8], 16) % 100``; train if
``h < 100 - dev - test``, dev if ``h < 100 - test``, else test (defaults 15 % / 15 %).

Noise folders are never speech: their clips go to ``OUT/noise/wav.scp`` (+ ``utt2dur``), a plain list
for augmentation. Every file left out is listed in the report with its reason.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from speechdis.audio.trim import write_trim_record
from speechdis.data.corpora.common import CorpusReport, SkippedFile, add_clip, read_clip, split_counts
from speechdis.data.datadir import DataDir
from speechdis.data.tables import write_utt2dur, write_wav_scp
from speechdis.errors import ConfigError, DataDirError

__all__ = ["SPLITS", "NOISE_FOLDERS", "speaker_split", "prepare_speechcommands"]

SPLITS = ("train", "dev", "test")
NOISE_FOLDERS = ("_background_noise_", "_silence_")
_UNKNOWN = "_unknown_"
_LISTS = {"validation_list.txt": "dev", "testing_list.txt": "test"}
_NAME = re.compile(r"^([0-9a-f]{8})_nohash_(\d+)$")
_UNKNOWN_NAME = re.compile(r"^([A-Za-z0-9]+)_([0-9a-f]{8})_nohash_(\d+)$")
_WORD = re.compile(r"^[A-Za-z0-9]+$")


def speaker_split(spk: str, dev_percent: float = 15.0, test_percent: float = 15.0) -> str:
    """``train``/``dev``/``test`` for a speaker id, from a stable hash of it (see the module doc)."""
    h = int(hashlib.sha1(spk.encode()).hexdigest()[:8], 16) % 100
    if h < 100 - dev_percent - test_percent:
        return "train"
    if h < 100 - test_percent:
        return "dev"
    return "test"


@dataclass(frozen=True)
class _Clip:
    path: Path
    rel: str  # relative to the corpus, "/"-separated (as in the release's lists)
    spk: str
    word: str
    n: int

    @property
    def utt(self) -> str:
        return f"{self.spk}-{self.word.lower()}-{self.n}"


def _layout(corpus: Path) -> str:
    if (corpus / "_background_noise_").is_dir() or any((corpus / name).is_file() for name in _LISTS):
        return "release"
    if (corpus / _UNKNOWN).is_dir() or (corpus / "_silence_").is_dir():
        return "test-set"
    return "word folders"


def _scan(corpus: Path, report: CorpusReport) -> tuple[list[_Clip], list[Path]]:
    """Speech clips (parsed names) and noise files; everything else goes to ``report.skipped``."""
    clips: list[_Clip] = []
    noise: list[Path] = []
    for entry in sorted(corpus.iterdir()):
        if entry.is_file():
            if entry.suffix.lower() == ".wav":
                report.skipped.append(SkippedFile(str(entry), "audio outside a word folder"))
            continue  # README, LICENSE, the lists
        files = sorted(p for p in entry.rglob("*") if p.is_file())
        for f in files:
            rel = f.relative_to(corpus).as_posix()
            if f.suffix.lower() != ".wav":
                report.skipped.append(SkippedFile(str(f), "not a .wav file"))
            elif f.parent != entry:
                report.skipped.append(SkippedFile(str(f), "in a sub-folder of a word folder"))
            elif entry.name in NOISE_FOLDERS:
                noise.append(f)
            elif entry.name == _UNKNOWN:
                m = _UNKNOWN_NAME.match(f.stem)
                if m:
                    clips.append(_Clip(f, rel, m.group(2), m.group(1), int(m.group(3))))
                else:
                    report.skipped.append(SkippedFile(str(f), "name is not <word>_<8-hex speaker>_nohash_<n>.wav"))
            elif entry.name.startswith("_") or not _WORD.match(entry.name):
                report.skipped.append(SkippedFile(str(f), f"folder {entry.name!r} is neither a word nor a noise "
                                                          f"folder"))
            else:
                m = _NAME.match(f.stem)
                if m:
                    clips.append(_Clip(f, rel, m.group(1), entry.name, int(m.group(2))))
                else:
                    report.skipped.append(SkippedFile(str(f), "name is not <8-hex speaker>_nohash_<n>.wav"))
    return clips, noise


def _list_split(corpus: Path, clips: list[_Clip], report: CorpusReport) -> dict[str, str] | None:
    """utt -> split from the release's lists, or None (no lists, or not speaker-disjoint: noted)."""
    listed: dict[str, str] = {}
    for name, split in _LISTS.items():
        p = corpus / name
        if p.is_file():
            for line in p.read_text(encoding="utf-8").split("\n"):
                if line.strip():
                    listed[line.strip().replace("\\", "/")] = split
    if not listed:
        return None
    by_rel = {c.rel: c for c in clips}
    unknown = [r for r in listed if r not in by_rel]
    if unknown:
        report.notes.append(f"{len(unknown)} list entries name no speech clip of the corpus (e.g. {unknown[0]})")
    split = {c.utt: listed.get(c.rel, "train") for c in clips}
    spk_splits: dict[str, set[str]] = {}
    for c in clips:
        spk_splits.setdefault(c.spk, set()).add(split[c.utt])
    mixed = sorted(s for s, sp in spk_splits.items() if len(sp) > 1)
    if mixed:
        report.notes.append(f"validation_list/testing_list are not speaker-disjoint ({len(mixed)} speaker(s) in "
                            f"two splits, e.g. {mixed[0]}): split by speaker hash instead")
        return None
    return split


def _write_noise(noise: list[Path], out: Path, report: CorpusReport) -> None:
    import soundfile as sf

    wav_scp: dict[str, str] = {}
    durs: dict[str, float] = {}
    for f in noise:
        try:
            info = sf.info(str(f))
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            report.skipped.append(SkippedFile(str(f), f"unreadable audio: {e}"))
            continue
        if info.frames == 0:
            report.skipped.append(SkippedFile(str(f), "empty audio (no samples)"))
            continue
        nid = f"noise-{f.parent.name.strip('_')}-{re.sub(r'[^A-Za-z0-9_.-]', '_', f.stem)}"
        if nid in wav_scp:
            report.skipped.append(SkippedFile(str(f), f"noise id {nid} already taken"))
            continue
        wav_scp[nid] = str(f.resolve())
        durs[nid] = info.frames / info.samplerate
    report.noise_clips = len(wav_scp)
    if wav_scp:
        out.mkdir(parents=True, exist_ok=True)
        write_wav_scp(out / "wav.scp", wav_scp)
        write_utt2dur(out / "utt2dur", durs)
        report.noise_dir = out


def prepare_speechcommands(corpus: str | os.PathLike, out: str | os.PathLike, *, dev_percent: float = 15.0,
                           test_percent: float = 15.0, trim: bool = True, trim_db: float = 35.0, pad: float = 0.03,
                           use_lists: bool = True) -> CorpusReport:
    """Write ``out/{train,dev,test}`` (Kaldi data dirs) and ``out/noise``; returns the report.

    A split that gets no speaker is not written (noted in the report). ``use_lists=False`` ignores the
    release's lists and always splits by speaker hash.
    """
    corpus, out = Path(corpus), Path(out)
    if not (0 <= dev_percent and 0 <= test_percent and dev_percent + test_percent <= 100):
        raise ConfigError(f"dev/test percentages must be >= 0 and sum to <= 100, got {dev_percent}/{test_percent}")
    if not corpus.is_dir():
        raise DataDirError(f"{corpus}: not a directory")
    report = CorpusReport(corpus, out, _layout(corpus), trimmed=trim)
    clips, noise = _scan(corpus, report)
    if not clips:
        raise DataDirError(f"{corpus}: no speech clips (expected <word>/<speaker>_nohash_<n>.wav)")
    split = _list_split(corpus, clips, report) if use_lists else None
    if split is not None:
        report.split_method = "the release's validation_list.txt (dev) / testing_list.txt (test), speaker-disjoint"
    else:
        split = {c.utt: speaker_split(c.spk, dev_percent, test_percent) for c in clips}
        report.split_method = (f"speaker hash (sha1 of the speaker id, first 8 hex digits mod 100): "
                               f"dev {dev_percent:g}%, test {test_percent:g}%")
    dirs = {s: DataDir() for s in SPLITS}
    seen: dict[str, Path] = {}
    for c in clips:
        if c.utt in seen:
            report.skipped.append(SkippedFile(str(c.path), f"utterance id {c.utt} already taken by {seen[c.utt]}"))
            continue
        wave, sr, why = read_clip(c.path)
        if wave is None:
            report.skipped.append(SkippedFile(str(c.path), why))
            continue
        seen[c.utt] = c.path
        add_clip(dirs[split[c.utt]], c.utt, c.spk, c.word.upper(), c.path, wave, sr, trim=trim, trim_db=trim_db,
                 pad=pad)
    if not seen:
        raise DataDirError(f"{corpus}: no usable speech clips ({report.skipped[0].path}: {report.skipped[0].reason})")
    for name in SPLITS:
        d = dirs[name]
        if d.utt2spk:
            report.splits[name] = split_counts(d, d.save(out / name))
            write_trim_record(out / name, trim, trim_db, pad)
        else:
            report.splits[name] = split_counts(d, None)
            report.notes.append(f"no speaker fell into {name}: {out / name} not written")
    _write_noise(noise, out / "noise", report)
    return report
