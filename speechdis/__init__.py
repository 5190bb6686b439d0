"""speechdis: disentangling speech into phonetic and speaker embeddings.

``speechdis.load_model("speechcommands")`` (a packaged name, an experiment dir or a ``model.pt``) gives an
:class:`~speechdis.inference.model.Embedder`: ``embed_file(path)`` (one vector per file, or per
``(start, end)`` span: per word), ``embed_speaker(files)`` (one vector per speaker), ``verify(a, b)``
(cosine of two speakers' vectors). Image models load through :func:`speechdis.image.load_model`.
Imports are lazy, so ``import speechdis`` stays light (no torch until a model is loaded).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

    from speechdis.inference.model import Embedder

__version__ = "0.1.0"

__all__ = ["load_model", "Embedder", "cosine", "__version__"]


def load_model(model: str | os.PathLike, device: str = "auto", batch_size: int = 256, threads: int | None = 1,
               vectors: Sequence[str] | None = None, pool: str = "mean",
               trim: bool | None = None, backend: bool = True) -> Embedder:
    """A speech model ready to embed audio: a packaged name (``"speechcommands"``), an experiment dir
    (``speechdis train --out EXP_DIR``) or a ``model.pt``; options as in
    :func:`speechdis.inference.model.load_model`. An image model file is a ``ModelError`` that points at
    :func:`speechdis.image.load_model`."""
    from speechdis.inference.model import load_speech_model

    return load_speech_model(model, device=device, batch_size=batch_size, threads=threads, vectors=vectors,
                             pool=pool, trim=trim, backend=backend)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    import numpy as np

    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"vectors of different sizes: {x.size} and {y.size}")
    n = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / n) if n > 0 else 0.0


def __getattr__(name: str):
    # Embedder on first use only: importing it pulls in torch.
    if name == "Embedder":
        from speechdis.inference.model import Embedder

        return Embedder
    raise AttributeError(f"module 'speechdis' has no attribute {name!r}")
