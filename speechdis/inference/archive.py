"""Embedding archives, the one home for them: the type (:class:`EmbeddingSet`), its files (``.npz``; Kaldi
``<prefix>.<vector>.ark`` + ``.scp``) and one checked reader, :func:`load_archive`, for ``.npz``, ``.scp`` and
``.ark`` alike. ``speechdis extract`` writes them, ``extract --combine``, ``search`` and ``evaluate`` read them.

Every archive is checked on load the same way, with a one-line :class:`DataDirError` naming the file: an
``.npz`` is never unpickled (object arrays refused) and a missing, truncated or non-zip file is named as such;
ids must be non-empty, unique and free of whitespace; a vector array must be ``(N, dim)`` numbers for the N ids
(a short array is never dropped silently) without NaN or infinite values; a label array must have one entry
per id. An ``.scp`` entry that is a shell command (``... |``) is refused unless ``allow_commands``. Labels an
archive lacks (Kaldi vectors, an ``.npz`` of ids and vectors only) are ``""`` / NaN.
"""
from __future__ import annotations

import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechdis.data.tables import read_feats_scp, refuse_commands, write_feats_scp
from speechdis.errors import ConfigError, DataDirError
from speechdis.fileio import atomic_open
from speechdis.inference.inputs import Skipped

__all__ = ["EmbeddingSet", "LABELS", "load_archive", "output_paths", "check_output_dir"]

# Arrays of an extract npz that are labels, not vectors.
LABELS = ("ids", "utts", "words", "speakers", "starts", "ends", "kind", "model", "model_sha256")
_STRING_LABELS = ("utts", "words", "speakers")
_TIME_LABELS = ("starts", "ends")


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
        """Write ``<prefix>.<vector>.ark`` + ``.scp`` for each vector (scp paths absolute)."""
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


def load_archive(path: str | os.PathLike, allow_commands: bool = False, allow_empty: bool = False) -> EmbeddingSet:
    """The archive at ``path``: an ``.npz`` (:meth:`EmbeddingSet.save_npz`), or Kaldi vectors (``.scp`` / ``.ark``,
    :meth:`EmbeddingSet.save_ark`: one vector named by the file, ``<prefix>.<vector>.ark``), checked as the module
    doc says. ``allow_commands``: run the shell commands an ``.scp`` names; ``allow_empty``: an archive of no
    segments is fine (a grid job's part that only held unusable inputs)."""
    p = Path(path)
    if not p.is_file():
        raise DataDirError(f"{p}: no such archive file")
    if p.suffix == ".npz":
        return _load_npz(p, allow_empty)
    if p.suffix in (".scp", ".ark"):
        return _load_kaldi(p, allow_commands, allow_empty)
    raise DataDirError(f"{p}: an archive is an .npz, .scp or .ark written by `speechdis extract`")


def _load_npz(path: Path, allow_empty: bool) -> EmbeddingSet:
    data = _read_npz(path)
    ids, vectors = _check_arrays(data, path, allow_empty)
    n = len(ids)

    def text(name: str) -> str:
        return str(data[name]) if name in data else ""

    utts = data["utts"].tolist() if "utts" in data else [""] * n
    return EmbeddingSet(
        ids=ids, utts=utts, words=data["words"].tolist() if "words" in data else [""] * n,
        speakers=data["speakers"].tolist() if "speakers" in data else [""] * n,
        starts=data["starts"] if "starts" in data else np.full(n, np.nan),
        ends=data["ends"] if "ends" in data else np.full(n, np.nan),
        vectors=vectors, kind=text("kind"), model=text("model"), model_sha256=text("model_sha256"),
        n_utterances=len({u for u in utts if u}))


def _load_kaldi(p: Path, allow_commands: bool, allow_empty: bool) -> EmbeddingSet:
    import kaldiio  # only for Kaldi archives: reading an .npz does not need it

    if p.suffix == ".scp":
        scp = read_feats_scp(p)  # one-line errors for repeated ids and malformed lines
        if not allow_commands:
            refuse_commands(p, scp)
    try:
        if p.suffix == ".scp":  # read_feats_scp (above) refuses repeated ids
            table = kaldiio.load_scp(str(p))
            pairs = [(i, table[i]) for i in table]
        else:
            pairs = list(kaldiio.load_ark(str(p)))
        ids = [i for i, _ in pairs]
        mats = [np.asarray(m, dtype=np.float32).ravel() for _, m in pairs]
    except Exception as e:  # kaldiio raises many kinds on a bad file
        raise DataDirError(f"{p}: cannot read Kaldi vectors: {e}") from e
    if not ids and not allow_empty:
        raise DataDirError(f"{p}: no vectors")
    if len(set(ids)) != len(ids):
        dup = next(i for i, c in Counter(ids).items() if c > 1)
        raise DataDirError(f"{p}: id {dup!r} appears twice")
    if len({m.size for m in mats}) > 1:
        raise DataDirError(f"{p}: vectors of different lengths")
    bad = [i for i, m in zip(ids, mats) if not np.isfinite(m).all()]
    if bad:
        raise DataDirError(f"{p}: the vector of id {bad[0]!r} has NaN or infinite values ({len(bad)} such)")
    # <prefix>.<vector>.ark as save_ark names it
    vector = p.stem.rsplit(".", 1)[-1] if "." in p.stem else "vector"
    n = len(ids)
    return EmbeddingSet(ids=ids, utts=[""] * n, words=[""] * n, speakers=[""] * n, starts=np.full(n, np.nan),
                        ends=np.full(n, np.nan), vectors={vector: np.stack(mats) if mats else np.zeros((0, 0),
                                                                                                    np.float32)})


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


def _read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
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


def _check_arrays(arrays: dict[str, np.ndarray], path: str | os.PathLike, allow_empty: bool = False
                        ) -> tuple[list[str], dict[str, np.ndarray]]:
    """``(ids, {name: (N, dim) float32})`` of an npz's arrays, or :class:`DataDirError` naming the file and
    what is wrong (see the module doc). Every array that is not a label is a vector array."""
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
