"""prepare speechocean762 on a tiny fake corpus layout; combining data dirs of two corpora."""
from __future__ import annotations

from pathlib import Path

import pytest

from speechdis.data.combine import combine_data_dirs
from speechdis.data.corpora import prepare_speechocean762, speaker_split
from speechdis.data.datadir import DataDir
from speechdis.data.tables import WordSegment
from speechdis.errors import DataDirError
from tests.helpers import write_wave


def _fake_so762(root: Path, speakers=("0001", "0005", "0006", "0026", "0036", "0048")) -> Path:
    (root / "train").mkdir(parents=True)
    wav, text, u2s, gender = [], [], [], []
    for spk in speakers:
        for n in range(2):
            utt = f"0{spk}{n:04d}"
            write_wave(root / "WAVE" / f"SPEAKER{spk}" / f"{utt}.flac", 0.3, seed=n)
            wav.append(f"{utt}\tWAVE/SPEAKER{spk}/{utt}.flac")
            text.append(f"{utt}\tWE CALL IT BEAR")
            u2s.append(f"{utt}\t{spk}")
        gender.append(f"{spk}\tf")
    wav.append("099990000\tWAVE/SPEAKER9999/099990000.flac")  # audio missing
    text.append("099990000\tHELLO")
    u2s.append("099990000\t9999")
    for name, lines in (("wav.scp", wav), ("text", text), ("utt2spk", u2s), ("spk2gender", gender)):
        (root / "train" / name).write_text("\n".join(lines) + "\n")
    return root


def test_prepare_speechocean762_splits_by_speaker_hash(tmp_path):
    corpus = _fake_so762(tmp_path / "so762")
    report = prepare_speechocean762(corpus, tmp_path / "out", dev_percent=30, test_percent=30)
    assert report.utterances == 12
    assert [s.reason for s in report.skipped] == ["train/099990000: audio missing"]
    spk_of = {}
    for name, counts in report.splits.items():
        if counts.out_dir is None:
            continue
        d = DataDir.load(counts.out_dir)
        assert not d.validate()
        for u, spk in d.utt2spk.items():
            assert speaker_split(spk, 30, 30) == name
            assert Path(d.wav_scp[u]).is_absolute() and Path(d.wav_scp[u]).is_file()
            assert d.text[u] == "WE CALL IT BEAR"
            spk_of.setdefault(spk, set()).add(name)
    assert len(spk_of) == 6 and all(len(v) == 1 for v in spk_of.values())


def _corpus_dir(path: Path, spk: str, n: int, with_phones: bool = True) -> Path:
    d = DataDir()
    for k in range(n):
        utt = f"{spk}-{k}"
        d.utt2spk[utt] = spk
        d.wav_scp[utt] = str(path / f"{utt}.wav")
        d.text[utt] = "HELLO"
        d.word_segments.append(WordSegment(f"{utt}_0000", utt, 0.1, 0.5, "HELLO"))
    d.save(path)
    if with_phones:
        (path / "phones.ctm").write_text("".join(f"{spk}-{k} 1 0.1 0.2 HH\n{spk}-{k} 1 0.3 0.2 OW\n"
                                                 for k in range(n)))
    return path


def test_combine_two_corpora_keeps_ids_unique_and_speakers_apart(tmp_path):
    a = _corpus_dir(tmp_path / "a" / "train", "0001", 2)
    b = _corpus_dir(tmp_path / "b" / "train", "0001", 3)  # same speaker id, another corpus
    report = combine_data_dirs(tmp_path / "all", [a, b])
    assert report.prefixed and report.names == ["a_train", "b_train"]
    d = DataDir.load(tmp_path / "all")
    assert not d.validate()
    assert d.speakers == ["a_train-0001", "b_train-0001"] and d.num_utts == 5
    assert {w.seg_id for w in d.word_segments} == {f"{n}-0001-{k}_0000" for n, m in (("a_train", 2), ("b_train", 3))
                                                   for k in range(m)}
    lines = (tmp_path / "all" / "phones.ctm").read_text().splitlines()
    assert len(lines) == 10 and lines[0] == "a_train-0001-0 1 0.1 0.2 HH" and lines[1].endswith("OW")
    # Distinct ids: nothing needs a prefix; "never" refuses a collision.
    c = _corpus_dir(tmp_path / "c", "0002", 1)
    assert not combine_data_dirs(tmp_path / "ac", [a, c]).prefixed
    with pytest.raises(DataDirError, match="'0001-0' is in a_train and b_train"):
        combine_data_dirs(tmp_path / "never", [a, b], prefix="never")


def test_combine_refuses_inconsistent_inputs(tmp_path):
    a = _corpus_dir(tmp_path / "a", "0001", 2)
    b = _corpus_dir(tmp_path / "b", "0002", 2, with_phones=False)
    with pytest.raises(DataDirError, match="has no phones.ctm"):
        combine_data_dirs(tmp_path / "out", [a, b])
    with pytest.raises(DataDirError, match="distinct names"):
        combine_data_dirs(tmp_path / "out", [a, a], names=["x", "x"])


def test_combine_completes_utt2dur_that_only_some_inputs_have(tmp_path):
    a = _corpus_dir(tmp_path / "a", "0001", 2)
    da = DataDir.load(a)
    da.utt2dur.update({u: 1.25 for u in da.utts})
    da.save(a)
    b = _corpus_dir(tmp_path / "b", "0002", 2)  # no utt2dur: durations come from its audio
    for k, seconds in enumerate((0.5, 0.75)):
        write_wave(b / f"0002-{k}.wav", seconds, seed=k)
    report = combine_data_dirs(tmp_path / "all", [a, b])
    assert report.durations_filled == ["b"] and "utt2dur completed for b" in report.summary()
    d = DataDir.load(tmp_path / "all")
    assert not d.validate()
    assert d.utt2dur == {"0001-0": 1.25, "0001-1": 1.25, "0002-0": 0.5, "0002-1": 0.75}
    # No input with utt2dur: none is invented.
    assert not combine_data_dirs(tmp_path / "none", [b, _corpus_dir(tmp_path / "c", "0003", 1)]).durations_filled
    assert not DataDir.load(tmp_path / "none").utt2dur
