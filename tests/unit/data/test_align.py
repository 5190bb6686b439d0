"""Forced alignment (PocketSphinx): known timings, lexicon merge + OOV listing, retries + failure listing, resume."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pocketsphinx")

from speechdis.data.align import (  # noqa: E402
    FAILURES_FILE,
    OOV_FILE,
    PHONES_CTM,
    AlignAttempt,
    align_data_dir,
    read_lexicon,
)
from speechdis.data.alignments import read_alignment_txt, read_ctm  # noqa: E402
from speechdis.data.datadir import DataDir  # noqa: E402
from speechdis.errors import DataDirError  # noqa: E402

CHAPTER = Path(__file__).resolve().parents[3] / "data" / "synthetic_librispeech" / "test-clean-mini" / "1019" / "100038"
SR = 16000


def _sentence(tmp_path: Path, gaps=(0.3, 0.15, 0.4, 0.25)) -> tuple[Path, list[tuple[str, float, float]]]:
    """A new sentence cut together from words of two synthetic utterances, with its exact word times."""
    ali = read_alignment_txt(CHAPTER / "1019-100038.alignment.txt")
    picks = [("1019-100038-0000", 0), ("1019-100038-0001", 1), ("1019-100038-0000", 4)]  # WATER, TABLE, SILVER
    pieces, truth, t = [], [], 0.0
    for (utt, k), gap in zip(picks, gaps):
        wave, sr = sf.read(CHAPTER / f"{utt}.flac", dtype="float32")
        w = [a for a in ali[utt] if a.word][k]
        pieces += [np.zeros(int(gap * SR), np.float32), wave[int(w.start * SR):int(w.end * SR)]]
        t += gap
        truth.append((w.word, t, t + len(pieces[-1]) / SR))
        t = truth[-1][2]
    pieces.append(np.zeros(int(gaps[-1] * SR), np.float32))
    path = tmp_path / "sent.wav"
    sf.write(path, np.concatenate(pieces), SR)
    return path, truth


def _datadir(tmp_path: Path, texts: dict[str, str], wav: Path) -> Path:
    d = DataDir(utt2spk={u: "spk1" for u in texts}, wav_scp={u: str(wav) for u in texts}, text=dict(texts))
    return d.save(tmp_path / "data")


def test_aligns_a_sentence_with_known_timings(tmp_path):
    wav, truth = _sentence(tmp_path)
    data = _datadir(tmp_path, {"spk1-u1": " ".join(w for w, _, _ in truth)}, wav)
    report = align_data_dir(data)
    assert report.aligned == 1 and not report.failures and not report.oov
    segs = DataDir.load(data).word_segments
    assert [s.word for s in segs] == [w for w, _, _ in truth]
    assert [s.seg_id for s in segs] == [f"spk1-u1_{k:04d}" for k in range(3)]
    for s, (_, start, end) in zip(segs, truth):
        assert abs(s.start - start) < 0.1 and abs(s.end - end) < 0.1, (s, start, end)
    phones = read_ctm(data / PHONES_CTM)["spk1-u1"]
    assert [p.word for p in phones[:4]] == ["W", "AO", "T", "ER"]  # CMUdict's "water"
    assert all(segs[0].start - 0.011 <= p.start and p.end <= segs[-1].end + 0.011 for p in phones)
    # A rerun resumes the complete job.
    assert align_data_dir(data).jobs_resumed == [1]


def test_lexicon_merge_and_oov_listing(tmp_path):
    wav, truth = _sentence(tmp_path)
    text = "Waterish, TABLE SILVER"  # "waterish" is not in CMUdict; punctuation is stripped for the lookup
    data = _datadir(tmp_path, {"spk1-u1": text}, wav)
    report = align_data_dir(data)
    assert report.aligned == 0 and report.oov == {"waterish": 1}
    assert (data / OOV_FILE).read_text().split() == ["waterish", "1"]
    assert "oov: waterish" in (data / FAILURES_FILE).read_text()
    lex = tmp_path / "lexicon.txt"
    lex.write_text("WATERISH W AO1 T ER0\n")
    report = align_data_dir(data, lexicon=lex)
    assert report.aligned == 1 and not report.oov and not (data / OOV_FILE).exists()
    assert [s.word for s in DataDir.load(data).word_segments] == ["Waterish,", "TABLE", "SILVER"]


def test_lexicon_rejects_unknown_phones(tmp_path):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("FOO F UUX\n")
    assert read_lexicon(lex) == {"foo": [["F", "UUX"]]}
    wav, _ = _sentence(tmp_path)
    with pytest.raises(DataDirError, match="UUX"):
        align_data_dir(_datadir(tmp_path, {"u": "water"}, wav), lexicon=lex)


def test_retries_then_lists_failures(tmp_path):
    wav, truth = _sentence(tmp_path)
    words = " ".join(w for w, _, _ in truth)
    too_long = " ".join(["beautiful number"] * 30)  # far more phones than the audio has frames
    data = _datadir(tmp_path, {"spk1-a": words, "spk1-b": too_long}, wav)
    narrow = AlignAttempt(1e-2, 1e-2, 1e-2, 0.0)  # prunes everything away
    report = align_data_dir(data, attempts=[narrow, AlignAttempt(1e-48, 7e-29, 1e-48, 0.3)])
    assert report.aligned == 1 and report.first_attempt == 0  # spk1-a only on the retry
    assert set(report.failures) == {"spk1-b"}
    reason = report.failures["spk1-b"]
    assert "attempt 1" in reason and "attempt 2" in reason
    assert (data / FAILURES_FILE).read_text().startswith("spk1-b attempt 1")
    assert {s.utt for s in DataDir.load(data).word_segments} == {"spk1-a"}


def test_cli_align_grid_jobs_then_merge(tmp_path, capsys):
    from speechdis.cli import main

    wav, truth = _sentence(tmp_path)
    words = " ".join(w for w, _, _ in truth)
    d = DataDir(utt2spk={"a-1": "a", "b-1": "b"}, wav_scp={"a-1": str(wav), "b-1": str(wav)},
                text={"a-1": words, "b-1": words.lower()})
    data = d.save(tmp_path / "data")
    assert main(["align", str(data), "--nj", "2", "--job", "2", "--no-progress"]) == 0
    assert not (data / "word_segments").exists() and (data / "align" / "ali.2.done").exists()
    assert main(["align", str(data), "--nj", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "aligned 2/2 utterances" in out and "1 run, 1 already complete" in out
    assert len(DataDir.load(data).word_segments) == 6
