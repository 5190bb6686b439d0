"""speechdis: disentangling speech into phonetic and speaker embeddings."""

__version__ = "0.1.0"

__all__ = ["load_model", "__version__"]


def load_model(exp_dir, device: str = "auto", batch_size: int = 256, threads: int | None = 1, vectors=None,
               pool: str = "mean"):
    """Load a trained model (``speechdis train --out EXP_DIR``) for embedding; see :mod:`speechdis.inference.model`.

    Imported lazily so ``import speechdis`` stays light (no torch until a model is loaded).
    """
    from speechdis.inference.model import load_model as _load

    return _load(exp_dir, device=device, batch_size=batch_size, threads=threads, vectors=vectors, pool=pool)
