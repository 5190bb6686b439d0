"""Nearest-neighbour search of embedding archives by cosine similarity (``speechdis search``).

Two back ends give the same interface, ``search(queries) -> (scores, indices)`` of the ``k`` best archive
vectors per query, best first:

* :class:`ExactIndex` — exact: blocked float32 matrix products (queries x archive chunk) and a running top-k,
  so memory stays at one (query block x chunk) score matrix however large the archive is. No extra
  dependency; 1,000 queries x 10^6 vectors of dim 64 take a few seconds on 2 cores (``bench/search_speed.py``).
* :class:`FaissIndex` — the optional ``faiss`` extra (``pip install speechdis[faiss]``): ``flat`` (exact,
  faiss's BLAS kernels), ``ivf`` (inverted lists over k-means cells: ``nlist`` cells, ``nprobe`` visited)
  or ``hnsw`` (graph, ``M`` links, ``ef_search``). IVF and HNSW are approximate; their recall@k against
  exact search is measured by ``bench/search_speed.py``.

:func:`build_index` chooses: ``kind="auto"`` is exact below :data:`AUTO_INDEX_MIN` vectors, and an IVF index
above it when faiss is importable (exact otherwise). Vectors are L2-normalised first (all-zero rows stay
zero), so inner products are cosines; a vector with NaN or infinite values is refused by both back ends (its
cosines would be NaN: ranked arbitrarily by exact search, dropped by faiss). Archives are read by
:func:`speechdis.inference.archive.load_archive`; :func:`pick_vector` chooses which of their vectors to search.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from speechdis.errors import ConfigError
from speechdis.speech.registry import SPEECH_MODELS

__all__ = ["ExactIndex", "FaissIndex", "build_index", "have_faiss", "normalise_f32", "recall_at_k",
           "AUTO_INDEX_MIN", "INDEX_KINDS", "pick_vector"]

INDEX_KINDS = ("auto", "exact", "flat", "ivf", "hnsw")
# Below this many archive vectors "auto" searches exactly: exact search is then fast and an IVF index's
# training costs more than it saves.
AUTO_INDEX_MIN = 2_000_000


def have_faiss() -> bool:
    """Whether the optional faiss package is importable."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def normalise_f32(x: np.ndarray, what: str = "vector") -> np.ndarray:
    """Rows scaled to unit L2 norm, as a C-contiguous float32 array; all-zero rows stay zero.

    A row with NaN or infinite values is refused (ValueError naming its index, ``what`` saying whose): its
    cosines would be NaN, which exact search ranks arbitrarily and faiss drops."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad.size:
        raise ValueError(f"{what} {int(bad[0])} has NaN or infinite values ({bad.size} such row(s))")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def _check_queries(q: np.ndarray, dim: int) -> np.ndarray:
    q = normalise_f32(q, "query")
    if q.shape[1] != dim:
        raise ValueError(f"query dim {q.shape[1]} != archive dim {dim}")
    return q


@dataclass
class ExactIndex:
    """Exact cosine search by blocked matrix products (torch CPU/GPU kernels, float32).

    ``query_block`` queries are scored against ``chunk`` archive vectors at a time; the k best of each chunk
    are merged into the running k best, so peak extra memory is ``query_block * chunk * 4`` bytes (64 MiB
    by default).
    """

    vectors: np.ndarray
    query_block: int = 1024
    chunk: int = 16384
    kind: str = "exact"

    def __post_init__(self) -> None:
        self.vectors = normalise_f32(self.vectors, "archive vector")

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def dim(self) -> int:
        """Vector dimension of the index."""
        return self.vectors.shape[1]

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, indices)``, each (n_queries, min(k, N)), best first; ties go to the lower index."""
        import torch

        q = _check_queries(queries, self.dim)
        n = len(self.vectors)
        k = min(k, n)
        if k < 1:
            raise ValueError("k must be >= 1 and the archive non-empty")
        archive = torch.from_numpy(self.vectors)
        scores = np.empty((len(q), k), dtype=np.float32)
        index = np.empty((len(q), k), dtype=np.int64)
        with torch.inference_mode():
            for b0 in range(0, len(q), self.query_block):
                qb = torch.from_numpy(q[b0:b0 + self.query_block])
                best_s = best_i = None
                for c0 in range(0, n, self.chunk):
                    sims = qb @ archive[c0:c0 + self.chunk].T
                    s, i = torch.topk(sims, min(k, sims.shape[1]), dim=1, sorted=False)
                    i += c0
                    if best_s is not None:
                        s, i = torch.cat([best_s, s], 1), torch.cat([best_i, i], 1)
                        s, j = torch.topk(s, min(k, s.shape[1]), dim=1, sorted=False)
                        i = torch.gather(i, 1, j)
                    best_s, best_i = s, i
                # Best first; among equal scores the lower archive index first (a stable, reproducible order).
                order = np.lexsort((best_i.numpy(), -best_s.numpy()), axis=1)
                scores[b0:b0 + len(qb)] = np.take_along_axis(best_s.numpy(), order, 1)
                index[b0:b0 + len(qb)] = np.take_along_axis(best_i.numpy(), order, 1)
        return scores, index


class FaissIndex:
    """A faiss inner-product index over the normalised archive: ``flat``, ``ivf`` or ``hnsw``.

    ``nlist`` (IVF cells) defaults to ``4 * sqrt(N)`` rounded to a power of two, trained on at most
    ``max(train_size, 40 * nlist)`` vectors (seeded sample); ``nprobe`` defaults to ``max(32, nlist // 16)``
    (recall@10 ~0.96 on the clustered data of ``bench/search_speed.py``). HNSW uses ``M`` links per node and
    ``ef_search`` candidates at query time. ``threads`` sets faiss's OpenMP threads (None: faiss's default).
    """

    def __init__(self, vectors: np.ndarray, kind: str = "ivf", *, nlist: int | None = None,
                 nprobe: int | None = None, train_size: int = 100_000, M: int = 32, ef_search: int = 128,
                 ef_construction: int = 80, threads: int | None = None, seed: int = 0) -> None:
        try:
            import faiss
        except ImportError as e:
            raise ConfigError("faiss is not installed: pip install 'speechdis[faiss]' (or use --index exact)") from e
        if kind not in ("flat", "ivf", "hnsw"):
            raise ValueError(f"faiss index kind must be flat, ivf or hnsw, not {kind!r}")
        for name, value in (("nlist", nlist), ("nprobe", nprobe), ("M", M), ("ef_search", ef_search),
                            ("ef_construction", ef_construction), ("threads", threads), ("train_size", train_size)):
            if value is not None and value < 1:  # faiss takes them as unsigned: -3 overflows or hangs
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if threads is not None:
            faiss.omp_set_num_threads(int(threads))
        x = normalise_f32(vectors, "archive vector")
        n, d = x.shape
        if n == 0:
            raise ValueError("empty archive")
        self.kind, self.n, self.dim = kind, n, d
        self.build_seconds = 0.0
        t0 = time.perf_counter()
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        else:
            if nlist is None:
                nlist = 2 ** max(0, round(math.log2(max(1.0, 4 * math.sqrt(n)))))
            nlist = max(1, min(nlist, n // 39 or 1))  # faiss wants >= 39 training points per cell
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            train = x
            m = max(train_size, 40 * nlist)  # faiss's k-means warns below 39 points per cell
            if n > m:
                train = x[np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))]
            index.train(train)
            index.nprobe = nprobe if nprobe is not None else min(nlist, max(32, nlist // 16))
            self.nlist, self.nprobe = nlist, index.nprobe
        index.add(x)
        self.build_seconds = time.perf_counter() - t0
        self.index = index
        self._quantizer = index.quantizer if kind == "ivf" else None  # keep it alive beside the index

    def __len__(self) -> int:
        return self.n

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, indices)``, each (n_queries, min(k, N)), best first (index -1 where an approximate index
        found fewer than k)."""
        q = _check_queries(queries, self.dim)
        k = min(k, self.n)
        if k < 1:
            raise ValueError("k must be >= 1")
        s, i = self.index.search(q, k)
        return s, i.astype(np.int64)


def build_index(vectors: np.ndarray, kind: str = "auto", **options) -> ExactIndex | FaissIndex:
    """An index over ``vectors`` (see the module doc for ``kind``); ``options`` go to :class:`FaissIndex`."""
    if kind not in INDEX_KINDS:
        raise ConfigError(f"index kind must be one of {', '.join(INDEX_KINDS)}, not {kind!r}")
    if kind == "auto":
        kind = "ivf" if len(vectors) >= AUTO_INDEX_MIN and have_faiss() else "exact"
    if kind == "exact":
        return ExactIndex(vectors)
    return FaissIndex(vectors, kind, **options)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each row of ``truth`` (exact k nearest) that ``found`` contains (-1 = no result)."""
    found, truth = np.asarray(found), np.asarray(truth)
    if found.shape[0] != truth.shape[0]:
        raise ValueError("found and truth differ in rows")
    if truth.size == 0:
        return float("nan")
    hits = sum(len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found, truth))
    return hits / truth.size


# ------------------------------------------------------------------------------------- which vector


def pick_vector(keys: list[str], vector: str | None, source: str) -> str:
    """The vector kind to search: ``vector`` when given, else the one playing the phonetic role (``phonetic``,
    the baseline's ``embedding``, or the only one: :mod:`speechdis.speech.registry`)."""
    if vector is not None:
        if vector not in keys:
            raise ConfigError(f"{source}: no '{vector}' vectors (has {', '.join(keys) or 'none'})")
        return vector
    found = SPEECH_MODELS.roles_for(keys, ("phonetic",))  # the vector a speech model searches with
    if found is not None:
        return found["phonetic"]
    raise ConfigError(f"{source}: say which vectors to search with --vector ({', '.join(keys)})")
