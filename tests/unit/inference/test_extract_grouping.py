"""extract --pool / --per file|speaker / --ids relpath, and group_vectors."""
from __future__ import annotations

import numpy as np
import pytest

import speechdis
from speechdis.cli import main as cli_main
from speechdis.errors import ConfigError
from speechdis.inference.archive import EmbeddingSet, load_archive
from speechdis.inference.extract import extract
from speechdis.inference.grouping import group_vectors
from tests.helpers import write_wave


@pytest.fixture(scope="module")
def model():
    return speechdis.load_model("speechcommands", device="cpu")


def _set(utts, speakers, vecs):
    n = len(utts)
    return EmbeddingSet(ids=[f"s{i}" for i in range(n)], utts=utts, words=[""] * n, speakers=speakers,
                        starts=np.arange(n, dtype=float), ends=np.arange(n, dtype=float) + 0.5,
                        vectors={"speaker": np.asarray(vecs, dtype=np.float32)}, kind="disentangled")


def test_group_vectors_per_file_and_per_speaker():
    res = _set(["a", "a", "b", "c"], ["x", "x", "x", "y"], [[1, 0], [3, 4], [2, 2], [5, 1]])
    f = group_vectors(res, "file")
    assert f.ids == ["a", "b", "c"] and f.speakers == ["x", "x", "y"]
    np.testing.assert_allclose(f.vectors["speaker"], [[2, 2], [2, 2], [5, 1]])
    np.testing.assert_allclose(f.starts, [0, 2, 3])
    np.testing.assert_allclose(f.ends, [1.5, 2.5, 3.5])
    np.testing.assert_allclose(group_vectors(res, "file", "max").vectors["speaker"][0], [3, 4])
    # A speaker is the mean of its files (each counts once), not of its segments.
    s = group_vectors(res, "speaker")
    assert s.ids == ["x", "y"]
    np.testing.assert_allclose(s.vectors["speaker"], [[2, 2], [5, 1]])
    assert group_vectors(res, "segment") is res
    with pytest.raises(ConfigError, match="no speaker"):
        group_vectors(_set(["a"], [""], [[1, 2]]), "speaker")
    with pytest.raises(ConfigError, match="per must be"):
        group_vectors(res, "corpus")


def test_relpath_ids_keep_nested_files_with_repeated_names_apart(model, tmp_path):
    root = tmp_path / "audio"
    for i, spk in enumerate(("spkA", "spkB")):
        write_wave(root / spk / "day1" / "utt.wav", seconds=0.6, freq=300 + 200 * i, seed=i)
    write_wave(root / "spkB" / "day1" / "other.flac", seconds=0.6, seed=5)
    res = extract(model, [root], ids="relpath")
    assert sorted(res.ids) == ["spkA/day1/utt", "spkB/day1/other", "spkB/day1/utt"]
    assert sorted(extract(model, [root]).ids) == ["other", "spkA-day1-utt", "spkB-day1-utt"]  # default: stems
    out = tmp_path / "e.npz"
    assert cli_main(["extract", "--model", "speechcommands", str(root), "--ids", "relpath", "--format", "both",
                     "--out", str(out), "--no-progress"]) == 0
    assert sorted(load_archive(out).ids) == sorted(res.ids)


def _data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    wav, u2s = [], []
    for s, spk in enumerate(("s1", "s2")):
        for k, sec in enumerate((0.7, 2.6)):
            utt = f"{spk}-u{k}"
            p = write_wave(tmp_path / "wav" / f"{utt}.wav", seconds=sec, freq=200 + 150 * s + 40 * k, seed=s * 2 + k)
            wav.append(f"{utt} {p}\n")
            u2s.append(f"{utt} {spk}\n")
    (d / "wav.scp").write_text("".join(wav))
    (d / "utt2spk").write_text("".join(u2s))
    (d / "spk2utt").write_text("s1 s1-u0 s1-u1\ns2 s2-u0 s2-u1\n")
    return d


def test_cli_per_speaker_is_the_mean_of_the_files(model, tmp_path, capsys):
    d = _data_dir(tmp_path)
    seg = tmp_path / "seg.npz"
    spk = tmp_path / "spk.npz"
    assert cli_main(["extract", "--model", "speechcommands", str(d), "--out", str(seg), "--no-progress"]) == 0
    assert cli_main(["extract", "--model", "speechcommands", str(d), "--per", "speaker", "--format", "both",
                     "--out", str(spk), "--no-progress"]) == 0
    per_file = load_archive(seg)
    per_spk = load_archive(spk)
    assert per_spk.ids == ["s1", "s2"]
    for k, s in enumerate(per_spk.ids):
        rows = [i for i, sp in enumerate(per_file.speakers) if sp == s]
        assert len(rows) == 2
        np.testing.assert_allclose(per_spk.vectors["speaker"][k], per_file.vectors["speaker"][rows].mean(axis=0),
                                   atol=1e-5)
    import kaldiio

    scp = dict(kaldiio.load_scp(str(tmp_path / "spk.speaker.scp")))
    assert sorted(scp) == ["s1", "s2"]
    # --pool max changes the 2.6 s files (longer than the 1 s crop), not the 0.7 s ones.
    mx = tmp_path / "max.npz"
    assert cli_main(["extract", "--model", "speechcommands", str(d), "--pool", "max", "--out", str(mx),
                     "--no-progress"]) == 0
    m = load_archive(mx)
    short = [i for i, u in enumerate(m.utts) if u.endswith("u0")]
    long = [i for i, u in enumerate(m.utts) if u.endswith("u1")]
    np.testing.assert_allclose(m.vectors["speaker"][short], per_file.vectors["speaker"][short], atol=1e-5)
    assert not np.allclose(m.vectors["speaker"][long], per_file.vectors["speaker"][long], atol=1e-3)
    # Audio files have no speakers: --per speaker refuses them before any work.
    rc = cli_main(["extract", "--model", "speechcommands", str(tmp_path / "wav"), "--per", "speaker",
                   "--out", str(tmp_path / "bad.npz"), "--no-progress"])
    assert rc != 0 and not (tmp_path / "bad.npz").exists()
    assert "needs speakers" in capsys.readouterr().err
