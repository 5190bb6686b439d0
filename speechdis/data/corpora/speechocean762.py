"""speechocean762 (non-native English read sentences, children and adults) -> speaker-disjoint Kaldi data dirs.

Layout read: ``CORPUS/{train,test}/{wav.scp,text,utt2spk[,spk2gender]}`` (Kaldi files, tab-separated, with
``wav.scp`` paths relative to the corpus root, e.g. ``WAVE/SPEAKER0001/000010011.flac``) and
``CORPUS/resource/lexicon.txt`` (CMU phones for every word of the transcripts). Whichever of ``train``/``test``
exist are pooled and re-split by speaker like Speech Commands (:func:`speaker_split`: ``h =
int(sha1(spk).hexdigest()[:8], 16) % 100``; train if ``h < 100 - dev - test``, dev if ``h < 100 - test``, else
test; defaults 15 % / 15 %). Paths are written absolute; utterances whose audio is missing, or that lack a
transcript or a speaker, are listed in the report with the reason. There are no timings: run
``speechdis align OUT/<split> --lexicon CORPUS/resource/lexicon.txt`` for ``word_segments`` and ``phones.ctm``.
"""
from __future__ import annotations

import os
from pathlib import Path

from speechdis.data.corpora.common import CorpusReport, SkippedFile, split_counts
from speechdis.data.corpora.speechcommands import SPLITS, speaker_split
from speechdis.data.datadir import DataDir
from speechdis.data.tables import read_table, read_text, read_utt2spk, read_wav_scp
from speechdis.errors import ConfigError, DataDirError

__all__ = ["prepare_speechocean762", "LEXICON"]

LEXICON = "resource/lexicon.txt"
_SUBSETS = ("train", "test")


def prepare_speechocean762(corpus: str | os.PathLike, out: str | os.PathLike, *, dev_percent: float = 15.0,
                           test_percent: float = 15.0) -> CorpusReport:
    """Write ``out/{train,dev,test}`` (a split that gets no speaker is not written); returns the report."""
    corpus, out = Path(corpus), Path(out)
    if not (0 <= dev_percent and 0 <= test_percent and dev_percent + test_percent <= 100):
        raise ConfigError(f"dev/test percentages must be >= 0 and sum to <= 100, got {dev_percent}/{test_percent}")
    subsets = [corpus / s for s in _SUBSETS if (corpus / s / "wav.scp").is_file()]
    if not subsets:
        raise DataDirError(f"{corpus}: no {' or '.join(_SUBSETS)}/wav.scp (not the speechocean762 layout)")
    report = CorpusReport(corpus, out, "speechocean762 (Kaldi files, paths relative to the corpus)", trimmed=False)
    report.split_method = (f"speaker hash (sha1 of the speaker id, first 8 hex digits mod 100): "
                           f"dev {dev_percent:g}%, test {test_percent:g}%")
    dirs = {s: DataDir() for s in SPLITS}
    seen: set[str] = set()
    for sub in subsets:
        wav = read_wav_scp(sub / "wav.scp")
        text = read_text(sub / "text") if (sub / "text").is_file() else {}
        u2s = read_utt2spk(sub / "utt2spk") if (sub / "utt2spk").is_file() else {}
        gender = read_table(sub / "spk2gender", 2, 2) if (sub / "spk2gender").is_file() else {}
        for utt, rel in wav.items():
            path = (corpus / rel.strip()).resolve()
            why = ("utterance id already taken" if utt in seen else "no transcript in text" if utt not in text
                   else "no speaker in utt2spk" if utt not in u2s else "" if path.is_file() else "audio missing")
            if why:
                report.skipped.append(SkippedFile(str(path), f"{sub.name}/{utt}: {why}"))
                continue
            seen.add(utt)
            spk = u2s[utt]
            d = dirs[speaker_split(spk, dev_percent, test_percent)]
            d.utt2spk[utt] = spk
            d.wav_scp[utt] = str(path)
            d.text[utt] = " ".join(text[utt].split())
            if spk in gender:
                d.spk2gender[spk] = gender[spk].strip()
    if not seen:
        raise DataDirError(f"{corpus}: no usable utterances ({report.skipped[0].path}: {report.skipped[0].reason})"
                           if report.skipped else f"{corpus}: wav.scp is empty")
    for name in SPLITS:
        d = dirs[name]
        report.splits[name] = split_counts(d, d.save(out / name) if d.utt2spk else None)
        if not d.utt2spk:
            report.notes.append(f"no speaker fell into {name}: {out / name} not written")
    if (corpus / LEXICON).is_file():
        report.notes.append(f"no timings: speechdis align {out}/<split> --lexicon {(corpus / LEXICON).resolve()}")
    return report
