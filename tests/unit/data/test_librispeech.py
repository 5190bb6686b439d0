"""LibriSpeech preparation: tiny synthetic fixture (every reported problem) and the synthetic corpus."""
from __future__ import annotations

import pytest

from speechdis.cli import main as cli_main
from speechdis.data.corpora.librispeech import prepare_librispeech
from speechdis.data.datadir import DataDir
from speechdis.data.validate import validate_data_dir
from speechdis.errors import DataDirError
from tests.helpers import MINI_CORPUS, ctm_lines, mini_corpus_ready, textgrid_long, write_wave


def test_tiny_corpus(tiny_corpus, tmp_path):
    out = tmp_path / "dd"
    rep = prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, out)
    d = DataDir.load(out)
    assert validate_data_dir(out) == []
    assert d.utts == sorted(tiny_corpus.transcripts)
    assert d.utt2spk == {u: u.split("-")[0] for u in d.utts}
    assert d.text["11-100-0000"] == "HELLO WORLD"
    wav = d.wav_scp["22-200-0001"]
    assert wav.startswith("/") and wav.endswith("22/200/22-200-0001.flac")
    assert d.utt2dur["11-100-0000"] == pytest.approx(0.8)
    assert d.spk2gender == {"11": "f", "22": "m"}
    assert (rep.utts, rep.speakers, rep.chapters, rep.word_tokens, rep.vocabulary) == (4, 2, 2, 8, 5)
    assert (rep.alignment_files, rep.segments, rep.aligned_utts, rep.segment_vocabulary) == (2, 8, 4, 5)
    assert rep.silences_skipped > 0 and not rep.unaligned_utts and not rep.mismatched
    segs = {s.seg_id: s for s in d.word_segments}
    s = segs["22-200-0000_0001"]
    assert (s.utt, s.start, s.end, s.word) == ("22-200-0000", 0.45, 0.65, "THERE")
    assert "4 utterances, 2 speakers, 2 chapters" in rep.summary() and "WARNING" not in rep.summary()


def test_problems_are_counted_not_lost(tiny_corpus, tmp_path):
    ch = tiny_corpus.chapter_dir("11-100-0000")
    # transcript line without audio, audio without transcript, wrong-prefix id, unreadable audio
    with open(ch / "11-100.trans.txt", "a") as f:
        f.write("11-100-0007 NO AUDIO\n99-100-0001 WRONG PREFIX\n11-100-0008 BROKEN FILE\n")
    write_wave(ch / "11-100-0009.flac", 0.3)
    (ch / "11-100-0008.flac").write_bytes(b"not a flac file at all")
    # alignments: drop one utterance's, add one for an unknown utterance, make one disagree
    ali = ch / "11-100.alignment.txt"
    lines = ali.read_text().splitlines()
    ali.write_text(lines[0] + "\n" + '11-100-0005 ",GHOST," "0.1,0.3,0.4"\n')
    ch2 = tiny_corpus.chapter_dir("22-200-0000")
    ali2 = ch2 / "22-200.alignment.txt"
    ali2.write_text(ali2.read_text().replace("THERE", "WHERE"))
    rep = prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, tmp_path / "dd")
    assert rep.missing_audio == ["11-100-0007"]
    assert rep.untranscribed_audio == ["11-100-0009"]
    assert len(rep.bad_ids) == 1 and "99-100-0001" in rep.bad_ids[0] and "11-100.trans.txt:4" in rep.bad_ids[0]
    assert list(rep.unreadable_audio) == ["11-100-0008"]
    assert rep.unaligned_utts == ["11-100-0001"]
    assert rep.unknown_alignment_utts == ["11-100-0005"]
    assert set(rep.mismatched) == {"22-200-0000"} and "WHERE" in rep.mismatched["22-200-0000"]
    assert rep.utts == 4 and rep.segments == 4 and rep.aligned_utts == 2
    summary = rep.summary()
    for needle in ("1 transcribed but audio missing: 11-100-0007", "1 audio without transcript",
                   "1 utterances without alignment: 11-100-0001", "not in the subset: 11-100-0005",
                   "disagreeing with the transcript", "unreadable audio"):
        assert needle in summary
    assert validate_data_dir(tmp_path / "dd") == []


def test_textgrid_and_ctm_sources_and_unknown_words(tiny_corpus, tmp_path):
    for utt, words in tiny_corpus.words.items():
        spk = utt.split("-")[0]
        words = [("<unk>", s, e) if (utt, w) == ("11-100-0001", "DAY") else (w, s, e) for w, s, e in words]
        p = tmp_path / "mfa" / spk / f"{utt}.TextGrid"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textgrid_long(words, tiny_corpus.durations[utt]))
    rep = prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, tmp_path / "tg", alignments=tmp_path / "mfa")
    assert rep.alignment_files == 4 and rep.segments == 7 and rep.unknown_skipped == 1
    ids = [s.seg_id for s in DataDir.load(tmp_path / "tg").word_segments]
    assert "11-100-0001_0000" in ids and "11-100-0001_0001" not in ids
    assert "1 unknown-word tokens" in rep.summary()
    (tmp_path / "x.ctm").write_text(ctm_lines(tiny_corpus.words))
    rep = prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, tmp_path / "ctm", alignments=tmp_path / "x.ctm")
    assert rep.segments == 8
    with pytest.raises(DataDirError, match="no alignment files found"):
        prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, tmp_path / "e", alignments=tmp_path / "tg")
    rep = prepare_librispeech(tiny_corpus.root, tiny_corpus.subset, tmp_path / "none", use_alignments=False)
    assert rep.segments == 0 and not (tmp_path / "none" / "word_segments").exists()


def test_missing_subset(tiny_corpus, tmp_path):
    with pytest.raises(DataDirError, match=r"dev-other: no such subset directory \(available: dev-tiny\)"):
        prepare_librispeech(tiny_corpus.root, "dev-other", tmp_path / "x")


def test_prepare_cli(tiny_corpus, tmp_path, capsys):
    rc = cli_main(["prepare", "librispeech", "--corpus", str(tiny_corpus.root), "--subset", tiny_corpus.subset,
                   str(tmp_path / "dd")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "dev-tiny: 4 utterances, 2 speakers" in out and "8 word segments" in out
    assert cli_main(["prepare", "librispeech", "--corpus", str(tiny_corpus.root), "--subset", "nope",
                     str(tmp_path / "x")]) == 1
    assert "no such subset" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# The committed synthetic corpus: counts must match what we count from its files independently.

def _count_corpus(subset: str) -> dict:
    root = MINI_CORPUS / subset
    utts, spks, words, segs, seg_words = set(), set(), set(), 0, set()
    for trans in root.glob("*/*/*.trans.txt"):
        for line in trans.read_text().splitlines():
            if line.strip():
                utt, *ws = line.split()
                utts.add(utt)
                spks.add(trans.parent.parent.name)
                words.update(ws)
    for ali in root.glob("*/*/*.alignment.txt"):
        for line in ali.read_text().splitlines():
            if line.strip():
                toks = [t for t in line.split()[1].strip('"').split(",") if t]
                segs += len(toks)
                seg_words.update(toks)
    return {"utts": len(utts), "speakers": len(spks), "vocabulary": len(words), "segments": segs,
            "segment_vocabulary": len(seg_words), "utt_ids": utts}


@pytest.mark.parametrize("subset", ["train-clean-mini", "test-clean-mini"])
def test_mini_corpus(subset, tmp_path):
    if not mini_corpus_ready(subset):
        pytest.skip(f"{MINI_CORPUS}/{subset} not present")
    expected = _count_corpus(subset)
    out = tmp_path / subset
    rep = prepare_librispeech(MINI_CORPUS, subset, out)
    assert rep.utts == expected["utts"] and rep.speakers == expected["speakers"]
    assert rep.vocabulary == expected["vocabulary"]
    assert rep.segments == expected["segments"] and rep.segment_vocabulary == expected["segment_vocabulary"]
    assert not (rep.missing_audio or rep.untranscribed_audio or rep.bad_ids or rep.unreadable_audio
                or rep.unaligned_utts or rep.unknown_alignment_utts or rep.mismatched or rep.beyond_audio)
    assert validate_data_dir(out) == []
    d = DataDir.load(out)
    assert set(d.utts) == expected["utt_ids"]
    assert len(d.word_segments) == expected["segments"]
    assert all(0 <= s.start < s.end <= d.utt2dur[s.utt] for s in d.word_segments)
    assert set(d.spk2gender) == set(d.speakers)
