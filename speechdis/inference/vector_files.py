"""Reading and checking ``.npz`` files of vectors (``speechdis extract`` output, archives for search/evaluate).

One reader (:func:`read_npz`: never unpickles; a missing, truncated or non-zip file is one line naming it) and
one check (:func:`check_vector_arrays`) used by every loader, so an archive is refused the same way everywhere
when its ids are empty, repeated or hold whitespace, a vector array is not ``(N, dim)`` numbers for the N ids
(a short array is never dropped silently), a value is NaN or infinite, or a label array has another length.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from speechdis.errors import DataDirError

__all__ = ["LABELS", "read_npz", "check_vector_arrays"]

# Arrays of an extract npz that are labels, not vectors.
LABELS = ("ids", "utts", "words", "speakers", "starts", "ends", "kind", "model", "model_sha256")
_STRING_LABELS = ("utts", "words", "speakers")
_TIME_LABELS = ("starts", "ends")


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (``allow_pickle=False``: object arrays are refused, never unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise DataDirError(f"{path}: a single .npy array, not an .npz of vectors and ids")
            return {k: z[k] for k in z.files}
    except DataDirError:
        raise
    except ValueError as e:  # object arrays ("allow_pickle=False"), or a file numpy cannot parse
        why = "holds Python objects (refused: loading them could run code)" if "pickle" in str(e) else str(e)
        raise DataDirError(f"{path}: not a readable .npz of vectors: {why}") from e
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:  # truncated / not a zip / damaged member
        raise DataDirError(f"{path}: not a readable .npz of vectors (truncated or another format: "
                           f"{str(e).splitlines()[0] if str(e) else type(e).__name__})") from e


def _check_ids(ids: np.ndarray, path: Path, allow_empty: bool) -> list[str]:
    if ids.ndim != 1 or (ids.dtype.kind not in "US" and ids.size):
        raise DataDirError(f"{path}: 'ids' must be a 1-D array of strings, got {ids.dtype} of shape {ids.shape}")
    out = [str(i) for i in ids.tolist()]
    if not out and not allow_empty:
        raise DataDirError(f"{path}: the archive is empty (no ids)")
    seen: dict[str, int] = {}
    for n, i in enumerate(out):
        if not i or any(c.isspace() for c in i):
            raise DataDirError(f"{path}: id {n} {i!r} is empty or holds whitespace (tab, newline, space)")
        if i in seen:
            raise DataDirError(f"{path}: id {i!r} appears twice (rows {seen[i]} and {n})")
        seen[i] = n
    return out


def check_vector_arrays(arrays: dict[str, np.ndarray], path: str | os.PathLike, allow_empty: bool = False
                        ) -> tuple[list[str], dict[str, np.ndarray]]:
    """``(ids, {name: (N, dim) float32})`` of an npz's arrays, or :class:`DataDirError` naming the file and
    what is wrong (see the module doc). Every array that is not a label is a vector array. ``allow_empty``:
    N = 0 is fine (a grid job's part that only held unusable inputs)."""
    path = Path(path)
    if "ids" not in arrays:
        raise DataDirError(f"{path}: no 'ids' array (expected ids plus one (N, dim) array per vector)")
    ids = _check_ids(arrays["ids"], path, allow_empty)
    n = len(ids)
    for name in _STRING_LABELS + _TIME_LABELS:
        a = arrays.get(name)
        if a is None:
            continue
        text = name in _STRING_LABELS
        if not (a.ndim == 1 and len(a) == n and (a.dtype.kind in ("US" if text else "fi") or n == 0)):
            raise DataDirError(f"{path}: '{name}' must be {n} {'strings' if text else 'numbers'}"
                               f" (one per id), got {a.dtype} of shape {a.shape}")
    vectors: dict[str, np.ndarray] = {}
    for name, a in arrays.items():
        if name in LABELS:
            continue
        if a.dtype.kind not in "fiu" or a.ndim != 2 or a.shape[0] != n or (a.shape[1] < 1 and n):
            raise DataDirError(f"{path}: vector array '{name}' must be ({n}, dim) numbers (one row per id), got "
                               f"{a.dtype} of shape {a.shape}")
        v = np.asarray(a, dtype=np.float32)
        bad = np.flatnonzero(~np.isfinite(v).all(axis=1))
        if bad.size:
            raise DataDirError(f"{path}: '{name}' vector of id {ids[bad[0]]!r} has NaN or infinite values "
                               f"({bad.size} such row(s))")
        vectors[name] = v
    if not vectors:
        raise DataDirError(f"{path}: no vector arrays beside the labels (arrays: {', '.join(sorted(arrays))})")
    return ids, vectors
