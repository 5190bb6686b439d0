"""Shared test helpers (no tests, no fixtures: those are in conftest.py): tiny synthetic audio, a tiny
LibriSpeech-layout corpus with alignments, alignment-file writers, tiny training configs and the
tiny trained models shared by the extraction/evaluation/recipe tests.

Import as ``from tests.helpers import ...`` (the repository root is on pytest's pythonpath).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from speechdis.config import from_dict
from speechdis.training.config import TrainConfig

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


def alignment_line(utt: str, words: list[tuple[str, float, float]], duration: float) -> str:
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
                "".join(alignment_line(u, corpus.words[u], corpus.durations[u]) + "\n" for u in utts))
    (root / "SPEAKERS.TXT").write_text(
        ";ID  |SEX| SUBSET   |MINUTES| NAME\n11   | F | dev-tiny |  0.02 | A\n22   | M | dev-tiny |  0.02 | B\n")
    return corpus


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


# ---- the tiny trained models of the extraction/evaluation/recipe tests
SPEAKERS = ["1017", "1018", "1019", "1020"]

# hidden 16, a few steps: the point is the plumbing, not the quality.
TINY_MODEL = {"hidden": 16, "layers": 1, "decoder_hidden": 16, "decoder_layers": 1, "phonetic_dim": 8,
              "speaker_dim": 8, "embed_dim": 8, "critic_hidden": [16]}
TINY_REST = {
    "loss": {"pairs_per_batch": 16, "n_critic": 1},
    "data": {"speakers_per_batch": 4, "segments_per_speaker": 4, "crop_frames": 40, "valid_speakers": 0},
    "train": {"steps": 3, "log_every": 1, "valid_every": 1000, "ckpt_every": 1000, "device": "cpu"},
}


def tiny_config_dict(kind: str) -> dict:
    """A complete tiny training config (as a dict / YAML) for ``kind``."""
    cfg = {"model": {"kind": kind, "feat_dim": 39, **TINY_MODEL}, **TINY_REST}
    if kind == "baseline":
        cfg = {k: v for k, v in cfg.items() if k != "loss"}
    return cfg


@dataclass
class TinySetup:
    data: Path  # 4-speaker data dir with features and word_segments
    baseline: Path  # experiment dirs
    disentangled: Path


_CACHE: dict[str, TinySetup] = {}


def tiny_setup(tmp_path_factory) -> TinySetup:
    """Build (once per process) the data dir and the two tiny models."""
    if "setup" in _CACHE:
        return _CACHE["setup"]
    import torch

    from speechdis.audio.features import load_feature_config
    from speechdis.config import from_dict
    from speechdis.data.corpora.librispeech import prepare_librispeech
    from speechdis.data.datadir import DataDir
    from speechdis.data.featjobs import make_features
    from speechdis.training.config import TrainConfig
    from speechdis.training.loop import train

    root = tmp_path_factory.mktemp("tiny_eval")
    full = root / "test_full"
    prepare_librispeech(MINI_CORPUS, "test-clean-mini", full)
    data = root / "test4"
    DataDir.load(full).subset(speakers=SPEAKERS).save(data)
    make_features(data, load_feature_config(REPO / "recipes" / "librispeech" / "conf" / "mfcc.yaml"), nj=1)
    exps = {}
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny RNNs: extra threads only add contention on shared cores
    try:
        for kind in ("baseline", "disentangled"):
            exps[kind] = root / "exp" / kind
            train(from_dict(TrainConfig, tiny_config_dict(kind)), data, exps[kind])
    finally:
        torch.set_num_threads(saved)
    _CACHE["setup"] = TinySetup(data, exps["baseline"], exps["disentangled"])
    return _CACHE["setup"]


# ---- alignment-file writers
def intervals_with_silence(words, duration):
    out, t = [], 0.0
    for w, s, e in words:
        if s > t + 1e-9:
            out.append(("", t, s))
        out.append((w, s, e))
        t = e
    if duration > t + 1e-9:
        out.append(("", t, duration))
    return out


def textgrid_long(words, duration, tier="words", lower=True) -> str:
    ivs = intervals_with_silence(words, duration)
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {duration}",
             "tiers? <exists>", "size = 2", "item []:",
             "    item [1]:", '        class = "IntervalTier"', f'        name = "{tier}"', "        xmin = 0",
             f"        xmax = {duration}", f"        intervals: size = {len(ivs)}"]
    for i, (w, s, e) in enumerate(ivs, 1):
        lines += [f"        intervals [{i}]:", f"            xmin = {s}", f"            xmax = {e}",
                  f'            text = "{w.lower() if lower else w}"']
    # a phones tier after it, with a quoted quote in a label, to make sure tiers are told apart
    lines += ["    item [2]:", '        class = "IntervalTier"', '        name = "phones"', "        xmin = 0",
              f"        xmax = {duration}", "        intervals: size = 1", "        intervals [1]:",
              "            xmin = 0", f"            xmax = {duration}", '            text = "say ""hi"" 3"']
    return "\n".join(lines) + "\n"


def textgrid_short(words, duration) -> str:
    ivs = intervals_with_silence(words, duration)
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", f"{duration}", "<exists>", "1",
             '"IntervalTier"', '"words"', "0", f"{duration}", f"{len(ivs)}"]
    for w, s, e in ivs:
        lines += [f"{s}", f"{e}", f'"{w}"']
    return "\n".join(lines) + "\n"


def ctm_lines(words_by_utt) -> str:
    out = [";; comment line"]
    for utt, words in words_by_utt.items():
        for w, s, e in words:
            out.append(f"{utt} 1 {s:.2f} {e - s:.2f} {w.lower()} 0.98")
    return "\n".join(out) + "\n"


# ---- a tiny training config over the synthetic corpus
TINY_TRAIN = {
    "model": {"hidden": 24, "layers": 1, "phonetic_dim": 12, "speaker_dim": 12, "embed_dim": 12,
              "decoder_hidden": 24, "decoder_layers": 1, "critic_hidden": [24]},
    "loss": {"pairs_per_batch": 16},
    "data": {"speakers_per_batch": 4, "segments_per_speaker": 4, "crop_frames": 40, "valid_speakers": 2,
             "preload": True},
    "train": {"log_every": 1, "valid_every": 1000, "ckpt_every": 3, "seed": 3, "device": "cpu"},
}


def tiny_train_config(**over) -> TrainConfig:
    data = json.loads(json.dumps(TINY_TRAIN))
    for key, value in over.items():
        section, name = key.split("__")
        data.setdefault(section, {})[name] = value
    return from_dict(TrainConfig, data)


# ---- untrained model files made in a test (no training, well under a second): for tests of loading and
# validation where the vectors' quality does not matter
def untrained_speech_model(path: Path, kind: str = "disentangled", seed: int = 0, cmvn: str = "utterance") -> Path:
    """A tiny speech ``model.pt`` (39-dim MFCC front end, normalised by ``cmvn``) with random weights; returns
    its path."""
    import torch

    from speechdis.audio.features import FeatureConfig
    from speechdis.config import from_dict
    from speechdis.speech.models import build_model
    from speechdis.training.checkpoint import save_model
    from speechdis.training.config import TrainConfig

    cfg = from_dict(TrainConfig, {"model": {"kind": kind, "feat_dim": 39, "hidden": 8, "layers": 1,
                                            "decoder_hidden": 8, "decoder_layers": 1, "phonetic_dim": 4,
                                            "speaker_dim": 4, "embed_dim": 4, "critic_hidden": [8]}})
    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(path, cfg, FeatureConfig(cmvn=cmvn), build_model(cfg.model), step=0)
    return path


def untrained_image_model(out_dir: Path, name: str = "dann") -> Path:
    """An image model directory (``model.pt``) with random weights; returns the directory."""
    from speechdis.image.common import save_image_model
    from speechdis.image.registry import get_spec, make_config

    spec = get_spec(name)
    cfg = make_config(name)
    save_image_model(out_dir, name, cfg, spec.build(cfg), 0)
    return out_dir


def write_archive(path: Path, ids: list[str], vectors, kind: str = "phonetic", **arrays) -> Path:
    """An ``.npz`` laid out as ``speechdis extract`` writes it (string arrays, one vector array per kind);
    ``arrays`` replace or add arrays as given (to make malformed archives)."""
    import numpy as np

    n = len(ids)
    data = {"ids": np.array(ids, dtype=str), "utts": np.array(ids, dtype=str),
            "words": np.array([f"w{i % 2}" for i in range(n)], dtype=str),
            "speakers": np.array(["s"] * n, dtype=str), "starts": np.zeros(n), "ends": np.ones(n),
            "kind": np.array("disentangled" if kind in ("phonetic", "speaker") else "baseline"),
            "model": np.array(""), kind: np.asarray(vectors, dtype=np.float32)}
    data.update(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    return path


# ------------------------------------------------------------- utterances of concatenated clips (detection)
CLIP_SR = 16000
CLIP_GAP = 0.25  # seconds of near-silence between clips


def clip_wave(word: str, rng: np.random.Generator) -> np.ndarray:
    """0.4 s of a word-like sound: a rising chirp, a falling chirp or a two-tone warble."""
    t = np.arange(int(0.4 * CLIP_SR)) / CLIP_SR
    if word == "up":
        phase = 2 * np.pi * (300 * t + 1200 * t ** 2)
    elif word == "down":
        phase = 2 * np.pi * (1500 * t - 1300 * t ** 2)
    else:
        phase = 2 * np.pi * np.where((t * 10).astype(int) % 2 == 0, 600, 1100) * t
    return 0.3 * np.sin(phase) * np.hanning(len(t)) + 0.003 * rng.standard_normal(len(t))


# utt -> words in order; each word at most once per utterance (so a one-detection-per-utterance DTW can get all).
CLIP_UTTS = {"s1-u1": ["up", "down"], "s1-u2": ["warble", "up"], "s2-u1": ["down", "warble"],
             "s2-u2": ["up", "warble", "down"], "s2-u3": ["down", "up"]}


def concatenated_clips_data_dir(root: Path, features: bool = True
                                ) -> tuple[Path, dict[str, list[tuple[str, float, float]]]]:
    """A data dir with features (unless not ``features``) and word_segments whose times are the clips' known
    positions."""
    from speechdis.audio.features import load_feature_config
    from speechdis.data.featjobs import make_features

    rng = np.random.default_rng(0)
    d = root / "data"
    d.mkdir(parents=True)
    truth: dict[str, list[tuple[str, float, float]]] = {}
    wav, seg = [], []
    for utt, words in CLIP_UTTS.items():
        parts, t, truth[utt] = [], 0.0, []
        for w in words:
            parts.append(0.003 * rng.standard_normal(int(CLIP_GAP * CLIP_SR)))
            t += CLIP_GAP
            parts.append(clip_wave(w, rng))
            truth[utt].append((w, round(t, 3), round(t + 0.4, 3)))
            t += 0.4
        parts.append(0.003 * rng.standard_normal(int(CLIP_GAP * CLIP_SR)))
        path = root / "wav" / f"{utt}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(str(path), np.concatenate(parts).astype(np.float32), CLIP_SR)
        wav.append(f"{utt} {path}")
        seg += [f"{utt}-{i:02d} {utt} {s:.3f} {e:.3f} {w}" for i, (w, s, e) in enumerate(truth[utt])]
    (d / "wav.scp").write_text("\n".join(wav) + "\n")
    (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in CLIP_UTTS))
    (d / "spk2utt").write_text("s1 s1-u1 s1-u2\ns2 s2-u1 s2-u2 s2-u3\n")
    (d / "text").write_text("".join(f"{u} {' '.join(w)}\n" for u, w in CLIP_UTTS.items()))
    (d / "word_segments").write_text("\n".join(seg) + "\n")
    if features:
        make_features(d, load_feature_config(REPO / "recipes/librispeech/conf/mfcc.yaml"), nj=1)
    return d, truth
