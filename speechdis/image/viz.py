"""Pictures: image grids (samples, reconstructions, latent traversals, interpolations) written as PNG."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from speechdis.fileio import atomic_open


def image_grid(images: np.ndarray | torch.Tensor, nrow: int, pad: int = 1, pad_value: float = 1.0,
               scale: int = 4) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (rows*H', cols*W', 3) array, ``nrow`` images per row.

    Grey images are repeated to RGB; each pixel becomes a ``scale`` x ``scale`` block (nearest neighbour),
    so 16x16 pictures are big enough to look at.
    """
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {x.shape}")
    x = np.clip(x.astype(np.float32), 0, 1)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    n, _, h, w = x.shape
    ncol = max(1, nrow)
    nrows = (n + ncol - 1) // ncol
    grid = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad, 3), pad_value, np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def save_grid(path: str | os.PathLike, images: np.ndarray | torch.Tensor, nrow: int, scale: int = 4) -> Path:
    """Write an image grid as PNG (atomically); returns the path."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot imports anywhere in the process
    from matplotlib import image as mpimg

    path = Path(path)
    with atomic_open(path, "wb") as f:
        mpimg.imsave(f, image_grid(images, nrow, scale=scale), format="png")
    return path


def traversal_values(n: int = 7, limit: float = 2.0) -> torch.Tensor:
    """Evenly spaced values from -limit to limit for latent traversals."""
    return torch.linspace(-limit, limit, n)


def interpolate(a: torch.Tensor, b: torch.Tensor, n: int = 8) -> torch.Tensor:
    """Linear interpolation from code ``a`` to code ``b`` (both (D,)) in ``n`` steps: (n, D)."""
    t = torch.linspace(0, 1, n).unsqueeze(1)
    return (1 - t) * a.unsqueeze(0) + t * b.unsqueeze(0)
