#!/usr/bin/env python3
"""Free Spoken Digit Dataset recordings → a Kaldi data dir for `speechdis evaluate` (real human speech).

    python recipes/librispeech/local/prepare_fsdd.py ../shared/data/fsdd recipes/mini/data/fsdd

Input: ``<fsdd>/recordings/{digit}_{speaker}_{index}.wav`` (8 kHz mono). Each recording is one utterance
``<speaker>-<digit>-<index:02d>`` of speaker ``<speaker>``, with transcript and one word segment: the digit
as a word (``ZERO`` ... ``NINE``).

The word segment is the recording **trimmed to its energy bounds**: frames (25 ms, 10 ms shift) whose RMS
is within ``--trim-db`` (default 35 dB) of the recording's loudest frame, from the first to the last such
frame, widened by ``--pad`` (default 0.03 s) on both sides. FSDD files carry up to a few hundred ms of
silence, which the spoken-word segments of the training corpus do not have. ``--no-trim`` uses the whole
file instead. The utterance (for features and CMVN) is always the whole file; `speechdis features`
resamples it to the model's 16 kHz.

The FSDD is not part of the project: write the data dir somewhere ignored by git (recipes/*/data/).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

DIGITS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]
_NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)$")


def energy_bounds(wave: np.ndarray, sr: int, trim_db: float = 35.0, pad: float = 0.03) -> tuple[float, float]:
    """(start, end) seconds of the part of ``wave`` within ``trim_db`` of its loudest 25 ms frame."""
    win, hop = int(round(0.025 * sr)), int(round(0.010 * sr))
    duration = len(wave) / sr
    if len(wave) < win:
        return 0.0, duration
    n = 1 + (len(wave) - win) // hop
    frames = wave[np.arange(win)[None, :] + hop * np.arange(n)[:, None]].astype(np.float64)
    rms = np.sqrt(np.mean((frames - frames.mean(axis=1, keepdims=True)) ** 2, axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-10))
    loud = np.flatnonzero(db >= db.max() - trim_db)
    start = max(0.0, loud[0] * hop / sr - pad)
    end = min(duration, (loud[-1] * hop + win) / sr + pad)
    return round(start, 4), round(end, 4)


def prepare_fsdd(fsdd: Path, out: Path, trim: bool = True, trim_db: float = 35.0, pad: float = 0.03) -> dict:
    """Write the data dir; returns counts."""
    import soundfile as sf

    from speechdis.data.datadir import DataDir
    from speechdis.data.tables import WordSegment
    from speechdis.errors import DataDirError

    rec_dir = fsdd / "recordings"
    files = sorted(rec_dir.glob("*.wav")) if rec_dir.is_dir() else []
    if not files:
        raise DataDirError(f"{rec_dir}: no *.wav recordings (expected {{digit}}_{{speaker}}_{{index}}.wav)")
    d = DataDir()
    skipped = []
    for f in files:
        m = _NAME.match(f.stem)
        if not m:
            skipped.append(f"{f.name}: name is not digit_speaker_index")
            continue
        digit, spk, idx = int(m.group(1)), m.group(2).lower(), int(m.group(3))
        utt = f"{spk}-{digit}-{idx:02d}"
        try:
            wave, sr = sf.read(str(f), dtype="float32", always_2d=True)
        except Exception as e:  # noqa: BLE001 - a corrupt file is reported, not fatal
            skipped.append(f"{f.name}: {e}")
            continue
        wave = wave.mean(axis=1)
        start, end = energy_bounds(wave, sr, trim_db, pad) if trim else (0.0, round(len(wave) / sr, 4))
        d.utt2spk[utt] = spk
        d.wav_scp[utt] = str(f.resolve())
        d.text[utt] = DIGITS[digit]
        d.utt2dur[utt] = round(len(wave) / sr, 4)
        d.word_segments.append(WordSegment(f"{utt}_0000", utt, start, end, DIGITS[digit]))
    if not d.utt2spk:
        raise DataDirError(f"{rec_dir}: no usable recordings ({'; '.join(skipped[:3])})")
    d.save(out)
    seg = np.array([w.duration for w in d.word_segments])
    return {"utterances": d.num_utts, "speakers": d.num_speakers, "skipped": skipped,
            "segment_seconds_mean": float(seg.mean()), "trimmed": trim}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("fsdd", type=Path, help="FSDD root (holding recordings/)")
    p.add_argument("out", type=Path, help="output data dir")
    p.add_argument("--no-trim", action="store_true", help="word segment = the whole file")
    p.add_argument("--trim-db", type=float, default=35.0)
    p.add_argument("--pad", type=float, default=0.03)
    args = p.parse_args(argv)
    from speechdis.errors import SpeechdisError

    try:
        r = prepare_fsdd(args.fsdd, args.out, not args.no_trim, args.trim_db, args.pad)
    except SpeechdisError as e:
        print(f"prepare_fsdd: error: {e}", file=sys.stderr)
        return 1
    print(f"fsdd: {r['utterances']} utterances, {r['speakers']} speakers -> {args.out} "
          f"(word segments {'trimmed to energy bounds' if r['trimmed'] else 'whole files'}, "
          f"mean {r['segment_seconds_mean']:.2f}s)")
    for s in r["skipped"][:10]:
        print(f"  skipped {s}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
