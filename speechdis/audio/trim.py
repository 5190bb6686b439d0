"""Energy-based trimming: where the speech of a short clip starts and ends."""
from __future__ import annotations

import numpy as np

__all__ = ["energy_bounds"]


def energy_bounds(wave: np.ndarray, sr: int, trim_db: float = 35.0, pad: float = 0.03) -> tuple[float, float]:
    """(start, end) seconds of the part of ``wave`` within ``trim_db`` of its loudest 25 ms frame.

    Frames are 25 ms with a 10 ms shift; the RMS of each (DC removed) is compared with the loudest
    one; the span runs from the first to the last frame within ``trim_db`` dB, widened by ``pad``
    seconds on both sides (clipped to the clip). A clip shorter than one frame is kept whole.
    """
    wave = np.asarray(wave)
    win, hop = int(round(0.025 * sr)), int(round(0.010 * sr))
    duration = len(wave) / sr
    if len(wave) < win:
        return 0.0, round(duration, 4)
    n = 1 + (len(wave) - win) // hop
    frames = wave[np.arange(win)[None, :] + hop * np.arange(n)[:, None]].astype(np.float64)
    rms = np.sqrt(np.mean((frames - frames.mean(axis=1, keepdims=True)) ** 2, axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-10))
    loud = np.flatnonzero(db >= db.max() - trim_db)
    start = max(0.0, loud[0] * hop / sr - pad)
    end = min(duration, (loud[-1] * hop + win) / sr + pad)
    return round(start, 4), round(end, 4)
