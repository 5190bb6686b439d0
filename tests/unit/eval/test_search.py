"""Embedding search: exact blocked top-k, faiss flat/IVF/HNSW (skipped without faiss), archives, the CLI."""
from __future__ import annotations

import numpy as np
import pytest

from speechdis.cli import main as cli_main
from speechdis.errors import ConfigError
from speechdis.eval.search import ExactIndex, FaissIndex, build_index, have_faiss, recall_at_k
from speechdis.inference.archive import load_archive
from speechdis.inference.extract import EmbeddingSet
from tests.helpers import tiny_setup, write_wave

needs_faiss = pytest.mark.skipif(not have_faiss(), reason="faiss not installed (pip install 'speechdis[faiss]')")


def _clustered(n: int, dim: int = 16, centres: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim))
    return (c[rng.integers(0, centres, n)] + 0.3 * rng.standard_normal((n, dim))).astype(np.float32)


def _brute(q: np.ndarray, a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    s = qn.astype(np.float64) @ an.T.astype(np.float64)
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, idx, 1), idx


def test_exact_blocked_search_equals_brute_force_whatever_the_blocks():
    a, q = _clustered(3000, seed=1), _clustered(70, seed=2)
    ref_s, ref_i = _brute(q, a, 7)
    for qb, chunk in [(1024, 16384), (16, 500), (7, 3)]:
        idx = ExactIndex(a, query_block=qb, chunk=chunk)
        s, i = idx.search(q, 7)
        assert s.shape == i.shape == (70, 7)
        np.testing.assert_allclose(s, ref_s, atol=1e-5)
        assert recall_at_k(i, ref_i) == 1.0
        assert (np.diff(s, axis=1) <= 1e-7).all()  # best first


def test_exact_search_ties_break_to_the_lower_index_and_k_is_capped():
    a = np.array([[1, 0], [0, 1], [2, 0], [1, 0]], dtype=np.float32)
    s, i = ExactIndex(a, chunk=2).search(np.array([[3.0, 0.0]]), 10)
    assert i.tolist() == [[0, 2, 3, 1]]
    np.testing.assert_allclose(s, [[1, 1, 1, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="dim"):
        ExactIndex(a).search(np.ones((1, 3)), 2)


def test_recall_at_k():
    assert recall_at_k(np.array([[1, 2, -1]]), np.array([[2, 1, 5]])) == pytest.approx(2 / 3)
    assert build_index(np.ones((5, 2)), "auto").kind == "exact"
    with pytest.raises(ConfigError):
        build_index(np.ones((5, 2)), "annoy")


@needs_faiss
def test_faiss_flat_matches_exact_and_ivf_hnsw_recall():
    a, q = _clustered(5000, seed=3), _clustered(100, seed=4)
    _, ref = ExactIndex(a).search(q, 10)
    s, i = FaissIndex(a, "flat").search(q, 10)
    assert recall_at_k(i, ref) > 0.99  # float rounding may swap near-ties
    ivf = FaissIndex(a, "ivf", nlist=32, nprobe=8)
    assert ivf.nlist == 32 and recall_at_k(ivf.search(q, 10)[1], ref) >= 0.9
    assert recall_at_k(FaissIndex(a, "hnsw").search(q, 10)[1], ref) >= 0.9


def test_faiss_missing_is_a_config_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("no faiss")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    assert not have_faiss()
    with pytest.raises(ConfigError, match="speechdis\\[faiss\\]"):
        FaissIndex(np.ones((4, 2)), "flat")
    assert build_index(np.ones((4, 2)), "auto").kind == "exact"


def _archive(tmp_path, n=40, dim=8):
    v = _clustered(n, dim=dim, centres=4, seed=5)
    es = EmbeddingSet(ids=[f"s{i:03d}" for i in range(n)], utts=[f"u{i // 10}" for i in range(n)],
                      words=[f"w{i % 4}" for i in range(n)], speakers=[""] * n,
                      starts=np.arange(n) * 0.1, ends=np.arange(n) * 0.1 + 0.3,
                      vectors={"phonetic": v, "speaker": -v}, kind="disentangled", model="m")
    return es, es.save_npz(tmp_path / "arch.npz"), es.save_ark(tmp_path / "arch")


def _tsv(path):
    rows = [ln.split("\t") for ln in path.read_text().splitlines()]
    assert rows[0][:4] == ["query", "rank", "id", "score"]
    return rows[1:]


def test_cli_segment_id_and_npz_queries(tmp_path):
    es, npz, ark = _archive(tmp_path)
    out = tmp_path / "hits.tsv"
    assert cli_main(["search", "--archive", str(npz), "s005", "-k", "3", "--no-merge", "--out", str(out)]) == 0
    rows = _tsv(out)
    assert [r[1] for r in rows] == ["1", "2", "3"] and all(r[2] != "s005" for r in rows)
    _, ref = ExactIndex(es.vectors["phonetic"]).search(es.vectors["phonetic"][5:6], 4)
    assert [r[2] for r in rows] == [es.ids[j] for j in ref[0] if j != 5][:3]
    assert rows[0][4] == es.words[int(rows[0][2][1:])]  # word and times come from the archive
    q = EmbeddingSet(ids=["qa", "qb"], utts=["", ""], words=["", ""], speakers=["", ""], starts=np.zeros(2),
                     ends=np.zeros(2), vectors={"phonetic": es.vectors["phonetic"][:2]})
    qpath = q.save_npz(tmp_path / "q.npz")
    scp = next(p for p in ark if p.name == "arch.phonetic.scp")
    assert cli_main(["search", "--archive", str(scp), str(qpath), "-k", "2", "--out", str(out)]) == 0
    rows = _tsv(out)
    assert [(r[0], r[2]) for r in rows[::2]] == [("qa", "s000"), ("qb", "s001")]  # itself: not a segment query
    assert cli_main(["search", "--archive", str(npz), "nope"]) == 1
    assert cli_main(["search", "--archive", str(npz), "--vector", "x", "s001"]) == 1
    assert list(load_archive(str(scp)).vectors) == ["phonetic"]


@needs_faiss
def test_cli_faiss_index(tmp_path, capsys):
    _, npz, _ = _archive(tmp_path)
    assert cli_main(["search", "--archive", str(npz), "s001", "--index", "flat", "-k", "2"]) == 0
    assert "flat index" in capsys.readouterr().err


def test_cli_audio_query_uses_the_archive_s_model(tmp_path_factory, tmp_path):
    setup = tiny_setup(tmp_path_factory)
    arch = tmp_path / "a.npz"
    assert cli_main(["extract", "--model", str(setup.disentangled), str(setup.data), "--out", str(arch),
                     "--no-progress"]) == 0
    wav = write_wave(tmp_path / "query.wav", seconds=0.4)
    assert cli_main(["search", "--archive", str(arch), str(wav)]) == 0  # no --model: the one the archive records
    out = tmp_path / "hits.tsv"
    assert cli_main(["search", "--archive", str(arch), str(wav), "--model", str(setup.disentangled),
                     "--device", "cpu", "--out", str(out)]) == 0
    rows = _tsv(out)
    assert len(rows) == 10 and {r[0] for r in rows} == {"query"}
