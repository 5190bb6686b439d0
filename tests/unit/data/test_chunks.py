"""prepare chunks: fixed-length chunks (or whole utterances) of a data dir's utterances as word_segments."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechdis.cli import main
from speechdis.data.chunks import CHUNK_LABEL, SKIPPED_CHUNKS, chunk_spans, prepare_chunks
from speechdis.data.datadir import DataDir
from speechdis.data.tables import read_word_segments
from speechdis.data.validate import validate_data_dir
from speechdis.errors import DataDirError
from tests.helpers import concatenated_clips_data_dir, write_wave


def _dir(root: Path, durations: dict[str, float], table: str = "utt2dur", **extra: str) -> Path:
    """A data dir of speakers ``a``/``b`` (utt ids ``<spk>-<n>``) whose durations are in ``table``: ``utt2dur``,
    ``utt2num_frames`` (10 ms frames of 25 ms) or ``audio`` (8 kHz wav files, header only)."""
    d = root / "in"
    d.mkdir(parents=True)
    wav, u2s, t = [], [], []
    for utt, dur in sorted(durations.items()):
        path = root / "wav" / f"{utt}.wav"
        if table == "audio":
            write_wave(path, dur, sr=8000)
        wav.append(f"{utt} {path}")
        u2s.append(f"{utt} {utt.split('-')[0]}")
        t.append(f"{utt} {dur:g}" if table == "utt2dur" else f"{utt} {round((dur - 0.015) / 0.01)}")
    (d / "wav.scp").write_text("\n".join(wav) + "\n")
    (d / "utt2spk").write_text("\n".join(u2s) + "\n")
    DataDir.load(d).save()  # spk2utt
    if table != "audio":
        (d / table).write_text("\n".join(t) + "\n")
    for name, text in extra.items():
        (d / name).write_text(text)
    return d


def test_chunk_spans_cover_the_utterance_without_overlap():
    assert chunk_spans(7.0, 3.0, 1.5) == [(0.0, 3.0), (3.0, 6.0)]  # 1 s tail < 1.5 s: dropped
    assert chunk_spans(7.6, 3.0, 1.5) == [(0.0, 3.0), (3.0, 6.0), (6.0, 7.6)]
    assert chunk_spans(6.0, 3.0, 0.0) == [(0.0, 3.0), (3.0, 6.0)]  # no empty last chunk
    assert chunk_spans(2.0, 3.0, 1.5) == [(0.0, 2.0)]
    assert chunk_spans(1.0, 3.0, 1.5) == []
    spans = chunk_spans(10.0, 0.7, 0.15)  # 14 chunks and the 0.2 s tail
    assert all(abs((e - s) - 0.7) < 1e-9 for s, e in spans[:-1]) and spans[-1][1] == 10.0
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_chunks_from_utt2dur_share_the_tables_and_report_skips(tmp_path):
    d = _dir(tmp_path, {"a-1": 7.0, "a-2": 7.6, "b-1": 1.0, "b-2": 4.5},
             **{"spk2gender": "a f\nb m\n", "text": "a-1 X\na-2 X\nb-1 X\nb-2 X\n"})
    out = tmp_path / "out"
    report = prepare_chunks(d, out, 3.0)
    segs = {s.seg_id: (s.utt, s.start, s.end, s.word) for s in read_word_segments(out / "word_segments")}
    assert segs == {"a-1_c0000": ("a-1", 0, 3, CHUNK_LABEL), "a-1_c0001": ("a-1", 3, 6, CHUNK_LABEL),
                    "a-2_c0000": ("a-2", 0, 3, CHUNK_LABEL), "a-2_c0001": ("a-2", 3, 6, CHUNK_LABEL),
                    "a-2_c0002": ("a-2", 6, 7.6, CHUNK_LABEL),
                    "b-2_c0000": ("b-2", 0, 3, CHUNK_LABEL), "b-2_c0001": ("b-2", 3, 4.5, CHUNK_LABEL)}
    assert report.segments == 7 and report.utterances == 4
    assert report.skipped == [("b-1", 1.0)] and report.tails_dropped == 1  # a-1's last second
    assert (out / SKIPPED_CHUNKS).read_text() == "b-1 1\n"
    assert report.duration_sources == {"utt2dur": 4}
    assert "skipped 1 utterance(s) shorter than 1.5 s: b-1 (1.00 s)" in report.summary()
    for name in ("wav.scp", "utt2spk", "spk2utt", "utt2dur", "spk2gender", "text"):
        assert (out / name).read_bytes() == (d / name).read_bytes(), name
    assert not validate_data_dir(out)


def test_whole_utterances_and_min_seconds(tmp_path):
    d = _dir(tmp_path, {"a-1": 7.0, "b-1": 1.0})
    report = prepare_chunks(d, tmp_path / "whole", whole=True)
    segs = read_word_segments(tmp_path / "whole" / "word_segments")
    assert [(s.seg_id, s.start, s.end) for s in segs] == [("a-1_whole", 0, 7.0), ("b-1_whole", 0, 1.0)]
    assert not report.skipped and not (tmp_path / "whole" / SKIPPED_CHUNKS).exists()
    report = prepare_chunks(d, tmp_path / "whole", whole=True, min_seconds=2.0)
    assert report.skipped == [("b-1", 1.0)] and report.segments == 1
    report = prepare_chunks(d, tmp_path / "c", 3.0, min_seconds=0.5)
    assert report.segments == 4 and not report.skipped  # 3 + 3 + 1 (the tail) and b-1's 1 s


def test_durations_from_frames_use_the_feature_config(tmp_path):
    # 20 ms frames every 20 ms: 300 frames are 6 s, not the 3.015 s of Kaldi's default 10 ms / 25 ms.
    d = _dir(tmp_path, {"a-1": 3.015, "b-1": 3.015}, table="utt2num_frames")
    (d / "feats.scp").write_text("a-1 /elsewhere/raw.1.ark:10\nb-1 /elsewhere/raw.1.ark:99\n")
    report = prepare_chunks(d, tmp_path / "k", 1.0)
    assert [s.end for s in read_word_segments(tmp_path / "k" / "word_segments")] == [1, 2, 3, 1, 2, 3]
    assert "10 ms shift" in next(iter(report.duration_sources))
    assert (tmp_path / "k" / "feats.scp").read_bytes() == (d / "feats.scp").read_bytes()  # same arks
    (d / "conf").mkdir()
    (d / "conf" / "feats.yaml").write_text("frame_shift_ms: 20.0\nframe_length_ms: 20.0\n")
    (d / "utt2num_frames").write_text("a-1 300\nb-1 300\n")
    prepare_chunks(d, tmp_path / "k", 1.0)
    ends = [s.end for s in read_word_segments(tmp_path / "k" / "word_segments")]
    assert ends == [1, 2, 3, 4, 5, 6] * 2
    assert (tmp_path / "k" / "conf" / "feats.yaml").read_bytes() == (d / "conf" / "feats.yaml").read_bytes()


def test_durations_from_audio_headers_and_stale_tables_removed(tmp_path):
    d = _dir(tmp_path, {"a-1": 2.5, "b-1": 0.4}, table="audio")
    out = tmp_path / "out"
    out.mkdir()
    (out / "feats.scp").write_text("old-utt /old.ark:1\n")  # from another input: must not survive
    report = prepare_chunks(d, out, 1.0)
    assert [(s.start, s.end) for s in read_word_segments(out / "word_segments")] == [(0, 1), (1, 2), (2, 2.5)]
    assert report.duration_sources == {"audio headers": 2} and report.skipped == [("b-1", 0.4)]
    assert not (out / "feats.scp").exists()


def test_bad_inputs_are_one_line_errors(tmp_path):
    d = _dir(tmp_path, {"a-1": 1.0})
    with pytest.raises(DataDirError, match="is the input data dir"):
        prepare_chunks(d, d)
    with pytest.raises(DataDirError, match="min-seconds 4 must be in"):
        prepare_chunks(d, tmp_path / "o", 3.0, min_seconds=4.0)
    with pytest.raises(DataDirError, match="no utterance lasts 1.5 s"):
        prepare_chunks(d, tmp_path / "o", 3.0)
    (d / "wav.scp").write_text("a-1 flac -d -c a.flac |\n")
    (d / "utt2dur").unlink()
    with pytest.raises(DataDirError, match="'a-1' is a shell command"):
        prepare_chunks(d, tmp_path / "o", 3.0)


@pytest.mark.slow  # features + evaluate: ~3-6 s on the shared 2 cores
def test_cli_chunks_feed_evaluate_speaker(tmp_path, capsys):
    data, _ = concatenated_clips_data_dir(tmp_path)  # 5 utterances of ~1.5-2 s with features, 2 speakers
    out = tmp_path / "chunks"
    assert main(["prepare", "chunks", str(data), str(out), "--seconds", "0.5", "--min-seconds", "0.3"]) == 0
    printed = capsys.readouterr().out
    n = len(read_word_segments(out / "word_segments"))
    assert f"{n} segments (0.5 s chunks, label {CHUNK_LABEL}" in printed and n >= 15
    with pytest.raises(SystemExit):  # --seconds and --whole are exclusive
        main(["prepare", "chunks", str(data), str(tmp_path / "bad"), "--seconds", "3", "--whole"])
    capsys.readouterr()
    assert main(["evaluate", "speaker", "--data", str(out), "--out", str(tmp_path / "eval"), "--trials", "50"]) == 0
    res = json.loads((tmp_path / "eval" / "speaker.json").read_text())
    assert 0.0 <= res["verification"]["mfcc-stats/embedding"]["EER"] <= 1.0
    assert res["trials"]["target"] > 0 and res["trials"]["nontarget"] > 0
    assert f"{n} segments, 5 utterances, 2 speakers" in capsys.readouterr().err
