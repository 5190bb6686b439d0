"""Kaldi binary ark writing: matrices to an ark atomically, with the scp entries that point into it."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from speechdis.fileio import atomic_open

__all__ = ["write_ark"]


def write_ark(path: str, mats: Iterator[tuple[str, np.ndarray]], final_path: str) -> dict[str, str]:
    """Write matrices to ``path`` atomically; return {key: 'final_path:offset'} scp entries."""
    import kaldiio

    scp = {}
    with atomic_open(path, "wb") as f:
        for key, mat in mats:
            pos = f.tell()
            kaldiio.save_ark(f, {key: mat})
            # The scp offset points just past "key " (where the binary matrix header starts).
            scp[key] = f"{final_path}:{pos + len(key.encode('utf-8')) + 1}"
    return scp
