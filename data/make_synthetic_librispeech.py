#!/usr/bin/env python3
"""Synthesise the embedded synthetic corpus ``data/synthetic_librispeech`` (LibriSpeech layout + word alignments).

Each "speaker" is one fixed text-to-speech voice recipe (espeak-ng or flite voice + variant + pitch + rate).
Every word is synthesised on its own, its leading/trailing silence is trimmed with an energy threshold, and
the words are concatenated with short random silences whose lengths are whole milliseconds.  Word boundaries
are snapped outwards to the millisecond grid (16 samples at 16 kHz), so every start/end time written to the
alignment files is exact: ``time * 16000`` is the sample index of the boundary.

Output (``--out``, default ``data/synthetic_librispeech``)::

    SPEAKERS.TXT                   ID | SEX | SUBSET | MINUTES | NAME (NAME = the voice recipe)
    LICENSE.TXT                    synthetic-data note
    <subset>/<spk>/<chap>/<spk>-<chap>-<utt>.flac          16 kHz mono 16-bit FLAC (12-bit precision, --bits)
    <subset>/<spk>/<chap>/<spk>-<chap>.trans.txt           "UTTID WORD WORD ..." (upper case, sorted)
    <subset>/<spk>/<chap>/<spk>-<chap>.alignment.txt       'UTTID ",W1,,W2," "e0,e1,e2,e3,e4"'

The alignment lines follow the public "LibriSpeech-Alignments" format: the quoted comma list of words with
EMPTY entries for silences, and the quoted comma list of END times in seconds (same count, 3 decimals); the
first entry starts at 0 and the last end time equals the file duration.

Requires the ``espeak-ng`` and ``flite`` executables (Debian/Ubuntu: ``apt-get install espeak-ng flite``) and
numpy, scipy, soundfile, librosa (soxr resampler).  Output is deterministic for a given ``--seed``.

Regenerate with::

    python data/make_synthetic_librispeech.py --out data/synthetic_librispeech
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

SR = 16000
MS = SR // 1000  # samples per millisecond

SUBSETS = ("train-clean-mini", "test-clean-mini")

# 80 common English words of 1-3 syllables; no homophones of each other, no heteronyms (read, live, ...).
VOCABULARY = (
    # one syllable
    "house light bread stone chair green black small dog fish bird hand book train cloud "
    "night horse street bright three five nine twelve sleep jump laugh drink "
    # two syllables
    "water garden window morning river mountain paper number people money kitchen doctor letter market "
    "picture summer winter country table forest island dinner father mother children village yellow "
    "purple silver happy little simple quiet heavy early gentle seven twenty answer follow listen travel "
    # three syllables
    "family animal remember beautiful banana tomato computer elephant holiday important potato"
).split()


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: a fixed voice recipe."""

    engine: str  # "espeak" | "flite"
    voice: str  # espeak-ng voice(+variant) or flite voice name
    pitch: float  # espeak: -p (0-99); flite: int_f0_target_mean (Hz)
    rate: float  # espeak: -s (words per minute); flite: duration_stretch (>1 = slower)
    sex: str  # perceived sex, for SPEAKERS.TXT
    subset: str  # "train" | "test"

    @property
    def recipe(self) -> str:
        if self.engine == "espeak":
            return f"espeak-ng {self.voice} p={self.pitch:g} s={self.rate:g}"
        return f"flite {self.voice} f0={self.pitch:g} stretch={self.rate:g}"


# 24 speakers: 16 train / 8 test, flite and espeak-ng in both parts; base voice, variant, pitch and rate
# are varied widely so the speakers are acoustically distinct.  (Note: espeak-ng ignores "+variant" after
# "en-gb", so the British voice is written "en".)
VOICES = (
    # --- train (16) ---
    Voice("flite", "kal", 95, 1.00, "M", "train"),
    Voice("flite", "awb", 110, 1.05, "M", "train"),
    Voice("flite", "rms", 90, 1.10, "M", "train"),
    Voice("flite", "rms", 150, 0.88, "M", "train"),
    Voice("flite", "slt", 170, 1.00, "F", "train"),
    Voice("espeak", "en-us+m3", 40, 150, "M", "train"),
    Voice("espeak", "en+f2", 60, 140, "F", "train"),
    Voice("espeak", "en-gb-scotland+m1", 30, 160, "M", "train"),
    Voice("espeak", "en-gb-x-rp+f4", 70, 135, "F", "train"),
    Voice("espeak", "en-us+m7", 20, 145, "M", "train"),
    Voice("espeak", "en-029+f1", 55, 155, "F", "train"),
    Voice("espeak", "en-gb-x-gbclan+m2", 45, 170, "M", "train"),
    Voice("espeak", "en-us+klatt", 35, 140, "M", "train"),
    Voice("espeak", "en+m6", 25, 165, "M", "train"),
    Voice("espeak", "en-us-nyc+f3", 80, 150, "F", "train"),
    Voice("espeak", "en-us+croak", 50, 130, "M", "train"),
    # --- test (8) ---
    Voice("flite", "kal16", 130, 0.90, "M", "test"),
    Voice("flite", "awb", 165, 0.88, "M", "test"),
    Voice("flite", "slt", 215, 1.08, "F", "test"),
    Voice("espeak", "en-gb-x-gbcwmd+m5", 35, 130, "M", "test"),
    Voice("espeak", "en-us+f5", 65, 165, "F", "test"),
    Voice("espeak", "en+m4", 50, 175, "M", "test"),
    Voice("espeak", "en-gb-scotland+f3", 75, 145, "F", "test"),
    Voice("espeak", "en-gb-x-rp+klatt2", 15, 155, "M", "test"),
)


class SynthError(RuntimeError):
    pass


def check_tools() -> dict[str, str]:
    """Fail clearly when a synthesiser is missing; return their version strings."""
    versions = {}
    for exe, args in (("espeak-ng", ["--version"]), ("flite", ["--version"])):
        if shutil.which(exe) is None:
            raise SystemExit(
                f"error: '{exe}' not found on PATH; install it (Debian/Ubuntu: apt-get install espeak-ng flite)"
            )
        out = subprocess.run([exe, *args], capture_output=True, text=True).stdout
        line = next((ln for ln in out.splitlines() if "version" in ln.lower() or "speak" in ln.lower()), out)
        versions[exe] = line.split("Data at")[0].replace("version:", "").strip()
    return versions


def _read_wav(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    y, sr = sf.read(path, dtype="float64", always_2d=True)
    return y.mean(axis=1), sr


def synth_word(voice: Voice, word: str, pitch: float, rate: float, tmpdir: str) -> np.ndarray:
    """Synthesise one word; return float64 mono at 16 kHz (silences not yet trimmed)."""
    import librosa

    wav = os.path.join(tmpdir, "w.wav")
    if voice.engine == "espeak":
        cmd = ["espeak-ng", "-v", voice.voice, "-p", str(int(round(pitch))), "-s", str(int(round(rate))),
               "-w", wav, "--", word.lower()]
    else:
        cmd = ["flite", "-voice", voice.voice, "--setf", f"int_f0_target_mean={pitch:.1f}",
               "--setf", f"duration_stretch={rate:.3f}", "-t", word.lower(), "-o", wav]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 or not os.path.exists(wav):
        raise SynthError(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
    y, sr = _read_wav(wav)
    os.remove(wav)
    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    return y


def trim_to_ms_grid(y: np.ndarray, trim_db: float, floor_margin_db: float = 12.0) -> np.ndarray:
    """Cut the synthesiser's leading/trailing silence with an energy threshold.

    Short-time energy is measured in 5 ms windows on a 1 ms grid.  A window is "speech" when its energy is
    within ``trim_db`` of the loudest window AND at least ``floor_margin_db`` above the output's noise floor
    (10th percentile of the window energies; flite's pauses carry a low noise floor, espeak-ng's are digital
    silence).  The word is kept from the start of the first speech window to the end of the last one, so both
    cut points lie on the millisecond grid; 1 ms raised-cosine fades avoid clicks.
    """
    win = 5 * MS
    n = int(np.ceil(len(y) / MS)) * MS + win
    x = np.zeros(n)
    x[: len(y)] = y
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, n - win + 1, MS)
    db = 10 * np.log10((c[starts + win] - c[starts]) / win + 1e-20)
    if db.max() <= -150:
        raise SynthError("synthesiser produced silence")
    thr = max(db.max() - trim_db, np.percentile(db, 10) + floor_margin_db)
    active = np.flatnonzero(db >= thr)
    start, end = starts[active[0]], starts[active[-1]] + win
    w = x[start:end].copy()
    fade = 0.5 - 0.5 * np.cos(np.pi * (np.arange(MS) + 0.5) / MS)
    w[:MS] *= fade
    w[-MS:] *= fade[::-1]
    return w


def write_flac(path: str, y: np.ndarray) -> None:
    import soundfile as sf

    try:
        sf.write(path, y, SR, subtype="PCM_16", format="FLAC", compression_level=1.0)
    except TypeError:  # soundfile < 0.12 has no compression_level
        sf.write(path, y, SR, subtype="PCM_16", format="FLAC")


def word_stream(rng: np.random.Generator, vocab: list[str]):
    """Endless stream cycling through freshly shuffled copies of the vocabulary."""
    while True:
        for i in rng.permutation(len(vocab)):
            yield vocab[i]


def make_sentences(rng: np.random.Generator, vocab: list[str], n: int, min_len: int, max_len: int):
    stream = word_stream(rng, vocab)
    pending: list[str] = []
    sentences = []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        sent: list[str] = []
        while len(sent) < length:
            # take the first pending/streamed word not already in this sentence (no repeats in a sentence)
            for j, w in enumerate(pending):
                if w not in sent:
                    sent.append(pending.pop(j))
                    break
            else:
                w = next(stream)
                if w in sent:
                    pending.append(w)
                else:
                    sent.append(w)
        sentences.append(sent)
    return sentences


def build_utterance(voice, words, rng, tmpdir, args):
    """Return (int16 waveform, entries) where entries = [(word or '', end_ms), ...]."""
    pieces, entries = [], []
    t_ms = 0

    def silence(lo, hi):
        nonlocal t_ms
        d = int(rng.integers(lo, hi + 1))
        pieces.append(np.zeros(d * MS))
        t_ms += d
        entries.append(("", t_ms))

    silence(args.edge_sil_ms[0], args.edge_sil_ms[1])
    for k, word in enumerate(words):
        # small per-token jitter so repeated words by one speaker are not sample-identical
        jp = 1 + rng.uniform(-args.jitter, args.jitter)
        jr = 1 + rng.uniform(-args.jitter, args.jitter)
        if voice.engine == "espeak":
            pitch = float(np.clip(voice.pitch + 50 * (jp - 1), 0, 99))
        else:
            pitch = voice.pitch * jp
        w = trim_to_ms_grid(synth_word(voice, word, pitch, voice.rate * jr, tmpdir), args.trim_db)
        pieces.append(w)
        t_ms += len(w) // MS
        entries.append((word.upper(), t_ms))
        if k < len(words) - 1:
            silence(args.word_sil_ms[0], args.word_sil_ms[1])
    silence(args.edge_sil_ms[0], args.edge_sil_ms[1])
    y = np.concatenate(pieces)
    assert len(y) == t_ms * MS
    y *= 10 ** (args.peak_dbfs / 20) / np.max(np.abs(y))
    if args.noise_dbfs is not None:
        y += rng.normal(0.0, 10 ** (args.noise_dbfs / 20), len(y))
    step = 2 ** (16 - args.bits)  # coarser quantisation: FLAC stores the unused low bits for free
    return (np.clip(np.round(y * 32767 / step), -32768 // step, 32767 // step) * step).astype(np.int16), entries


SPEAKERS_MARKER = "; Synthetic mini LibriSpeech: every speaker is one text-to-speech voice recipe"


def _made_by_us(out: str) -> bool:
    """True when ``out`` holds a previous output of this script (safe to regenerate in place)."""
    try:
        with open(os.path.join(out, "SPEAKERS.TXT")) as f:
            return f.readline().startswith(SPEAKERS_MARKER)
    except OSError:
        return False


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data/synthetic_librispeech", help="output root (default: %(default)s)")
    p.add_argument("--seed", type=int, default=20240611, help="random seed (default: %(default)s)")
    p.add_argument("--utts-per-speaker", type=int, default=13, help="utterances per speaker (default: %(default)s)")
    p.add_argument("--chapters-per-speaker", type=int, default=2, help="chapters per speaker (default: %(default)s)")
    p.add_argument("--min-words", type=int, default=3, help="min words per utterance (default: %(default)s)")
    p.add_argument("--max-words", type=int, default=8, help="max words per utterance (default: %(default)s)")
    p.add_argument("--word-sil-ms", type=int, nargs=2, default=(60, 200), metavar=("LO", "HI"),
                   help="silence between words, whole ms (default: 60 200)")
    p.add_argument("--edge-sil-ms", type=int, nargs=2, default=(100, 250), metavar=("LO", "HI"),
                   help="silence at utterance start/end, whole ms (default: 100 250)")
    p.add_argument("--trim-db", type=float, default=45.0,
                   help="word trim threshold: 5 ms energy within this many dB of the word's loudest 5 ms "
                        "(and 12 dB above the synthesiser's noise floor) counts as speech (default: %(default)s)")
    p.add_argument("--jitter", type=float, default=0.04,
                   help="per-word relative pitch/rate jitter around the speaker's setting (default: %(default)s)")
    p.add_argument("--peak-dbfs", type=float, default=-3.0, help="utterance peak level (default: %(default)s)")
    p.add_argument("--noise-dbfs", type=lambda s: None if s.lower() == "none" else float(s), default=None,
                   help="RMS of an optional white noise floor added after normalisation, dBFS (default: none, "
                        "i.e. digital silence between words)")
    p.add_argument("--bits", type=int, default=12, choices=range(8, 17), metavar="8..16",
                   help="effective sample precision inside the 16-bit FLAC files; 12 keeps the corpus small "
                        "(quantisation noise ~ -77 dBFS) (default: %(default)s)")
    p.add_argument("--speakers", type=int, default=None, help="use only the first N voices of each subset "
                                                               "(for quick tests)")
    p.add_argument("--force", action="store_true",
                   help="overwrite a non-empty --out even if it was not made by this script")
    args = p.parse_args(argv)

    versions = check_tools()

    out = args.out
    if os.path.isdir(out) and os.listdir(out):
        if not (args.force or _made_by_us(out)):
            raise SystemExit(f"error: {out} exists, is not empty and is not a corpus made by this script "
                             "(use --force to overwrite)")
        for sub in (*SUBSETS, "SPEAKERS.TXT", "LICENSE.TXT"):
            path = os.path.join(out, sub)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    os.makedirs(out, exist_ok=True)

    voices = [v for v in VOICES if v.subset == "train"][: args.speakers] + \
             [v for v in VOICES if v.subset == "test"][: args.speakers]
    vocab = sorted(VOCABULARY)
    assert len(set(vocab)) == len(vocab)
    t0 = time.time()
    speaker_rows = []
    stats = {s: dict(speakers=0, utts=0, words=0, seconds=0.0, vocab=set()) for s in SUBSETS}
    chapter_id = 100001
    with tempfile.TemporaryDirectory(prefix="mini_ls_") as tmpdir:
        for i, voice in enumerate(VOICES):
            spk = 1001 + i
            if voice not in voices:
                chapter_id += args.chapters_per_speaker
                continue
            subset = SUBSETS[0] if voice.subset == "train" else SUBSETS[1]
            rng = np.random.default_rng([args.seed, spk])
            sentences = make_sentences(rng, vocab, args.utts_per_speaker, args.min_words, args.max_words)
            chunks = np.array_split(np.arange(len(sentences)), args.chapters_per_speaker)
            seconds = 0.0
            for chunk in chunks:
                chap = chapter_id
                chapter_id += 1
                cdir = os.path.join(out, subset, str(spk), str(chap))
                os.makedirs(cdir, exist_ok=True)
                trans, align = [], []
                for u, si in enumerate(chunk):
                    uid = f"{spk}-{chap}-{u:04d}"
                    words = sentences[si]
                    y, entries = build_utterance(voice, words, rng, tmpdir, args)
                    write_flac(os.path.join(cdir, uid + ".flac"), y)
                    trans.append(f"{uid} {' '.join(w.upper() for w in words)}")
                    labels = ",".join(w for w, _ in entries)
                    ends = ",".join(f"{e / 1000:.3f}" for _, e in entries)
                    align.append(f'{uid} "{labels}" "{ends}"')
                    seconds += len(y) / SR
                    st = stats[subset]
                    st["utts"] += 1
                    st["words"] += len(words)
                    st["vocab"].update(words)
                with open(os.path.join(cdir, f"{spk}-{chap}.trans.txt"), "w") as f:
                    f.write("\n".join(sorted(trans)) + "\n")
                with open(os.path.join(cdir, f"{spk}-{chap}.alignment.txt"), "w") as f:
                    f.write("\n".join(sorted(align)) + "\n")
            stats[subset]["speakers"] += 1
            stats[subset]["seconds"] += seconds
            speaker_rows.append((spk, voice.sex, subset, seconds / 60, voice.recipe))
            print(f"  {spk} {subset:16s} {voice.recipe:40s} {seconds:6.1f} s  ({time.time() - t0:.0f} s)",
                  file=sys.stderr, flush=True)

    with open(os.path.join(out, "SPEAKERS.TXT"), "w") as f:
        f.write(SPEAKERS_MARKER + " (the NAME column).\n")
        f.write(f"; Generated by data/make_synthetic_librispeech.py --seed {args.seed} "
                f"--utts-per-speaker {args.utts_per_speaker}\n")
        f.write(f"; {versions['espeak-ng']}; flite {versions['flite']}\n")
        f.write(";ID  |SEX| SUBSET           |MINUTES| NAME\n")
        for spk, sex, subset, minutes, recipe in speaker_rows:
            f.write(f"{spk:<5}| {sex} | {subset:<17}| {minutes:5.2f} | {recipe}\n")
    with open(os.path.join(out, "LICENSE.TXT"), "w") as f:
        f.write(
            "This corpus is synthetic. All audio was generated by data/make_synthetic_librispeech.py with the\n"
            "espeak-ng and flite text-to-speech engines from a fixed word list and a fixed random seed; it\n"
            "contains no recorded human speech and no text from LibriSpeech. The generated data may be used,\n"
            "modified and redistributed without restriction (CC0 1.0 / public domain dedication). espeak-ng is\n"
            "GPL-3.0-or-later and flite is BSD-style licensed; their output audio is not covered by those\n"
            "licences.\n")

    print(f"espeak-ng: {versions['espeak-ng']}\nflite: {versions['flite']}")
    allv = set()
    for s in SUBSETS:
        st = stats[s]
        allv |= st["vocab"]
        print(f"{s}: {st['speakers']} speakers, {st['utts']} utterances, {st['words']} word segments, "
              f"{len(st['vocab'])} distinct words, {st['seconds'] / 60:.2f} min")
    print(f"distinct words overall: {len(allv)}; words in both subsets: "
          f"{len(stats[SUBSETS[0]]['vocab'] & stats[SUBSETS[1]]['vocab'])}")
    print(f"generation time: {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
