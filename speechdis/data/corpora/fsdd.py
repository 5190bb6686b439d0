"""Free Spoken Digit Dataset recordings → one Kaldi data dir (real human speech, 8 kHz).

Input: ``<corpus>/recordings/{digit}_{speaker}_{index}.wav`` (``corpus`` may also be that ``recordings/``
folder itself). Each recording is one utterance
``<speaker>-<digit>-<index:02d>`` of speaker ``<speaker>`` (lower case), with the digit as a word
(``ZERO`` ... ``NINE``) as transcript and one word segment: the recording **trimmed to its energy
bounds** (:func:`speechdis.audio.trim.energy_bounds`; ``trim=False`` keeps the whole file). FSDD files
carry up to a few hundred ms of silence, which spoken-word segments of a training corpus do not have.
The utterance (for features and CMVN) is always the whole file; ``speechdis features`` resamples it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from speechdis.audio.trim import write_trim_record
from speechdis.data.corpora.common import CorpusReport, SkippedFile, add_clip, read_clip, split_counts
from speechdis.data.datadir import DataDir
from speechdis.errors import DataDirError

__all__ = ["DIGITS", "prepare_fsdd"]

DIGITS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]
_NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)$")


def prepare_fsdd(corpus: str | os.PathLike, out: str | os.PathLike, *, trim: bool = True, trim_db: float = 35.0,
                 pad: float = 0.03) -> CorpusReport:
    """Write the data dir ``out`` (split ``all``); returns counts and every skipped file with its reason."""
    corpus, out = Path(corpus), Path(out)
    # The corpus root or its recordings/ folder itself (what a user points at when the files are there).
    rec_dir = corpus / "recordings" if (corpus / "recordings").is_dir() else corpus
    files = sorted(rec_dir.glob("*.wav")) if rec_dir.is_dir() else []
    if not files:
        raise DataDirError(f"{rec_dir}: no *.wav recordings (expected {{digit}}_{{speaker}}_{{index}}.wav)")
    report = CorpusReport(corpus, out, "fsdd", split_method="one data dir (all speakers)", trimmed=trim)
    d = DataDir()
    for f in files:
        m = _NAME.match(f.stem)
        if not m:
            report.skipped.append(SkippedFile(str(f), "name is not digit_speaker_index.wav"))
            continue
        digit, spk, idx = int(m.group(1)), m.group(2).lower(), int(m.group(3))
        utt = f"{spk}-{digit}-{idx:02d}"
        if utt in d.utt2spk:
            report.skipped.append(SkippedFile(str(f), f"utterance id {utt} already taken by {d.wav_scp[utt]}"))
            continue
        wave, sr, why = read_clip(f)
        if wave is None:
            report.skipped.append(SkippedFile(str(f), why))
            continue
        add_clip(d, utt, spk, DIGITS[digit], f, wave, sr, trim=trim, trim_db=trim_db, pad=pad)
    if not d.utt2spk:
        reasons = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in report.skipped[:3])
        raise DataDirError(f"{rec_dir}: no usable recordings ({reasons})")
    d.save(out)
    write_trim_record(out, trim, trim_db, pad)
    report.splits["all"] = split_counts(d, out)
    return report
