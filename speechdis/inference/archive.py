"""The embedding archive in memory (:class:`EmbeddingSet`) and on disk: ``.npz`` and Kaldi ark/scp
writing, :func:`load_embeddings`, output path checks.

Moved out of :mod:`speechdis.inference.extract` (which re-exports it).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechdis.data.tables import write_feats_scp
from speechdis.errors import ConfigError, DataDirError
from speechdis.fileio import atomic_open
from speechdis.inference.inputs import (
    Skipped,
)
from speechdis.inference.vector_files import check_vector_arrays, read_npz

__all__ = ["EmbeddingSet", "load_embeddings", "output_paths", "check_output_dir"]


@dataclass
class EmbeddingSet:
    """Vectors of N segments with their labels (``""`` / NaN where unknown)."""

    ids: list[str]
    utts: list[str]
    words: list[str]
    speakers: list[str]
    starts: np.ndarray
    ends: np.ndarray
    vectors: dict[str, np.ndarray]
    kind: str = ""
    model: str = ""
    model_sha256: str = ""  # of the model file: which model made the vectors, wherever that file is now
    skipped: list[Skipped] = field(default_factory=list)
    n_utterances: int = 0
    seconds: float = 0.0  # wall time of feature loading + embedding

    def __len__(self) -> int:
        return len(self.ids)

    def save_npz(self, path: str | os.PathLike) -> Path:
        """Write the set to ``path`` (``.npz``, string arrays: loads without pickle)."""
        path = Path(path)
        arrays = {"ids": np.array(self.ids, dtype=str), "utts": np.array(self.utts, dtype=str),
                  "words": np.array(self.words, dtype=str), "speakers": np.array(self.speakers, dtype=str),
                  "starts": np.asarray(self.starts, dtype=np.float64),
                  "ends": np.asarray(self.ends, dtype=np.float64),
                  "kind": np.array(self.kind), "model": np.array(self.model),
                  "model_sha256": np.array(self.model_sha256)}
        clash = set(arrays) & set(self.vectors)
        if clash:
            raise ValueError(f"vector names clash with label arrays: {sorted(clash)}")
        arrays.update({k: np.asarray(v, dtype=np.float32) for k, v in self.vectors.items()})
        with atomic_open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    def save_ark(self, prefix: str | os.PathLike) -> list[Path]:
        """Write ``<prefix>.<kind>.ark`` + ``.scp`` for each vector kind (scp paths absolute)."""
        from speechdis.data.ark import write_ark

        if len(set(self.ids)) != len(self.ids):
            dup = next(i for i, c in Counter(self.ids).items() if c > 1)
            raise DataDirError(f"segment id '{dup}' occurs twice; ark/scp need unique ids")
        written = []
        prefix = Path(prefix).resolve()
        for key, mat in self.vectors.items():
            ark = prefix.parent / f"{prefix.name}.{key}.ark"
            scp = prefix.parent / f"{prefix.name}.{key}.scp"
            rows = ((i, np.asarray(mat[n], dtype=np.float32)) for n, i in enumerate(self.ids))
            write_feats_scp(scp, write_ark(str(ark), rows, str(ark)))
            written += [ark, scp]
        return written

    def summary(self) -> str:
        """One line: what was embedded."""
        dims = ", ".join(f"{k} {v.shape[1]}" for k, v in self.vectors.items())
        return (f"{len(self)} segment(s) from {self.n_utterances} utterance(s), {self.kind} model ({dims}), "
                f"{self.seconds:.1f}s")


def load_embeddings(path: str | os.PathLike, allow_empty: bool = False) -> EmbeddingSet:
    """Read an ``.npz`` written by :meth:`EmbeddingSet.save_npz`, checked (:mod:`speechdis.inference.vector_files`;
    ``allow_empty``: a set of no segments is fine)."""
    path = Path(path)
    data = read_npz(path)
    missing = [k for k in ("ids", "utts", "words", "speakers", "starts", "ends", "kind", "model") if k not in data]
    if missing:
        raise DataDirError(f"{path}: not a speechdis embeddings file (missing {', '.join(missing)})")
    ids, vectors = check_vector_arrays(data, path, allow_empty)
    return EmbeddingSet(
        ids=ids, utts=data["utts"].tolist(), words=data["words"].tolist(),
        speakers=data["speakers"].tolist(), starts=data["starts"], ends=data["ends"],
        vectors=vectors, kind=str(data["kind"]), model=str(data["model"]),
        model_sha256=str(data["model_sha256"]) if "model_sha256" in data else "",
        n_utterances=len(set(data["utts"].tolist())))


def output_paths(out: str | os.PathLike, fmt: str) -> tuple[Path | None, Path | None]:
    """(npz path, ark prefix) for ``--out OUT --format npz|ark|both``: ``x.npz`` → ``x.npz``, ``x``."""
    if fmt not in ("npz", "ark", "both"):
        raise ValueError(f"format must be npz, ark or both, not {fmt!r}")
    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".npz" else out
    npz = stem.with_name(stem.name + ".npz") if fmt in ("npz", "both") else None
    ark = stem if fmt in ("ark", "both") else None
    return npz, ark


def check_output_dir(out: str | os.PathLike) -> None:
    """Raise ConfigError unless files can be written beside ``--out`` (checked before any work; the
    folder is created when missing)."""
    out = Path(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create folder {parent} ({e.strerror or e})") from None
    if not parent.is_dir():
        raise ConfigError(f"--out {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: folder {parent} is not writable")
