"""Shared fixtures: tiny synthetic audio and a tiny LibriSpeech-layout corpus with alignments."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
MINI_CORPUS = REPO / "data" / "synthetic_librispeech"


def make_wave(seconds: float, sr: int = 16000, freq: float = 440.0, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A sine plus a little noise, float32 in [-1, 1]; shape (N,) or (N, channels)."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    mono = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(n)
    if channels == 1:
        return mono.astype(np.float32)
    return np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


def write_wave(path: Path, seconds: float = 0.5, sr: int = 16000, freq: float = 440.0, channels: int = 1,
               seed: int = 0, **kwargs) -> Path:
    """Write ``make_wave(...)`` to ``path`` (format from the extension) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), make_wave(seconds, sr, freq, channels, seed), sr, **kwargs)
    return path


@dataclass
class TinyCorpus:
    """A 2-speaker, 4-utterance corpus in LibriSpeech layout; ``words[utt]`` = [(word, start, end)]."""

    root: Path
    subset: str
    durations: dict[str, float] = field(default_factory=dict)
    transcripts: dict[str, list[str]] = field(default_factory=dict)
    words: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)

    def chapter_dir(self, utt: str) -> Path:
        spk, chapter, _ = utt.split("-")
        return self.root / self.subset / spk / chapter


# utt -> (speaker frequency, duration, [(word, start, end)]); gaps between words are silence.
_TINY = {
    "11-100-0000": (220.0, 0.8, [("HELLO", 0.10, 0.35), ("WORLD", 0.40, 0.70)]),
    "11-100-0001": (220.0, 0.6, [("GOOD", 0.05, 0.25), ("DAY", 0.25, 0.50)]),
    "22-200-0000": (330.0, 0.7, [("HELLO", 0.12, 0.40), ("THERE", 0.45, 0.65)]),
    "22-200-0001": (330.0, 0.6, [("GOOD", 0.00, 0.20), ("WORLD", 0.30, 0.55)]),
}


def _alignment_line(utt: str, words: list[tuple[str, float, float]], duration: float) -> str:
    """LibriSpeech alignment.txt line: words with '' for silences and END times."""
    toks, ends = [], []
    t = 0.0
    for w, s, e in words:
        if s > t + 1e-9:
            toks.append("")
            ends.append(s)
        toks.append(w)
        ends.append(e)
        t = e
    if duration > t + 1e-9:
        toks.append("")
        ends.append(duration)
    return f'{utt} "{",".join(toks)}" "{",".join(f"{x:.3f}" for x in ends)}"'


def build_tiny_corpus(root: Path, subset: str = "dev-tiny", with_alignments: bool = True) -> TinyCorpus:
    """Write the tiny corpus under ``root`` (flac audio, trans.txt, alignment.txt, SPEAKERS.TXT)."""
    corpus = TinyCorpus(root, subset)
    by_chapter: dict[Path, list[str]] = {}
    for i, (utt, (freq, dur, words)) in enumerate(_TINY.items()):
        d = corpus.chapter_dir(utt)
        write_wave(d / f"{utt}.flac", dur, freq=freq, seed=i)
        corpus.durations[utt] = dur
        corpus.transcripts[utt] = [w for w, _, _ in words]
        corpus.words[utt] = list(words)
        by_chapter.setdefault(d, []).append(utt)
    for d, utts in by_chapter.items():
        spk, chapter = d.parent.name, d.name
        (d / f"{spk}-{chapter}.trans.txt").write_text(
            "".join(f"{u} {' '.join(corpus.transcripts[u])}\n" for u in utts))
        if with_alignments:
            (d / f"{spk}-{chapter}.alignment.txt").write_text(
                "".join(_alignment_line(u, corpus.words[u], corpus.durations[u]) + "\n" for u in utts))
    (root / "SPEAKERS.TXT").write_text(
        ";ID  |SEX| SUBSET   |MINUTES| NAME\n11   | F | dev-tiny |  0.02 | A\n22   | M | dev-tiny |  0.02 | B\n")
    return corpus


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> TinyCorpus:
    return build_tiny_corpus(tmp_path / "corpus")


@pytest.fixture
def tiny_data_dir(tmp_path: Path, tiny_corpus: TinyCorpus) -> Path:
    """The tiny corpus prepared into a Kaldi data dir (with word_segments)."""
    from speechdis.data.librispeech import prepare_librispeech

    out = tmp_path / "data" / "dev"
    prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, out)
    return out


def mini_corpus_ready(subset: str) -> bool:
    """True when the committed synthetic corpus has this subset with audio for every transcript line."""
    root = MINI_CORPUS / subset
    trans = list(root.glob("*/*/*.trans.txt"))
    if not trans:
        return False
    for t in trans:
        for line in t.read_text().splitlines():
            if line.strip() and not (t.parent / f"{line.split()[0]}.flac").exists():
                return False
    return True


@pytest.fixture(scope="session")
def mini_data(tmp_path_factory) -> dict[str, Path]:
    """The synthetic corpus' train and test subsets prepared with 39-dim MFCC (per-utterance CMVN), once per session."""
    from speechdis.audio.features import load_feature_config
    from speechdis.data.featjobs import make_features
    from speechdis.data.librispeech import prepare_librispeech

    root = tmp_path_factory.mktemp("mini")
    cfg = load_feature_config(REPO / "recipes" / "librispeech" / "conf" / "mfcc.yaml")
    out = {}
    for part in ("train", "test"):
        d = root / part
        prepare_librispeech(MINI_CORPUS, f"{part}-clean-mini", d)
        make_features(d, cfg, nj=1)
        out[part] = d
    return out
