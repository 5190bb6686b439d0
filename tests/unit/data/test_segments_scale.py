"""The vectorised data path (segment location, sampler grouping) gives what the plain per-row loops give: the
same segments, counts, examples and errors; word_segments reading keeps naming the bad line."""
import numpy as np
import pytest

from speechdis.audio.features import FeatureConfig, segment_frames, segment_frames_array
from speechdis.data.segments import FrameSegment, PairBatchSampler, SegmentFilterReport, segments_from_table
from speechdis.data.tables import WordSegment, read_word_segments
from speechdis.errors import DataDirError


def _reference(rows, utt2spk, utt2num_frames, cfg, min_frames, max_frames):
    """The row-by-row loop segments_from_table replaced."""
    report = SegmentFilterReport()
    out = []
    for ws in rows:
        if ws.utt not in utt2num_frames:
            report.no_features += 1
            if len(report.examples) < 5:
                report.examples.append(f"{ws.seg_id}: utterance {ws.utt} has no features")
            continue
        if ws.utt not in utt2spk:
            raise DataDirError(f"word_segments: segment {ws.seg_id} refers to utterance {ws.utt} missing from utt2spk")
        b, e = segment_frames(ws.start, ws.end, cfg, utt2num_frames[ws.utt])
        if e - b < min_frames:
            report.too_short += 1
            continue
        if max_frames is not None and e - b > max_frames:
            report.too_long += 1
            continue
        out.append(FrameSegment(ws.seg_id, ws.utt, utt2spk[ws.utt], ws.word, b, e))
    report.kept = len(out)
    return out, report


def _rows(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        u = int(rng.integers(0, 60))
        start = round(float(rng.uniform(0, 3)), int(rng.integers(0, 5)))
        end = start + round(float(rng.choice([0.0, 0.004, 0.01, 0.0125, 0.03, rng.uniform(0, 1.5)])), 4)
        rows.append(WordSegment(f"s{k:05d}", f"u{u:02d}", start, end, f"W{k % 7}"))
    # u50-u59 have no features; u00 has 0 frames, u01 one frame; the others 30-300 (segments run past the end).
    frames = {f"u{u:02d}": int(rng.integers(30, 300)) for u in range(50)} | {"u00": 0, "u01": 1}
    return rows, {f"u{u:02d}": f"spk{u % 9}" for u in range(60)}, frames


@pytest.mark.parametrize("min_frames,max_frames", [(1, None), (3, 40), (5, 5)])
def test_segments_from_table_matches_the_row_loop(min_frames, max_frames):
    rows, utt2spk, frames = _rows()
    cfg = FeatureConfig()
    got = segments_from_table(iter(rows), utt2spk, frames, cfg, min_frames, max_frames)  # any iterable
    want = _reference(rows, utt2spk, frames, cfg, min_frames, max_frames)
    assert got == want
    assert got[1].no_features > 0 and got[1].too_short > 0 and len(got[1].examples) == 5
    assert all(type(s.start_frame) is int and type(s.end_frame) is int for s in got[0])


def test_segment_frames_array_is_segment_frames():
    rng = np.random.default_rng(1)
    starts = np.round(rng.uniform(0, 5, 5000), 3)
    ends = starts + np.round(rng.uniform(0, 0.5, 5000), 3)
    total = rng.integers(0, 400, 5000)
    for cfg in (FeatureConfig(), FeatureConfig(frame_shift_ms=12.5, frame_length_ms=30.0)):
        b, e = segment_frames_array(starts, ends, cfg, total)
        assert list(zip(b.tolist(), e.tolist())) == [segment_frames(s, t, cfg, int(n))
                                                      for s, t, n in zip(starts, ends, total)]


def test_missing_speaker_names_the_first_segment_in_order():
    rows, utt2spk, frames = _rows(200)
    del utt2spk["u07"], utt2spk["u03"]
    first = next(ws for ws in rows if ws.utt in ("u07", "u03"))
    with pytest.raises(DataDirError, match=f"segment {first.seg_id} refers to utterance {first.utt} missing"):
        segments_from_table(rows, utt2spk, frames, FeatureConfig())


def test_word_segments_reader_rows_and_errors(tmp_path):
    p = tmp_path / "word_segments"
    p.write_bytes(b"a-1_0 a-1 0.1 0.4 HI\r\nb-1_0 b-1  0   0.3\tHA\nb-1_1 b-1 1e-1 2 X")  # CRLF, tabs, no final \n
    assert read_word_segments(p) == [WordSegment("a-1_0", "a-1", 0.1, 0.4, "HI"),
                                     WordSegment("b-1_0", "b-1", 0.0, 0.3, "HA"),
                                     WordSegment("b-1_1", "b-1", 0.1, 2.0, "X")]
    p.write_text("")
    assert read_word_segments(p) == []
    bad = {
        "a 1 0.1 0.2 X\nb 1 0.1 x Y\n": r":2: 'b': end 'x' is not a number",
        "a 1 0.1 0.2 X\nb 1 0.1 0.2\n": r":2: 'b': expected at least 5 fields",
        "a 1 0.1 0.2 X\na 1 0.3 0.4 Y\n": r":2: duplicate id 'a' \(first on line 1\)",
        "a 1 0.1 0.2 X\n\nb 1 0.3 0.4 Y\n": r":2: empty line",
        "a 1 0.5 0.2 X\n": r":1: segment 'a' is invalid: end 0.2 is before start 0.5",
        "a 1 nan 0.2 X\n": r":1: 'a': start 'nan' is not finite",
    }
    for text, msg in bad.items():
        p.write_text(text)
        with pytest.raises(DataDirError, match=msg):
            read_word_segments(p)
    with pytest.raises(DataDirError, match="no such file"):
        read_word_segments(tmp_path / "missing")


def test_sampler_groups_segments_by_speaker_in_index_order():
    ids = np.random.default_rng(2).integers(0, 40, 2000)
    ids[ids == 39] = 38  # no speaker 39
    ids[5] = 41  # one segment only: left out
    s = PairBatchSampler(ids, 4, 3, seed=7)
    want = {int(k): np.flatnonzero(ids == k) for k in np.unique(ids) if (ids == k).sum() >= 2}
    assert list(s.by_speaker) == sorted(want)
    assert all(np.array_equal(s.by_speaker[k], v) for k, v in want.items())
    assert s.batch(3) == PairBatchSampler(list(ids), 4, 3, seed=7).batch(3)
