"""Issue 22 item 5: exact and faiss search refuse NaN/inf vectors (exact search ranked NaN hits 2-3, faiss
dropped them) instead of ranking them."""
from __future__ import annotations

import numpy as np
import pytest

from speechdis.eval.search import build_index, have_faiss

KINDS = ["exact"] + (["flat", "ivf", "hnsw"] if have_faiss() else [])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_archive_vectors_are_refused(kind, bad):
    x = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
    x[7, 3] = bad
    with pytest.raises(ValueError, match=r"archive vector 7 has NaN or infinite values \(1 such row"):
        build_index(x, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_non_finite_queries_are_refused(kind):
    x = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
    index = build_index(x, kind)
    q = x[:3].copy()
    q[2, 0] = np.nan
    with pytest.raises(ValueError, match="query 2 has NaN"):
        index.search(q, 5)
    scores, hits = index.search(x[:2], 5)
    assert np.isfinite(scores).all() and hits[0, 0] == 0


@pytest.mark.skipif(not have_faiss(), reason="faiss not installed")
@pytest.mark.parametrize("option", ["nprobe", "nlist", "ef_search"])
def test_faiss_options_below_one_are_config_errors(option):
    from speechdis.errors import ConfigError

    x = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
    with pytest.raises(ConfigError, match=f"{option} must be >= 1, got -3"):
        build_index(x, "ivf" if option != "ef_search" else "hnsw", **{option: -3})
