"""Corpus preparations (Speech Commands in both layouts, FSDD) on tiny synthetic fixtures made here."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechdis.audio.trim import energy_bounds, read_trim_record
from speechdis.cli import main as cli_main
from speechdis.data.corpora import prepare_fsdd, prepare_speechcommands, speaker_split
from speechdis.data.datadir import DataDir
from speechdis.errors import ConfigError, DataDirError

SR = 16000


def _burst(sr: int = SR, start: float = 0.3, end: float = 0.6, seconds: float = 1.0, noise: bool = False,
           seed: int = 0) -> np.ndarray:
    """Silence, a tone (or noise) burst in [start, end), silence."""
    wave = np.zeros(int(seconds * sr), dtype=np.float32)
    n = int((end - start) * sr)
    if noise:
        burst = 0.3 * np.random.default_rng(seed).standard_normal(n)
    else:
        burst = 0.5 * np.sin(2 * np.pi * 300 * np.arange(n) / sr)
    wave[int(start * sr):int(start * sr) + n] = burst
    return wave


def _write(path: Path, wave: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, sr)
    return path


def _speaker_in(split: str, skip: int = 0) -> str:
    """An 8-hex speaker id that the hash puts into ``split`` (the ``skip``-th such id)."""
    found = 0
    for i in range(10000):
        spk = f"{i * 2654435761 % 2**32:08x}"
        if speaker_split(spk) == split:
            if found == skip:
                return spk
            found += 1
    raise AssertionError(split)


def test_speaker_split_is_the_documented_hash():
    for i in range(300):
        spk = f"{i * 7919:08x}"
        h = int(hashlib.sha1(spk.encode()).hexdigest()[:8], 16) % 100
        want = "train" if h < 70 else "dev" if h < 85 else "test"
        assert speaker_split(spk) == want
        assert speaker_split(spk, dev_percent=0, test_percent=50) == ("train" if h < 50 else "test")


def test_energy_bounds_trim_silence_around_a_burst():
    start, end = energy_bounds(_burst(), SR, pad=0.0)
    assert 0.28 <= start <= 0.31 and 0.59 <= end <= 0.62
    start, end = energy_bounds(_burst(), SR, pad=0.05)
    assert 0.23 <= start <= 0.26 and 0.64 <= end <= 0.67
    assert energy_bounds(np.zeros(100, dtype=np.float32), SR) == (0.0, round(100 / SR, 4))  # shorter than a frame


def _test_set_corpus(root: Path) -> dict[str, str]:
    """Test-set layout: word folders, _unknown_, _silence_, plus bad names and bad audio."""
    spk = {s: _speaker_in(s) for s in ("train", "dev", "test")}
    spk["train2"] = _speaker_in("train", 1)
    for k, s in enumerate(spk.values()):
        for word in ("yes", "no"):
            for n in range(2):
                _write(root / word / f"{s}_nohash_{n}.wav", _burst(noise=word == "no", seed=k))
        _write(root / "_unknown_" / f"backward_{s}_nohash_0.wav", _burst(start=0.2, end=0.5))
    for i in range(3):
        _write(root / "_silence_" / f"{1000 + i}.wav", 0.01 * np.random.default_rng(i).standard_normal(SR))
    _write(root / "yes" / "not_a_speaker.wav", _burst())
    _write(root / "_unknown_" / "backward.wav", _burst())
    (root / "no" / f"{spk['dev']}_nohash_7.wav").write_bytes(b"RIFF garbage")
    _write(root / "no" / f"{spk['test']}_nohash_8.wav", np.zeros(SR, dtype=np.float32))
    (root / "README.md").write_text("test files\n")
    return spk


def test_speechcommands_test_set_layout(tmp_path):
    spk = _test_set_corpus(tmp_path / "sc")
    r = prepare_speechcommands(tmp_path / "sc", tmp_path / "out")
    assert r.layout == "test-set" and "speaker hash" in r.split_method
    dirs = {s: DataDir.load(tmp_path / "out" / s) for s in ("train", "dev", "test")}
    # Speaker-disjoint splits, each a full data dir; speakers go where the hash puts them.
    assert set(dirs["train"].speakers) == {spk["train"], spk["train2"]}
    assert dirs["dev"].speakers == [spk["dev"]] and dirs["test"].speakers == [spk["test"]]
    for name, d in dirs.items():
        assert all(d.utt2spk[u] == u.split("-")[0] for u in d.utts)  # utt ids start with the speaker
        assert all((tmp_path / "out" / name / t).is_file()
                   for t in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2dur", "word_segments"))
        c = r.splits[name]
        assert (c.utterances, c.speakers, c.words) == (d.num_utts, d.num_speakers, 3)
    d = dirs["dev"]
    s = spk["dev"]
    assert d.utts == sorted([f"{s}-backward-0", f"{s}-no-0", f"{s}-no-1", f"{s}-yes-0", f"{s}-yes-1"])
    assert d.text[f"{s}-backward-0"] == "BACKWARD" and d.text[f"{s}-yes-1"] == "YES"
    segs = {w.utt: w for w in d.word_segments}
    assert len(d.word_segments) == d.num_utts
    yes = segs[f"{s}-yes-0"]
    assert yes.seg_id == f"{s}-yes-0_0000" and yes.word == "YES" and 0.24 <= yes.start < 0.3 and 0.6 < yes.end <= 0.66
    unk = segs[f"{s}-backward-0"]
    assert 0.14 <= unk.start < 0.2 and 0.5 < unk.end <= 0.56
    assert d.utt2dur[f"{s}-yes-0"] == pytest.approx(1.0)
    # Noise kept apart: its own list, never in a speech data dir.
    noise = (tmp_path / "out" / "noise" / "wav.scp").read_text().split("\n")
    assert r.noise_clips == 3 and sorted(x.split()[0] for x in noise if x) == [
        "noise-silence-1000", "noise-silence-1001", "noise-silence-1002"]
    assert not any("_silence_" in p for dd in dirs.values() for p in dd.wav_scp.values())
    # Every left-out file is reported with its reason.
    skipped = {Path(x.path).name: x.reason for x in r.skipped}
    assert set(skipped) == {"not_a_speaker.wav", "backward.wav", f"{spk['dev']}_nohash_7.wav",
                            f"{spk['test']}_nohash_8.wav"}
    assert "name is not" in skipped["not_a_speaker.wav"] and "name is not" in skipped["backward.wav"]
    assert "unreadable" in skipped[f"{spk['dev']}_nohash_7.wav"]
    assert "silent" in skipped[f"{spk['test']}_nohash_8.wav"]
    text = r.summary()
    assert "dev: 5 utterances, 1 speakers" in text and "noise: 3 clips" in text and "not_a_speaker.wav" in text


def _release_corpus(root: Path) -> list[str]:
    spks = [_speaker_in("train", k) for k in range(4)]  # all hash to train: the lists must decide
    for s in spks:
        for word in ("up", "down"):
            _write(root / word / f"{s}_nohash_0.wav", _burst())
    _write(root / "_background_noise_" / "white_noise.wav", 0.1 * np.random.default_rng(0).standard_normal(3 * SR))
    (root / "_background_noise_" / "README.md").write_text("noise\n")
    return spks


def test_speechcommands_release_lists_are_honoured(tmp_path):
    spks = _release_corpus(tmp_path / "sc")
    (tmp_path / "sc" / "validation_list.txt").write_text(f"up/{spks[1]}_nohash_0.wav\ndown/{spks[1]}_nohash_0.wav\n")
    (tmp_path / "sc" / "testing_list.txt").write_text(f"up/{spks[2]}_nohash_0.wav\ndown/{spks[2]}_nohash_0.wav\n"
                                                      "left/ffffffff_nohash_0.wav\n")
    r = prepare_speechcommands(tmp_path / "sc", tmp_path / "out")
    assert r.layout == "release" and "validation_list" in r.split_method
    assert DataDir.load(tmp_path / "out" / "dev").speakers == [spks[1]]
    assert DataDir.load(tmp_path / "out" / "test").speakers == [spks[2]]
    assert DataDir.load(tmp_path / "out" / "train").speakers == sorted([spks[0], spks[3]])
    assert any("1 list entries" in n for n in r.notes)
    assert r.noise_clips == 1 and "noise-background_noise-white_noise" in (tmp_path / "out/noise/wav.scp").read_text()
    assert float((tmp_path / "out/noise/utt2dur").read_text().split()[1]) == pytest.approx(3.0)
    assert [Path(s.path).name for s in r.skipped] == ["README.md"]  # a non-wav file in a folder is reported


def test_speechcommands_lists_not_speaker_disjoint_fall_back_to_the_hash(tmp_path):
    spks = _release_corpus(tmp_path / "sc")
    (tmp_path / "sc" / "validation_list.txt").write_text(f"up/{spks[1]}_nohash_0.wav\n")  # down/ of spks[1]: train
    r = prepare_speechcommands(tmp_path / "sc", tmp_path / "out")
    assert "speaker hash" in r.split_method and any("not speaker-disjoint" in n for n in r.notes)
    assert r.splits["train"].speakers == 4 and r.splits["dev"].out_dir is None
    assert any("no speaker fell into dev" in n for n in r.notes)
    assert not (tmp_path / "out" / "dev").exists()
    # use_lists=False: the hash even where the lists are fine; other percentages move speakers.
    r2 = prepare_speechcommands(tmp_path / "sc", tmp_path / "out2", use_lists=False, dev_percent=0, test_percent=100)
    assert r2.splits["test"].speakers == 4 and r2.splits["train"].utterances == 0


def test_speechcommands_errors_and_cli(tmp_path, capsys):
    with pytest.raises(DataDirError, match="no speech clips"):
        prepare_speechcommands(tmp_path, tmp_path / "out")
    with pytest.raises(ConfigError, match="percentages"):
        prepare_speechcommands(tmp_path, tmp_path / "out", dev_percent=60, test_percent=50)
    _test_set_corpus(tmp_path / "sc")
    rc = cli_main(["prepare", "speechcommands", str(tmp_path / "sc"), str(tmp_path / "out"), "--no-trim",
                   "--dev-percent", "15", "--test-percent", "15"])
    out = capsys.readouterr().out
    assert rc == 0 and "train: 10 utterances, 2 speakers" in out and "whole clips" in out
    assert {(w.start, w.end) for w in DataDir.load(tmp_path / "out" / "train").word_segments} == {(0.0, 1.0)}
    assert cli_main(["prepare", "speechcommands", str(tmp_path / "none"), str(tmp_path / "o")]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_fsdd(tmp_path, capsys):
    rec = tmp_path / "fsdd" / "recordings"
    for digit, spk, idx in ((0, "alice", 0), (7, "bob", 12)):
        _write(rec / f"{digit}_{spk}_{idx}.wav", _burst(sr=8000, start=0.4, end=0.7), sr=8000)
    (rec / "README.wav").write_bytes(b"")  # not digit_speaker_index: skipped
    (rec / "3_carol_1.wav").write_bytes(b"")  # unreadable: skipped
    r = prepare_fsdd(tmp_path / "fsdd", tmp_path / "data")
    d = DataDir.load(tmp_path / "data")
    assert r.splits["all"].utterances == 2 and d.utt2spk == {"alice-0-00": "alice", "bob-7-12": "bob"}
    assert d.text["bob-7-12"] == "SEVEN"
    seg = {w.utt: w for w in d.word_segments}["alice-0-00"]
    assert seg.word == "ZERO" and 0.3 < seg.start < 0.4 and 0.7 < seg.end < 0.8
    reasons = {Path(s.path).name: s.reason for s in r.skipped}
    assert "digit_speaker_index" in reasons["README.wav"] and "unreadable" in reasons["3_carol_1.wav"]
    whole = prepare_fsdd(tmp_path / "fsdd", tmp_path / "data2", trim=False)
    assert whole.trimmed is False
    assert {(w.start, w.end) for w in DataDir.load(tmp_path / "data2").word_segments} == {(0.0, 1.0)}
    # The trim is recorded in the data dir (train copies it into model.pt; extract trims raw files alike).
    assert read_trim_record(tmp_path / "data") == {"trim_db": 35.0, "pad": 0.03}
    assert read_trim_record(tmp_path / "data2") is None
    assert cli_main(["prepare", "fsdd", str(tmp_path / "fsdd"), str(tmp_path / "data3")]) == 0
    assert "all: 2 utterances, 2 speakers" in capsys.readouterr().out
    with pytest.raises(DataDirError, match="no \\*.wav recordings"):
        prepare_fsdd(tmp_path / "nothing", tmp_path / "data4")
    # Issue 23: the recordings/ folder itself is accepted as well as the corpus root.
    assert prepare_fsdd(rec, tmp_path / "data5").splits["all"].utterances == 2
