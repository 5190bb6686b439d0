"""Word alignments: TextGrid (long/short, UTF-16, MFA layouts), alignment.txt and CTM agree."""
from __future__ import annotations

import pytest

from speechdis.data.alignments import (
    AlignedWord,
    alignments_to_word_segments,
    is_unknown,
    load_alignments,
    read_alignment_txt,
    read_ctm,
    read_textgrid,
    read_textgrid_words,
)
from speechdis.errors import DataDirError
from tests.helpers import (
    alignment_line,
    build_tiny_corpus,
    ctm_lines,
    textgrid_long,
    textgrid_short,
)


def test_all_formats_give_the_same_segments(tmp_path):
    corpus = build_tiny_corpus(tmp_path / "c")
    transcripts = {u: " ".join(w) for u, w in corpus.transcripts.items()}
    # MFA layout <dir>/<spk>/<utt>.TextGrid (long format) and flat short-format files
    for i, (utt, words) in enumerate(corpus.words.items()):
        spk = utt.split("-")[0]
        if i % 2 == 0:
            (tmp_path / "mfa" / spk).mkdir(parents=True, exist_ok=True)
            (tmp_path / "mfa" / spk / f"{utt}.TextGrid").write_text(textgrid_long(words, corpus.durations[utt]))
        else:
            (tmp_path / "mfa").mkdir(exist_ok=True)
            (tmp_path / "mfa" / f"{utt}.TextGrid").write_text(textgrid_short(words, corpus.durations[utt]))
    (tmp_path / "all.ctm").write_text(ctm_lines(corpus.words))

    results = {}
    for name, source, fmt in [("alignment-txt", corpus.root / corpus.subset, "auto"),
                              ("textgrid", tmp_path / "mfa", "textgrid"),
                              ("ctm", tmp_path / "all.ctm", "ctm")]:
        aset = load_alignments(source, fmt)
        assert sorted(aset.words) == sorted(corpus.words), name
        segs, stats = alignments_to_word_segments(aset.words, transcripts)
        assert not stats.mismatched and stats.unknown == 0
        results[name] = [(s.seg_id, s.utt, round(s.start, 3), round(s.end, 3), s.word) for s in segs]
    assert results["alignment-txt"] == results["textgrid"] == results["ctm"]
    expected = sorted((f"{u}_{k:04d}", u, s, e, w) for u, ws in corpus.words.items()
                      for k, (w, s, e) in enumerate(ws))
    assert results["ctm"] == expected
    assert len(expected) == 8


def test_textgrid_parser_details(tmp_path):
    words = [("hello", 0.1, 0.4)]
    p = tmp_path / "u.TextGrid"
    p.write_text(textgrid_long(words, 1.0, tier="spk1 - words"))
    tiers = read_textgrid(p)
    assert list(tiers) == ["spk1 - words", "phones"]
    assert tiers["phones"] == [(0.0, 1.0, 'say "hi" 3')]
    assert read_textgrid_words(p) == [AlignedWord("", 0.0, 0.1), AlignedWord("hello", 0.1, 0.4),
                                      AlignedWord("", 0.4, 1.0)]
    p16 = tmp_path / "u16.TextGrid"
    p16.write_bytes(textgrid_short(words, 1.0).encode("utf-16"))  # Praat writes UTF-16 sometimes
    assert [w.word for w in read_textgrid_words(p16)] == ["", "hello", ""]
    bad = tmp_path / "bad.TextGrid"
    bad.write_text(textgrid_short(words, 1.0)[:-20])
    with pytest.raises(DataDirError, match=r"bad\.TextGrid: (truncated|malformed)"):
        read_textgrid_words(bad)
    other = tmp_path / "other.TextGrid"
    other.write_text(textgrid_long(words, 1.0, tier="phrases"))
    with pytest.raises(DataDirError, match="cannot find the words tier"):
        read_textgrid_words(other)


def test_silence_unknown_and_mismatch():
    ali = {
        "u1": [AlignedWord("", 0, 0.1), AlignedWord("HELLO", 0.1, 0.3), AlignedWord("sil", 0.3, 0.4),
               AlignedWord("<unk>", 0.4, 0.6), AlignedWord("WORLD", 0.6, 0.9)],
        "u2": [AlignedWord("GOOD", 0.0, 0.2), AlignedWord("BYE", 0.2, 0.4)],
        "u3": [AlignedWord("ONE", 0.0, 0.2)],
    }
    text = {"u1": "HELLO ZYZZYVA WORLD", "u2": "GOOD NIGHT", "u3": "one"}
    segs, stats = alignments_to_word_segments(ali, text)
    # <unk> matches the OOV transcript word, is dropped, and keeps its position in the numbering
    assert [(s.seg_id, s.word) for s in segs] == [("u1_0000", "HELLO"), ("u1_0002", "WORLD"), ("u3_0000", "one")]
    assert stats.silences == 2 and stats.unknown == 1 and stats.unknown_words["<unk>"] == 1
    assert stats.mismatched == {"u2": "word 1: alignment 'BYE' vs transcript 'NIGHT'"}
    assert stats.utts == 2 and stats.segments == 3
    segs, _ = alignments_to_word_segments(ali, text, utts=["u3"])
    assert [s.seg_id for s in segs] == ["u3_0000"]
    assert is_unknown("[noise]") and is_unknown("spn") and not is_unknown("HELLO")


def test_alignment_txt_format(tmp_path):
    p = tmp_path / "1-2.alignment.txt"
    p.write_text(alignment_line("1-2-0000", [("A", 0.2, 0.5), ("B", 0.5, 0.9)], 1.0) + "\n")
    assert read_alignment_txt(p)["1-2-0000"] == [AlignedWord("", 0.0, 0.2), AlignedWord("A", 0.2, 0.5),
                                                 AlignedWord("B", 0.5, 0.9), AlignedWord("", 0.9, 1.0)]
    p.write_text('1-2-0000 ",A,B" "0.2,0.5"\n')
    with pytest.raises(DataDirError, match=r"alignment\.txt:1: '1-2-0000': 3 words but 2 times"):
        read_alignment_txt(p)
    p.write_text('1-2-0000 ",A" "0.5,0.2"\n')
    with pytest.raises(DataDirError, match="end times decrease"):
        read_alignment_txt(p)


def test_ctm_format(tmp_path):
    p = tmp_path / "a.ctm"
    p.write_text("u1 1 0.50 0.20 B\nu1 1 0.10 0.30 A 0.9\n")
    assert read_ctm(p) == {"u1": [AlignedWord("A", 0.1, 0.4), AlignedWord("B", 0.5, 0.7)]}
    p.write_text("u1 1 0.5 B\n")
    with pytest.raises(DataDirError, match=r"a\.ctm:1: expected"):
        read_ctm(p)


def test_duplicates_across_files_are_reported(tmp_path):
    (tmp_path / "a.ctm").write_text("u1 1 0.1 0.2 A\n")
    (tmp_path / "b.ctm").write_text("u1 1 0.3 0.2 B\n")
    aset = load_alignments(tmp_path)
    assert aset.duplicates == ["u1"] and aset.words["u1"][0].word == "A" and len(aset.files) == 2
    with pytest.raises(DataDirError, match="does not exist"):
        load_alignments(tmp_path / "nowhere")


def test_alignment_files_found_through_symlinked_dirs(tmp_path):
    from speechdis.data.alignments import find_alignment_files

    real = tmp_path / "real" / "11" / "100"
    real.mkdir(parents=True)
    (real / "11-100.alignment.txt").write_text('11-100-0000 ",HELLO," "0.100,0.400,0.500"\n')
    top = tmp_path / "linked"
    top.mkdir()
    (top / "11").symlink_to(tmp_path / "real" / "11", target_is_directory=True)
    found = find_alignment_files(top)
    assert [p.name for p, _ in found] == ["11-100.alignment.txt"]
