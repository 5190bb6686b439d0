"""Energy-based trimming: where the speech of a short clip starts and ends."""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

__all__ = ["energy_bounds", "energy_bounds_blocks", "file_energy_bounds", "TRIM_DB", "TRIM_PAD"]

# prepare's defaults (speechdis prepare speechcommands/fsdd --trim-db/--pad): what the packaged models saw.
TRIM_DB = 35.0
TRIM_PAD = 0.03


def _frame_db(wave: np.ndarray, win: int, hop: int) -> np.ndarray:
    """dB of the RMS (DC removed) of each complete ``win``-sample frame every ``hop`` samples."""
    n = 1 + (len(wave) - win) // hop
    frames = wave[np.arange(win)[None, :] + hop * np.arange(n)[:, None]].astype(np.float64)
    rms = np.sqrt(np.mean((frames - frames.mean(axis=1, keepdims=True)) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def _bounds(db: np.ndarray, n_samples: int, sr: int, hop: int, win: int, trim_db: float, pad: float
            ) -> tuple[float, float]:
    duration = n_samples / sr
    loud = np.flatnonzero(db >= db.max() - trim_db)
    start = max(0.0, loud[0] * hop / sr - pad)
    end = min(duration, (loud[-1] * hop + win) / sr + pad)
    return round(start, 4), round(end, 4)


def energy_bounds(wave: np.ndarray, sr: int, trim_db: float = TRIM_DB, pad: float = TRIM_PAD) -> tuple[float, float]:
    """(start, end) seconds of the part of ``wave`` within ``trim_db`` of its loudest 25 ms frame.

    Frames are 25 ms with a 10 ms shift; the RMS of each (DC removed) is compared with the loudest
    one; the span runs from the first to the last frame within ``trim_db`` dB, widened by ``pad``
    seconds on both sides (clipped to the clip). A clip shorter than one frame is kept whole.
    """
    wave = np.asarray(wave)
    win, hop = int(round(0.025 * sr)), int(round(0.010 * sr))
    if len(wave) < win:
        return 0.0, round(len(wave) / sr, 4)
    return _bounds(_frame_db(wave, win, hop), len(wave), sr, hop, win, trim_db, pad)


def energy_bounds_blocks(blocks: Iterable[np.ndarray], sr: int, trim_db: float = TRIM_DB, pad: float = TRIM_PAD
                         ) -> tuple[float, float]:
    """:func:`energy_bounds` of a wave given as consecutive 1-D blocks (memory: one block, and 8 bytes per
    10 ms frame), equal to it on the concatenated wave."""
    win, hop = int(round(0.025 * sr)), int(round(0.010 * sr))
    carry = np.zeros(0, dtype=np.float32)
    dbs, n_samples = [], 0
    for block in blocks:
        block = np.asarray(block)
        n_samples += len(block)
        carry = np.concatenate([carry, block.astype(np.float32, copy=False)])
        if len(carry) >= win:
            t = 1 + (len(carry) - win) // hop
            dbs.append(_frame_db(carry[:(t - 1) * hop + win], win, hop))
            carry = carry[t * hop:]
    if not dbs:
        return 0.0, round(n_samples / sr, 4)
    return _bounds(np.concatenate(dbs), n_samples, sr, hop, win, trim_db, pad)


def file_energy_bounds(path: str | os.PathLike, trim_db: float = TRIM_DB, pad: float = TRIM_PAD,
                       block_seconds: float = 20.0) -> tuple[float, float]:
    """:func:`energy_bounds` of an audio file (mono mix, its own rate), read in blocks."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        sr = f.samplerate
        blocks = (d.mean(axis=1) if d.shape[1] > 1 else d[:, 0]
                  for d in f.blocks(blocksize=max(1, int(block_seconds * sr)), dtype="float32", always_2d=True))
        return energy_bounds_blocks(blocks, sr, trim_db, pad)


# Where `prepare` records how it trimmed a data dir's word segments; `train` copies it into model.pt as
# ``input_trim`` so that extract trims raw files the same way by default.
TRIM_RECORD = "conf/trim.yaml"


def write_trim_record(data_dir: str | os.PathLike, trim: bool, trim_db: float = TRIM_DB, pad: float = TRIM_PAD
                      ) -> None:
    """Record (``trim``) or remove (not ``trim``) the energy trim of a prepared data dir's word segments."""
    from pathlib import Path

    import yaml

    from speechdis.fileio import atomic_open

    path = Path(data_dir) / TRIM_RECORD
    if not trim:
        path.unlink(missing_ok=True)
        return
    with atomic_open(path) as f:
        f.write("# speechdis prepare: word segments trimmed to energy bounds (audio.trim.energy_bounds)\n")
        yaml.safe_dump({"trim_db": float(trim_db), "pad": float(pad)}, f)


def read_trim_record(data_dir: str | os.PathLike) -> dict | None:
    """The data dir's trim record ``{"trim_db", "pad"}``, or None (not trimmed, or unreadable: not a guess)."""
    from pathlib import Path

    import yaml

    path = Path(data_dir) / TRIM_RECORD
    try:
        rec = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {"trim_db": float(rec["trim_db"]), "pad": float(rec["pad"])}
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValueError):
        return None
