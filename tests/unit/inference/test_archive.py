"""The embedding archive (speechdis.inference.archive): npz and ark/scp files round-trip, and (issue 22 item 4,
the archive crash cases) are checked on load by the one reader that extract's --combine, search and evaluate
use, with one-line errors; nothing is silently dropped or attached to wrong rows."""
from __future__ import annotations

import numpy as np
import pytest

from speechdis.cli import main
from speechdis.errors import DataDirError
from speechdis.inference.archive import EmbeddingSet, load_archive
from tests.helpers import untrained_speech_model, write_archive, write_wave

N = 12
GOOD = np.random.default_rng(0).standard_normal((N, 4)).astype(np.float32)
IDS = [f"seg{i:02d}" for i in range(N)]


def _nan_row():
    v = GOOD.copy()
    v[3, 1] = np.nan
    return v


CASES = {
    # name: (ids, phonetic vectors, extra arrays, message)
    "short phonetic": (IDS, GOOD[:N - 5], {"speaker": GOOD}, r"'phonetic' must be \(12, dim\).*shape \(7, 4\)"),
    "1-D vectors": (IDS, GOOD[:, 0], {}, r"'phonetic' must be \(12, dim\) numbers.*shape \(12,\)"),
    "3-D vectors": (IDS, GOOD[:, :, None], {}, r"shape \(12, 4, 1\)"),
    "string vectors": (IDS, None, {"phonetic": np.array([["a"] * 4] * N)}, r"'phonetic' must be \(12, dim\) numbers"),
    "short ids": (IDS[:-1], GOOD, {}, r"'phonetic' must be \(11, dim\)"),
    "empty": ([], np.zeros((0, 4)), {}, r"the archive is empty"),
    "duplicate ids": (IDS[:-1] + [IDS[0]], GOOD, {}, r"id 'seg00' appears twice \(rows 0 and 11\)"),
    "tab in an id": (IDS[:-1] + ["a\tb"], GOOD, {}, r"id 11 'a\\tb' is empty or holds whitespace"),
    "NaN vector": (IDS, _nan_row(), {}, r"'phonetic' vector of id 'seg03' has NaN or infinite values"),
    "labels of another length": (IDS, GOOD, {"words": np.array(["w"] * (N - 2))}, r"'words' must be 12 strings"),
}


def _write(path, case):
    ids, vecs, extra, _ = CASES[case]
    if vecs is None:
        return write_archive(path, ids, GOOD[: len(ids)], **extra)
    n = len(ids)
    labels = {k: v[:n] if v.ndim else v for k, v in {
        "utts": np.array(ids, dtype=str), "speakers": np.array(["s"] * n), "starts": np.zeros(n),
        "ends": np.ones(n), "words": np.array([f"w{i % 2}" for i in range(n)])}.items()}
    return write_archive(path, ids, vecs, **{**labels, **extra})


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_archives_are_refused_by_every_loader(case, tmp_path):
    from speechdis.eval.systems import load_npz_vectors

    path = _write(tmp_path / "bad.npz", case)
    match = CASES[case][3]
    for load in (load_archive, lambda p: load_npz_vectors(p, IDS[:2])):
        with pytest.raises(DataDirError, match=match) as e:
            load(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("case", ["short phonetic", "duplicate ids", "NaN vector", "empty"])
def test_search_with_a_bad_archive_is_one_line(case, tmp_path, capsys):
    path = _write(tmp_path / "bad.npz", case)
    rc = main(["search", "seg00", "--archive", str(path)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and str(path) in err


@pytest.mark.parametrize("content", [b"hello, not a zip", None, "object"])
def test_truncated_non_zip_and_pickled_npz_files_are_one_line(content, tmp_path, capsys):
    path = tmp_path / "bad.npz"
    if content is None:  # a real archive cut in half
        write_archive(path, IDS, GOOD)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "object":
        np.savez(path, ids=np.array(IDS, dtype=object), phonetic=GOOD)
    else:
        path.write_bytes(content)
    rc = main(["search", "seg00", "--archive", str(path)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and f"{path}: not a readable .npz" in err
    assert "allow_pickle" not in err and "Traceback" not in err


def test_kaldi_archives_with_repeated_ids_or_nan_are_refused(tmp_path):
    import kaldiio

    ark = tmp_path / "v.phonetic.ark"
    with open(ark, "wb") as f:
        kaldiio.save_ark(f, {"a": GOOD[0]})
        kaldiio.save_ark(f, {"a": GOOD[1]})
    with pytest.raises(DataDirError, match="id 'a' appears twice"):
        load_archive(str(ark))
    kaldiio.save_ark(str(ark), {"a": GOOD[0], "b": _nan_row()[3]})
    with pytest.raises(DataDirError, match="vector of id 'b' has NaN"):
        load_archive(str(ark))


def _set(n=5):
    rng = np.random.default_rng(1)
    return EmbeddingSet(ids=[f"s{i}" for i in range(n)], utts=[f"u{i // 2}" for i in range(n)],
                        words=[f"w{i % 3}" for i in range(n)], speakers=["a", "b", "a", "b", "a"][:n],
                        starts=np.arange(n) * 0.5, ends=np.arange(n) * 0.5 + 0.4,
                        vectors={"phonetic": rng.standard_normal((n, 3)).astype(np.float32),
                                 "speaker": rng.standard_normal((n, 2)).astype(np.float32)},
                        kind="disentangled", model="/m/model.pt", model_sha256="ab12")


def test_npz_and_kaldi_files_load_back_as_the_set_that_was_saved(tmp_path):
    es = _set()
    back = load_archive(es.save_npz(tmp_path / "a.npz"))
    assert (back.ids, back.utts, back.words, back.speakers) == (es.ids, es.utts, es.words, es.speakers)
    assert np.array_equal(back.starts, es.starts) and np.array_equal(back.ends, es.ends)
    assert (back.kind, back.model, back.model_sha256, back.n_utterances) == ("disentangled", "/m/model.pt", "ab12", 3)
    assert all(np.array_equal(back.vectors[k], es.vectors[k]) for k in es.vectors)
    for f in es.save_ark(tmp_path / "a"):  # a.phonetic.ark/.scp, a.speaker.ark/.scp: one vector each, no labels
        kaldi = load_archive(f)
        (name, mat), = kaldi.vectors.items()
        assert f.name.startswith(f"a.{name}.") and kaldi.ids == es.ids and np.array_equal(mat, es.vectors[name])
        assert kaldi.utts == [""] * 5 and np.isnan(kaldi.starts).all()


def test_an_npz_of_ids_and_vectors_only_loads_with_empty_labels(tmp_path):
    path = tmp_path / "bare.npz"
    np.savez(path, ids=np.array(IDS), phonetic=GOOD)
    es = load_archive(path)
    assert es.ids == IDS and es.words == [""] * N and np.isnan(es.ends).all() and es.kind == ""
    assert np.array_equal(es.vectors["phonetic"], GOOD)


def test_other_files_and_empty_kaldi_archives(tmp_path):
    import kaldiio

    other = tmp_path / "v.txt"
    other.write_text("a 1 2\n")
    with pytest.raises(DataDirError, match=r"an archive is an \.npz, \.scp or \.ark"):
        load_archive(other)
    with pytest.raises(DataDirError, match="no such archive file"):
        load_archive(tmp_path / "missing.npz")
    empty = tmp_path / "e.phonetic.ark"
    kaldiio.save_ark(str(empty), {})
    with pytest.raises(DataDirError, match="no vectors"):
        load_archive(empty)
    assert len(load_archive(empty, allow_empty=True)) == 0


def test_search_embeds_audio_with_the_archive_s_model_and_refuses_another(tmp_path, capsys):
    a = untrained_speech_model(tmp_path / "a" / "model.pt", seed=0)
    b = untrained_speech_model(tmp_path / "b" / "model.pt", seed=1)
    audio = [write_wave(tmp_path / "audio" / f"u{k}.wav", 0.5, freq=200 + 80 * k, seed=k) for k in range(3)]
    archive = tmp_path / "arch.npz"
    assert main(["extract", "--model", str(a), str(audio[0].parent), "--out", str(archive), "--no-progress"]) == 0
    capsys.readouterr()
    rc = main(["search", str(audio[1]), "--archive", str(archive), "--model", str(b)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "is not the model that made" in err
    assert main(["search", str(audio[1]), "--archive", str(archive), "--model", str(a.parent), "--k", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split("\t")[2] == "u1"
    assert main(["search", str(audio[1]), "--archive", str(archive), "--k", "1"]) == 0  # the recorded model
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split("\t")[2] == "u1" and "archive's model" in captured.err
