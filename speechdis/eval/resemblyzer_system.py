"""Resemblyzer (GE2E speaker encoder, Wan et al. 2018; PyPI ``resemblyzer``) as an outside speaker system.

Optional: ``pip install 'speechdis[resemblyzer]'``. Its wheel carries its weights (``pretrained.pt``), so
nothing is downloaded. Each evaluation segment's audio is cut from ``wav.scp`` (16 kHz), preprocessed as
Resemblyzer does (volume normalised, long silences trimmed by webrtcvad; a segment the VAD would empty is
kept untrimmed) and embedded exactly as ``VoiceEncoder.embed_utterance`` does (1.6 s partials at 1.3 per
second, zero-padded, averaged, L2-normalised), many partials per forward pass.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from speechdis.errors import ConfigError

__all__ = ["have_resemblyzer", "resemblyzer_vectors", "segment_waves", "timed_resemblyzer"]

_SR = 16000


def have_resemblyzer() -> bool:
    """Whether the optional resemblyzer package (and its webrtcvad) imports."""
    try:
        import resemblyzer  # noqa: F401
    except Exception:  # ImportError, or webrtcvad's pkg_resources missing under setuptools >= 81
        return False
    return True


def _encoder(device: str):
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # webrtcvad's pkg_resources deprecation notice
            from resemblyzer import VoiceEncoder
    except Exception as e:
        raise ConfigError(f"resemblyzer is not usable ({e}): pip install 'speechdis[resemblyzer]'") from e
    import torch

    dev = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    return VoiceEncoder(device=dev, verbose=False)


def _preprocess(wave: np.ndarray) -> np.ndarray:
    from resemblyzer import audio

    w = audio.normalize_volume(wave.astype(np.float32), audio.audio_norm_target_dBFS, increase_only=True)
    trimmed = audio.trim_long_silences(w)
    return trimmed if len(trimmed) >= _SR // 10 else w


def resemblyzer_vectors(waves: Sequence[np.ndarray], device: str = "cpu", batch_size: int = 128) -> np.ndarray:
    """``(N, 256)`` Resemblyzer embeddings of 16 kHz mono waveforms (see the module doc)."""
    import torch

    enc = _encoder(device)  # imports resemblyzer with webrtcvad's deprecation notice silenced
    from resemblyzer import audio

    partials: list[np.ndarray] = []
    owner: list[int] = []
    for i, wave in enumerate(waves):
        w = _preprocess(np.asarray(wave))
        wav_slices, mel_slices = enc.compute_partial_slices(len(w), rate=1.3, min_coverage=0.75)
        if wav_slices[-1].stop >= len(w):
            w = np.pad(w, (0, wav_slices[-1].stop - len(w)))
        mel = audio.wav_to_mel_spectrogram(w)
        partials += [mel[s] for s in mel_slices]
        owner += [i] * len(mel_slices)
    out = np.zeros((len(waves), 256), dtype=np.float64)
    owner_a = np.asarray(owner)
    with torch.inference_mode():
        for b in range(0, len(partials), batch_size):
            x = torch.from_numpy(np.stack(partials[b:b + batch_size])).to(enc.device)
            np.add.at(out, owner_a[b:b + batch_size], enc(x).cpu().numpy())
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def segment_waves(data_dir, utts: Sequence[str], spans: Sequence[tuple[float, float]]) -> list[np.ndarray]:
    """The 16 kHz audio of each (utterance, span) from a data dir's ``wav.scp`` (and ``segments``)."""
    from speechdis.audio.io import WavEntryLoader
    from speechdis.data.datadir import DataDir

    data = DataDir.load(data_dir)
    loader = WavEntryLoader(_SR)
    out = []
    for utt, (a, b) in zip(utts, spans):
        entry, start, _ = data.audio_source(utt)
        off = start or 0.0
        out.append(loader.load(entry, start=off + a, end=off + b))
    return out


def timed_resemblyzer(data_dir, utts: Sequence[str], spans: Sequence[tuple[float, float]], device: str = "cpu"
                      ) -> tuple[np.ndarray, float]:
    """Resemblyzer vectors of the segments and the seconds the encoder took (audio reading excluded)."""
    waves = segment_waves(data_dir, utts, spans)
    t0 = time.perf_counter()
    v = resemblyzer_vectors(waves, device)
    return v, time.perf_counter() - t0
