"""Search speed: 1,000 queries against 10^4 / 10^5 / 10^6 vectors of dim 64 (``speechdis search``'s back ends).

For each archive size: seconds of exact search (:class:`speechdis.eval.search.ExactIndex`, blocked float32
matrix products + running top-k), of faiss flat and IVF (and HNSW up to ``--hnsw-max`` vectors; the faiss
rows need ``pip install 'speechdis[faiss]'``), the index build time, recall@10 of each index against exact
search, and the ratio of frame-level DTW (the classic QbE baseline, numba) on the same number of pairs,
measured on ``--dtw-pairs`` pairs of 20-100-frame, 39-dim segments and extrapolated.

Vectors are clustered (``--centres`` word-like centres + noise), as word embeddings are: IVF's recall on
structureless Gaussian noise would be lower and says little. One run of each; the machine's other load
shows in the seconds, so compare rows of one run.

    python bench/search_speed.py [--sizes 10000 100000 1000000] [--queries 1000] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def clustered(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    for b in range(0, n, 200_000):  # bounded float64 temporaries
        m = min(200_000, n - b)
        out[b:b + m] = centres[rng.integers(0, len(centres), m)] + noise * rng.standard_normal((m, dim))
    return out


def dtw_pairs_per_second(n_pairs: int, seed: int = 0) -> float:
    from speechdis.eval.dtw import dtw_matrix

    rng = np.random.default_rng(seed)
    side = max(2, int(np.sqrt(n_pairs)))
    segs = [rng.standard_normal((int(rng.integers(20, 101)), 39)).astype(np.float32) for _ in range(2 * side)]
    dtw_matrix(segs[:2], segs[2:4])  # compile
    res = dtw_matrix(segs[:side], segs[side:])
    return res.n_computed / res.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--centres", type=int, default=10_000, help="word-like cluster centres")
    ap.add_argument("--noise", type=float, default=0.5, help="std of the noise around a centre (per dim)")
    ap.add_argument("--threads", type=int, default=2, help="torch / faiss threads")
    ap.add_argument("--hnsw-max", type=int, default=100_000, help="build HNSW only up to this many vectors")
    ap.add_argument("--dtw-pairs", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from speechdis.eval.search import ExactIndex, FaissIndex, have_faiss, recall_at_k

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.centres, args.dim))
    queries = clustered(args.queries, args.dim, centres, rng, args.noise)
    dtw_rate = dtw_pairs_per_second(args.dtw_pairs, args.seed)
    print(f"frame DTW: {dtw_rate:,.0f} pairs/s (measured on ~{args.dtw_pairs} pairs, extrapolated below)")
    faiss_ok = have_faiss()
    if not faiss_ok:
        print("faiss not installed: exact search only")
    print(f"{args.queries} queries, dim {args.dim}, k {args.k}, {args.threads} thread(s), cpu count {os.cpu_count()}")
    print(f"{'N':>9} {'method':<28} {'build s':>8} {'search s':>9} {'recall@10':>9} {'DTW / this':>11}")
    for n in args.sizes:
        archive = clustered(n, args.dim, centres, rng, args.noise)
        dtw_s = args.queries * n / dtw_rate
        t0 = time.perf_counter()
        exact = ExactIndex(archive)
        t1 = time.perf_counter()
        _, truth = exact.search(queries, args.k)
        t2 = time.perf_counter()
        rows = [("exact (blocked matmul)", t1 - t0, t2 - t1, 1.0)]
        if faiss_ok:
            kinds = [("flat", {}), ("ivf", {})] + ([("hnsw", {})] if n <= args.hnsw_max else [])
            for kind, opts in kinds:
                t0 = time.perf_counter()
                idx = FaissIndex(archive, kind, threads=args.threads, seed=args.seed, **opts)
                t1 = time.perf_counter()
                _, found = idx.search(queries, args.k)
                t2 = time.perf_counter()
                label = f"faiss {kind}" + (f" nlist {idx.nlist} nprobe {idx.nprobe}" if kind == "ivf" else "")
                rows.append((label, t1 - t0, t2 - t1, recall_at_k(found, truth)))
                del idx
        for label, build, search, rec in rows:
            print(f"{n:>9,} {label:<28} {build:>8.2f} {search:>9.2f} {rec:>9.3f} {dtw_s / search:>10,.0f}x",
                  flush=True)
        print(f"{n:>9,} {'frame DTW (extrapolated)':<28} {'':>8} {dtw_s:>9,.0f}", flush=True)
        del archive, exact


if __name__ == "__main__":
    main()
