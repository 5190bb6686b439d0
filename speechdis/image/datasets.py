"""Offline image data: scikit-learn's bundled digits, procedurally rendered shapes with known factors, and
domain-shifted digits. Everything is generated locally and deterministically from a seed (no downloads).

Arrays are numpy, images ``float32`` in ``[0, 1]`` with shape ``(N, C, H, W)``.
"""
from __future__ import annotations

import functools
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from speechdis.errors import ConfigError, DataDirError

# ----------------------------------------------------------------------------------------------- digits


def load_digits_images(size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 handwritten 8x8 digits, bilinearly upsampled to ``size``; returns (images, labels)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.clamp(0, 1).numpy(), d.target.astype(np.int64)


def split_indices(n: int, fractions: tuple[float, ...], seed: int = 0) -> list[np.ndarray]:
    """Random disjoint index sets with the given fractions of ``n`` (the last one takes the remainder)."""
    if not fractions or any(f < 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise ConfigError(f"split fractions must be non-negative and sum to at most 1, got {fractions}")
    perm = np.random.default_rng(seed).permutation(n)
    sizes = [int(round(f * n)) for f in fractions]
    if abs(sum(fractions) - 1) < 1e-9:
        sizes[-1] = n - sum(sizes[:-1])  # rounding must not drop or duplicate examples
    cuts = np.cumsum(sizes)
    return [np.sort(p) for p in np.split(perm[: cuts[-1]], cuts[:-1])]


def few_labels(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` randomly chosen examples of every class (for semi-supervised training)."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < per_class:
            raise ConfigError(f"class {c} has only {len(idx)} examples, fewer than {per_class} requested")
        out.append(rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(out))


# ----------------------------------------------------------------------------------------------- shapes

SHAPE_FACTORS: tuple[str, ...] = ("shape", "scale", "rotation", "pos_x", "pos_y", "colour", "background")
SHAPE_FACTOR_SIZES: tuple[int, ...] = (3, 3, 4, 5, 5, 4, 3)
SHAPE_NAMES = ("square", "ellipse", "triangle")
_SCALES = (0.12, 0.17, 0.22)  # "radius" as a fraction of the image side
_ROTATIONS = tuple(np.deg2rad(a) for a in (0.0, 22.5, 45.0, 67.5))  # distinct for all three symmetries
_COLOURS = np.array([[0.9, 0.2, 0.2], [0.2, 0.85, 0.3], [0.25, 0.4, 0.95], [0.95, 0.85, 0.2]], np.float32)
_BACKGROUNDS = np.array([[0.0, 0.0, 0.0], [0.35, 0.35, 0.35], [0.3, 0.1, 0.4]], np.float32)
_SUPERSAMPLE = 4


@dataclass
class Shapes:
    """Rendered shapes with their generative factors.

    ``factors[i, k]`` is the index of factor ``SHAPE_FACTORS[k]`` (in ``range(SHAPE_FACTOR_SIZES[k])``);
    ``centres`` are the shape centres in pixel units (x, y), with pixel ``j`` covering ``[j, j+1)``;
    ``masks`` are the anti-aliased foreground coverages.
    """

    images: np.ndarray  # (N, 3, S, S)
    factors: np.ndarray  # (N, 7) int64
    masks: np.ndarray  # (N, S, S)
    centres: np.ndarray  # (N, 2) float32, (x, y)
    factor_names: tuple[str, ...] = SHAPE_FACTORS
    factor_sizes: tuple[int, ...] = SHAPE_FACTOR_SIZES

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, idx: np.ndarray) -> "Shapes":
        """The images, factors, masks and centres at `idx`."""
        return Shapes(self.images[idx], self.factors[idx], self.masks[idx], self.centres[idx])


def shape_position(index: np.ndarray | int, size: int = 16) -> np.ndarray:
    """Pixel coordinate of position-factor value ``index`` (same for x and y)."""
    margin = size * 5.0 / 16.0  # keeps the largest shape at any rotation inside the frame
    step = (size - 2 * margin) / (SHAPE_FACTOR_SIZES[3] - 1)
    return margin + step * np.asarray(index, dtype=np.float64)


def render_shapes(factors: np.ndarray, size: int = 16, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Render images for given factor indices (N, 7); returns (images (N,3,S,S), masks (N,S,S)).

    Masks come from analytic inside-tests on a 4x4 supersampled grid per pixel, so edges are anti-aliased
    and the mask's centre of mass is the shape's centre (all shapes are centred on their centroid).
    """
    factors = np.asarray(factors, dtype=np.int64)
    if factors.ndim != 2 or factors.shape[1] != len(SHAPE_FACTORS):
        raise ConfigError(f"factors must have shape (N, {len(SHAPE_FACTORS)}), got {factors.shape}")
    if (factors < 0).any() or (factors >= np.array(SHAPE_FACTOR_SIZES)).any():
        raise ConfigError("factor index out of range")
    s = _SUPERSAMPLE
    grid = (np.arange(size * s, dtype=np.float32) + 0.5) / s  # sub-pixel centres in pixel units
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    masks = np.empty((len(factors), size, size), np.float32)
    for lo in range(0, len(factors), chunk):
        f = factors[lo:lo + chunk]
        n = len(f)
        r = (np.array(_SCALES)[f[:, 1]] * size).astype(np.float32)[:, None, None]
        th = np.array(_ROTATIONS)[f[:, 2]].astype(np.float32)[:, None, None]
        cx = shape_position(f[:, 3], size).astype(np.float32)[:, None, None]
        cy = shape_position(f[:, 4], size).astype(np.float32)[:, None, None]
        dx, dy = gx[None] - cx, gy[None] - cy
        # Rotate the sampling grid by -theta: the shape's own frame.
        a = np.cos(th) * dx + np.sin(th) * dy
        b = -np.sin(th) * dx + np.cos(th) * dy
        shape = f[:, 0][:, None, None]
        half = 0.85 * r  # square half-side
        inside_sq = np.maximum(np.abs(a), np.abs(b)) <= half
        inside_el = (a / r) ** 2 + (b / (0.55 * r)) ** 2 <= 1.0
        # Equilateral triangle around its centroid: inside when all three edge half-planes hold.
        circ = 1.1 * r
        inside_tr = np.ones_like(inside_sq)
        for phi in np.deg2rad([-90.0, 30.0, 150.0]):
            inside_tr &= a * np.cos(phi) + b * np.sin(phi) <= circ / 2
        inside = np.where(shape == 0, inside_sq, np.where(shape == 1, inside_el, inside_tr))
        masks[lo:lo + n] = inside.reshape(n, size, s, size, s).mean(axis=(2, 4))
    fg = _COLOURS[factors[:, 5]][:, :, None, None]
    bg = _BACKGROUNDS[factors[:, 6]][:, :, None, None]
    m = masks[:, None]
    images = (bg * (1 - m) + fg * m).astype(np.float32)
    return images, masks


def sample_shape_factors(n: int, seed: int = 0) -> np.ndarray:
    """``n`` factor vectors drawn independently and uniformly over every factor's values."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) for k in SHAPE_FACTOR_SIZES], axis=1).astype(np.int64)


def make_shapes(n: int = 4000, seed: int = 0, size: int = 16) -> Shapes:
    """A dSprites-like data set: ``n`` shapes with uniformly random factors, deterministic given ``seed``."""
    if n <= 0:
        raise ConfigError(f"number of shapes must be positive, got {n}")
    factors = sample_shape_factors(n, seed)
    images, masks = render_shapes(factors, size)
    centres = np.stack([shape_position(factors[:, 3], size), shape_position(factors[:, 4], size)], 1)
    return Shapes(images, factors, masks, centres.astype(np.float32))


# ----------------------------------------------------------------------------------- domain-shifted digits

Domain = Literal["plain", "inverted", "coloured", "textured", "noisy"]  # what shift_domain renders
DOMAINS: tuple[str, ...] = typing.get_args(Domain)
DIGIT_COLOURS = np.array([[1.0, 0.3, 0.3], [0.3, 1.0, 0.4], [0.35, 0.5, 1.0], [1.0, 0.9, 0.3]], np.float32)
BACKGROUND_COLOURS = np.array([[0.1, 0.1, 0.1], [0.45, 0.2, 0.5], [0.15, 0.4, 0.45], [0.5, 0.35, 0.15]],
                              np.float32)


def shift_domain(gray: np.ndarray, domain: str, seed: int = 0, texture_range: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Re-render grey digits (N,1,H,W) in ``domain``; returns (images (N,3,H,W), style (N,2) int64).

    - ``plain``: grey on black (style all 0);
    - ``inverted``: black on white;
    - ``coloured``: one of 4 digit colours on one of 4 background colours (style = (colour, background));
    - ``textured``: MNIST-M-like: a smooth random colour texture with values in [0, texture_range], digit
      drawn as |texture - stroke| (below 1 the strokes stay brighter than the background: easier);
    - ``noisy``: grey digit on Gaussian pixel noise.
    """
    if domain not in DOMAINS:
        raise ConfigError(f"unknown image domain {domain!r}; expected one of {DOMAINS}")
    rng = np.random.default_rng(seed)
    n, _, h, w = gray.shape
    g = np.repeat(gray.astype(np.float32), 3, axis=1)
    style = np.zeros((n, 2), np.int64)
    if domain == "plain":
        out = g
    elif domain == "inverted":
        out = 1.0 - g
    elif domain == "coloured":
        style[:, 0] = rng.integers(0, len(DIGIT_COLOURS), n)
        style[:, 1] = rng.integers(0, len(BACKGROUND_COLOURS), n)
        out = colour_digits(gray, style)
    elif domain == "textured":
        # Low-resolution colour noise upsampled gives blotchy textures (a stand-in for MNIST-M's photo patches).
        if not 0 < texture_range <= 1:
            raise ConfigError(f"texture_range must be in (0, 1], got {texture_range}")
        coarse = torch.from_numpy(rng.uniform(0, texture_range, (n, 3, 3, 3)).astype(np.float32))
        tex = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True).numpy()
        tex = np.clip(tex + rng.normal(0, 0.05 * texture_range, tex.shape).astype(np.float32), 0, 1)
        out = np.abs(tex - g)
    else:
        out = np.clip(g + rng.normal(0, 0.3, (n, 1, h, w)).astype(np.float32), 0, 1)
    return np.clip(out, 0, 1).astype(np.float32), style


def colour_digits(gray: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Grey digits (N,1,H,W) drawn in ``DIGIT_COLOURS[style[:, 0]]`` on ``BACKGROUND_COLOURS[style[:, 1]]``."""
    g = np.repeat(gray.astype(np.float32), 3, axis=1)
    fg = DIGIT_COLOURS[style[:, 0]][:, :, None, None]
    bg = BACKGROUND_COLOURS[style[:, 1]][:, :, None, None]
    return (bg * (1 - g) + fg * g).astype(np.float32)



# ------------------------------------------------------------------------------------------------ MNIST

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DigitDataset = Literal["digits", "mnist"]  # the labelled digit data sets (load_labelled_images)
DATASETS: tuple[str, ...] = typing.get_args(DigitDataset)
IMAGE_SIZES = {"digits": 16, "mnist": 28}  # side of the images each data set yields


def image_size(dataset: str) -> int:
    """Side of the images of ``dataset`` (digits 16, mnist 28)."""
    if dataset not in IMAGE_SIZES:
        raise ConfigError(f"unknown image dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    return IMAGE_SIZES[dataset]


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """One idx file (gzip-compressed or not) as a uint8 array; errors name the file and what is wrong."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataDirError(f"{path}: cannot read idx file ({e})") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataDirError(f"{path}: not an idx file of unsigned bytes (bad magic number)")
    dims = data[3]
    if dims != expected_dims:
        raise DataDirError(f"{path}: {dims}-dimensional idx data, expected {expected_dims}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    body = data[4 + 4 * dims:]
    if len(body) != int(np.prod(shape)):
        raise DataDirError(f"{path}: header says {shape} = {int(np.prod(shape))} bytes, file holds {len(body)} "
                        "(truncated?)")
    return np.frombuffer(body, np.uint8).reshape(shape)


@functools.lru_cache(maxsize=4)
def load_mnist(data_dir: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST from the four original idx files in ``data_dir``; returns (images (N,1,28,28) float32 in [0, 1],
    labels (N,) int64). No download: a missing file is an error naming what is expected where."""
    if split not in MNIST_FILES:
        raise ConfigError(f"MNIST split must be train or test, not {split!r}")
    if not data_dir:
        raise ConfigError("dataset mnist needs data_dir: the directory holding "
                          + ", ".join(f for pair in MNIST_FILES.values() for f in pair))
    root = Path(data_dir)
    paths = []
    for name in MNIST_FILES[split]:
        p = root / name
        if not p.is_file() and (root / name[:-3]).is_file():
            p = root / name[:-3]  # uncompressed copies are fine too
        if not p.is_file():
            raise DataDirError(f"{root}: no {name}; MNIST needs the four original idx files in this directory: "
                              + ", ".join(f for pr in MNIST_FILES.values() for f in pr))
        paths.append(p)
    images = _read_idx(paths[0], 3)
    labels = _read_idx(paths[1], 1)
    side = IMAGE_SIZES["mnist"]
    if images.shape[1:] != (side, side) or len(images) == 0:  # the models are built for 28x28 images
        raise DataDirError(f"{paths[0]}: {len(images)} images of {images.shape[1]}x{images.shape[2]} pixels; "
                           f"MNIST needs at least one image of {side}x{side}")
    if len(images) != len(labels):
        raise DataDirError(f"{root}: {len(images)} images but {len(labels)} labels in the {split} split")
    if labels.max(initial=0) > 9:
        raise DataDirError(f"{paths[1]}: label {int(labels.max())} out of range 0-9")
    # Cached: callers get the same arrays and must not write to them.
    x = (images.astype(np.float32) / 255.0)[:, None]
    y = labels.astype(np.int64)
    return x, y


@dataclass
class LabelledImages:
    """A train/test pair of grey digit images (N,1,S,S) with labels; ``size`` is S."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def size(self) -> int:
        """Side of the (square) images in pixels."""
        return int(self.x_train.shape[-1])


def load_labelled_images(dataset: str = "digits", data_dir: str = "", seed: int = 0) -> LabelledImages:
    """``digits``: scikit-learn's digits at 16x16, a seeded 80/20 split; ``mnist``: the official 60k/10k
    split at 28x28 read from ``data_dir``."""
    if dataset == "digits":
        x, y = load_digits_images(16)
        tr, te = split_indices(len(x), (0.8, 0.2), seed=seed)
        return LabelledImages(x[tr], y[tr], x[te], y[te])
    if dataset == "mnist":
        return LabelledImages(*load_mnist(data_dir, "train"), *load_mnist(data_dir, "test"))
    raise ConfigError(f"unknown image dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
