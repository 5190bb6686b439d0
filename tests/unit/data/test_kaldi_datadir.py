"""Kaldi data dirs: round trip, validation messages, subsets and splits."""
from __future__ import annotations

from pathlib import Path

import pytest

from speechdis.cli import main as cli_main
from speechdis.data.datadir import DataDir, fix_data_dir, split_by_speaker, subset_data_dir, train_test_split_speakers
from speechdis.data.tables import Segment, WordSegment, read_spk2utt, read_utt2spk
from speechdis.data.validate import check_data_dir, validate_data_dir
from speechdis.errors import DataDirError


def sample_dir(n_spk: int = 4, per_spk: int = 3) -> DataDir:
    """Speaker-prefixed ids (s1-u0 ...), unsorted insertion order on purpose."""
    d = DataDir()
    for s in reversed(range(1, n_spk + 1)):
        for u in range(per_spk):
            utt = f"s{s}-u{u}"
            d.utt2spk[utt] = f"s{s}"
            d.wav_scp[utt] = f"/audio/{utt}.flac"
            d.text[utt] = f"HELLO WORLD {u}"
            d.utt2dur[utt] = 1.25
            d.word_segments.append(WordSegment(f"{utt}_0000", utt, 0.1, 0.5, "HELLO"))
            d.word_segments.append(WordSegment(f"{utt}_0001", utt, 0.5, 1.0, "WORLD"))
    d.spk2gender = {f"s{s}": "f" for s in range(1, n_spk + 1)}
    return d


def test_round_trip(tmp_path):
    d = sample_dir()
    d.feats_scp = {u: f"/feats/raw.1.ark:{i * 100 + 7}" for i, u in enumerate(d.utts)}
    d.utt2num_frames = {u: 123 for u in d.utts}
    d.cmvn_scp = {s: f"/feats/cmvn.ark:{i}" for i, s in enumerate(d.speakers)}
    d.save(tmp_path / "dd")
    back = DataDir.load(tmp_path / "dd")
    for attr in ("utt2spk", "wav_scp", "text", "feats_scp", "cmvn_scp", "utt2num_frames", "utt2dur", "spk2gender"):
        assert getattr(back, attr) == getattr(d, attr), attr
    assert back.word_segments == sorted(d.word_segments, key=lambda s: s.seg_id)
    assert validate_data_dir(tmp_path / "dd") == []
    lines = (tmp_path / "dd" / "utt2spk").read_text().splitlines()
    assert lines == sorted(lines) and lines[0] == "s1-u0 s1"
    assert read_spk2utt(tmp_path / "dd" / "spk2utt")["s2"] == ["s2-u0", "s2-u1", "s2-u2"]
    assert (tmp_path / "dd" / "word_segments").read_text().splitlines()[0] == "s1-u0_0000 s1-u0 0.1 0.5 HELLO"
    assert back.num_utts == 12 and back.num_speakers == 4 and back.speakers == ["s1", "s2", "s3", "s4"]
    # saving a dir without a table removes the stale file
    back.feats_scp = {}
    back.save()
    assert not (tmp_path / "dd" / "feats.scp").exists()


def test_segments_round_trip_and_audio_source(tmp_path):
    d = DataDir(utt2spk={"a-1": "a", "a-2": "a"}, wav_scp={"rec": "sox rec.wav -t wav - |"},
                segments={"a-1": Segment("rec", 0.0, 1.5), "a-2": Segment("rec", 1.5, -1)})
    d.save(tmp_path / "seg")
    back = DataDir.load(tmp_path / "seg")
    assert back.segments == d.segments
    assert back.audio_source("a-1") == ("sox rec.wav -t wav - |", 0.0, 1.5)
    assert back.audio_source("a-2") == ("sox rec.wav -t wav - |", 1.5, None)
    warnings = validate_data_dir(tmp_path / "seg")  # valid; the command entry is pointed out
    assert len(warnings) == 1 and "wav.scp:1: 'rec': shell command" in warnings[0]


def _write(dirpath: Path, **files: str) -> Path:
    dirpath.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (dirpath / name.replace("_scp", ".scp")).write_text(text)
    return dirpath


GOOD = dict(
    utt2spk="a-1 a\na-2 a\nb-1 b\n",
    spk2utt="a a-1 a-2\nb b-1\n",
    text="a-1 HI\na-2 HO\nb-1 HA\n",
    wav_scp="a-1 /x/a1.wav\na-2 /x/a2.wav\nb-1 /x/b1.wav\n",
    word_segments="a-1_0000 a-1 0.1 0.4 HI\nb-1_0000 b-1 0 0.3 HA\n",
)


def _errors(tmp_path, **changes) -> str:
    d = _write(tmp_path / "dd", **{**GOOD, **changes})
    with pytest.raises(DataDirError) as e:
        validate_data_dir(d)
    return str(e.value)


def test_valid_dir_passes(tmp_path):
    assert validate_data_dir(_write(tmp_path / "dd", **GOOD)) == []


def test_unsorted(tmp_path):
    msg = _errors(tmp_path, utt2spk="a-2 a\na-1 a\nb-1 b\n")
    assert f"{tmp_path / 'dd' / 'utt2spk'}:2: 'a-1': not sorted: comes after 'a-2'" in msg


def test_duplicate(tmp_path):
    msg = _errors(tmp_path, text="a-1 HI\na-2 HO\na-2 HO\nb-1 HA\n")
    assert f"{tmp_path / 'dd' / 'text'}:3: 'a-2': duplicate id (first on line 2)" in msg


def test_utt2spk_spk2utt_mismatch(tmp_path):
    msg = _errors(tmp_path, spk2utt="a a-1\nb a-2 b-1\n")
    assert "spk2utt:2: 'a-2': listed under speaker 'b' but utt2spk line 2 says 'a'" in msg
    msg = _errors(tmp_path, spk2utt="a a-1\nb b-1\n")
    assert "utt2spk:2: 'a-2': utterance (speaker 'a') missing from spk2utt" in msg
    msg = _errors(tmp_path, spk2utt="a a-1 a-2 a-3\nb b-1\n")
    assert "spk2utt:1: 'a-3': utterance (speaker 'a') not in utt2spk" in msg


def test_word_segment_for_unknown_utt(tmp_path):
    msg = _errors(tmp_path, word_segments="a-1_0000 a-1 0.1 0.4 HI\nc-1_0000 c-1 0 0.3 HA\n")
    assert f"{tmp_path / 'dd' / 'word_segments'}:2: 'c-1_0000': utterance 'c-1' not in utt2spk" in msg


@pytest.mark.parametrize("line,why", [
    ("a-1_0000 a-1 0.4 0.4 HI", "start 0.4 is not before end 0.4"),
    ("a-1_0000 a-1 0.5 0.4 HI", "start 0.5 is not before end 0.4"),
    ("a-1_0000 a-1 -0.1 0.4 HI", "start -0.1 is negative"),
    ("a-1_0000 a-1 x 0.4 HI", "start 'x' is not a number"),
    ("a-1_0000 a-1 0.1 0.4", "expected at least 5 fields, got 4"),
])
def test_word_segment_times(tmp_path, line, why):
    msg = _errors(tmp_path, word_segments=f"{line}\nb-1_0000 b-1 0 0.3 HA\n")
    assert f"word_segments:1: 'a-1_0000': {why}" in msg


def test_coverage_errors_and_all_problems_reported(tmp_path):
    msg = _errors(tmp_path, text="a-1 HI\nb-1 HA\nc-9 HU\n", wav_scp="a-1 /x\na-2 /x\n")
    assert "text: 'a-2': utterance has no entry (listed in utt2spk line 2)" in msg
    assert "text:3: 'c-9': utterance not in utt2spk" in msg
    assert "wav.scp: 'b-1': utterance has no entry (listed in utt2spk line 3)" in msg
    assert "(3 error(s))" in msg


def test_segments_checks(tmp_path):
    d = _write(tmp_path / "dd", **{**GOOD, "wav_scp": "rec /x.wav\nunused /y.wav\n",
                                   "segments": "a-1 rec 0 1\na-2 rec 1 0.5\nb-1 other 0 1\n"})
    problems = check_data_dir(d)
    errs = [str(p) for p in problems if p.error]
    warns = [str(p) for p in problems if not p.error]
    assert any("segments:2: 'a-2': end 0.5 is not after start 1" in e for e in errs)
    assert any("segments:3: 'b-1': recording 'other' not in wav.scp" in e for e in errs)
    assert any("wav.scp:2: 'unused': recording not used" in w for w in warns)


def test_missing_required_files(tmp_path):
    d = _write(tmp_path / "dd", utt2spk="a-1 a\n")
    msg = str(pytest.raises(DataDirError, validate_data_dir, d).value)
    assert "spk2utt: missing" in msg and "wav.scp: missing, and there is no feats.scp" in msg


def test_speaker_order_warning(tmp_path):
    d = _write(tmp_path / "dd", utt2spk="u1 z\nu2 a\n", spk2utt="a u2\nz u1\n", wav_scp="u1 /x\nu2 /y\n")
    warnings = validate_data_dir(d)
    assert len(warnings) == 1 and "order differs when sorted by speaker" in warnings[0]


def test_load_rejects_malformed_naming_file_and_line(tmp_path):
    d = _write(tmp_path / "dd", **{**GOOD, "utt2spk": "a-1 a\na-2 a extra\n"})
    with pytest.raises(DataDirError, match=r"utt2spk:2: 'a-2': expected at most 2 fields"):
        DataDir.load(d)
    _write(d, utt2spk="a-1 a\na-1 a\n")
    with pytest.raises(DataDirError, match=r"utt2spk:2: duplicate id 'a-1' \(first on line 1\)"):
        DataDir.load(d)
    with pytest.raises(DataDirError, match="utt2spk: no such file"):
        DataDir.load(tmp_path)


def test_subset(tmp_path):
    d = sample_dir()
    d.cmvn_scp = {s: f"c.ark:{i}" for i, s in enumerate(d.speakers)}
    sub = subset_data_dir(d, tmp_path / "sub", utts=["s1-u0", "s2-u2"])
    assert sub.utts == ["s1-u0", "s2-u2"] and set(sub.wav_scp) == set(sub.text) == {"s1-u0", "s2-u2"}
    assert {w.utt for w in sub.word_segments} == {"s1-u0", "s2-u2"} and set(sub.cmvn_scp) == {"s1", "s2"}
    assert validate_data_dir(tmp_path / "sub") == []
    by_spk = subset_data_dir(d, speakers=["s3"])
    assert by_spk.utts == ["s3-u0", "s3-u1", "s3-u2"] and by_spk.spk2gender == {"s3": "f"}
    with pytest.raises(DataDirError, match="unknown utterance"):
        subset_data_dir(d, utts=["nope"])
    # segments: only recordings in use are kept
    seg = DataDir(utt2spk={"a-1": "a", "b-1": "b"}, wav_scp={"r1": "/r1.wav", "r2": "/r2.wav"},
                  segments={"a-1": Segment("r1", 0, 1), "b-1": Segment("r2", 0, 1)})
    assert seg.subset(speakers=["b"]).wav_scp == {"r2": "/r2.wav"}


def test_split_by_speaker(tmp_path):
    d = sample_dir(n_spk=5, per_spk=2)
    d.utt2spk.update({"s5-u2": "s5", "s5-u3": "s5"})  # s5 has 4 utterances
    d.wav_scp.update({"s5-u2": "/a", "s5-u3": "/b"})
    d.text.update({"s5-u2": "A", "s5-u3": "B"})
    d.utt2dur.update({"s5-u2": 1.0, "s5-u3": 1.0})
    d.save(tmp_path / "dd")
    parts = split_by_speaker(tmp_path / "dd", 3)
    assert len(parts) == 3
    spk_sets = [set(p.speakers) for p in parts]
    assert set().union(*spk_sets) == {"s1", "s2", "s3", "s4", "s5"}
    assert sum(len(s) for s in spk_sets) == 5  # disjoint
    assert sorted(u for p in parts for u in p.utts) == sorted(d.utts)
    assert max(p.num_utts for p in parts) - min(p.num_utts for p in parts) <= 2
    for j in (1, 2, 3):
        assert validate_data_dir(tmp_path / "dd" / "split3" / str(j)) == []
    assert read_utt2spk(tmp_path / "dd" / "split3" / "1" / "utt2spk")
    with pytest.raises(DataDirError, match="cannot split 5 speaker"):
        split_by_speaker(tmp_path / "dd", 6)


def test_train_test_split_speakers(tmp_path):
    d = sample_dir(n_spk=10, per_spk=2)
    train, test = train_test_split_speakers(d, 0.3, seed=1, out_train=tmp_path / "tr", out_test=tmp_path / "te")
    assert test.num_speakers == 3 and train.num_speakers == 7
    assert not set(train.speakers) & set(test.speakers)
    assert train.num_utts + test.num_utts == d.num_utts
    assert validate_data_dir(tmp_path / "tr") == [] and validate_data_dir(tmp_path / "te") == []
    again = train_test_split_speakers(d, 0.3, seed=1)[1]
    other = train_test_split_speakers(d, 0.3, seed=2)[1]
    assert again.speakers == test.speakers and other.speakers != test.speakers
    assert train_test_split_speakers(d, 0.01)[1].num_speakers == 1  # at least one each side
    with pytest.raises(DataDirError, match="test_fraction"):
        train_test_split_speakers(d, 1.0)
    with pytest.raises(DataDirError, match="at least 2 speakers"):
        train_test_split_speakers(sample_dir(n_spk=1), 0.5)


def test_fix_data_dir(tmp_path):
    d = sample_dir(n_spk=2, per_spk=2)
    d.feats_scp = {u: "x.ark:1" for u in d.utts if u != "s1-u1"}
    del d.text["s2-u0"]
    d.save(tmp_path / "dd")
    with pytest.raises(DataDirError):
        validate_data_dir(tmp_path / "dd")
    assert fix_data_dir(tmp_path / "dd") == ["s1-u1", "s2-u0"]
    assert validate_data_dir(tmp_path / "dd") == []
    assert (tmp_path / "dd" / ".backup" / "utt2spk").read_text().count("\n") == 4


def test_prepare_cli_tools(tmp_path, capsys):
    sample_dir(n_spk=4).save(tmp_path / "dd")
    assert cli_main(["prepare", "validate", str(tmp_path / "dd")]) == 0
    assert cli_main(["prepare", "split-speakers", str(tmp_path / "dd"), str(tmp_path / "tr"),
                     str(tmp_path / "te"), "--test-fraction", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "train: 9 utterances, 3 speakers" in out and "test:  3 utterances, 1 speakers" in out
    assert cli_main(["prepare", "split", str(tmp_path / "dd"), "--nj", "2"]) == 0
    assert (tmp_path / "dd" / "split2" / "2" / "spk2utt").exists()
    (tmp_path / "dd" / "spk2utt").write_text("s1 s1-u0\n")
    assert cli_main(["prepare", "validate", str(tmp_path / "dd")]) == 1
    assert "spk2utt" in capsys.readouterr().err


def test_fix_data_dir_counts_an_utterance_only_other_tables_name(tmp_path, capsys):
    """Issue 23: an utterance dropped from utt2spk but left in wav.scp/text was removed and reported as 0."""
    d = sample_dir(n_spk=2, per_spk=2)
    d.save(tmp_path / "dd")
    lines = (tmp_path / "dd" / "utt2spk").read_text().splitlines()
    (tmp_path / "dd" / "utt2spk").write_text("\n".join(lines[1:]) + "\n")
    gone = lines[0].split()[0]
    assert cli_main(["prepare", "fix-data-dir", str(tmp_path / "dd")]) == 0
    assert f"removed 1 utterance(s): {gone}" in capsys.readouterr().out
    assert gone not in (tmp_path / "dd" / "wav.scp").read_text()
