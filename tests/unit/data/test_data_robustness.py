"""Reliability cases of issue 10 (data dirs and word segments): no silent corruption, no unsafe loading, no orphans,
one-line errors."""
from __future__ import annotations

import pytest


def test_validate_flags_word_segments_past_the_utterance_end(tmp_path):
    """4: `prepare validate` checks word_segments against utt2dur."""
    from speechdis.data.datadir import DataDir
    from speechdis.data.validate import validate_data_dir
    from speechdis.errors import DataDirError

    d = tmp_path / "d"
    DataDir(utt2spk={"s-1": "s"}, wav_scp={"s-1": "/x/s-1.wav"}).save(d)
    (d / "utt2dur").write_text("s-1 3.8\n")
    (d / "word_segments").write_text("s-1_0 s-1 0.5 1.0 A\ns-1_1 s-1 3.70 3.82 B\n")
    validate_data_dir(d)  # an end a frame or two past the end is alignment rounding
    (d / "word_segments").write_text("s-1_0 s-1 0.5 1.0 A\ns-1_1 s-1 10 11 B\n")
    with pytest.raises(DataDirError, match=r"word_segments:2: 's-1_1'.*ends past the end of utterance 's-1' \(3.8s"):
        validate_data_dir(d)


def test_word_segment_ending_before_its_start_is_invalid_with_id_and_line(tmp_path):
    from speechdis.data.tables import read_word_segments
    from speechdis.errors import DataDirError

    ws = tmp_path / "word_segments"
    ws.write_text("a_0 a 0.10 0.40 HI\na_1 a 0.50 0.30 THERE\n")
    with pytest.raises(DataDirError, match=r"word_segments:2: segment 'a_1' is invalid: end 0.30 is before "
                                           r"start 0.50"):
        read_word_segments(ws)


def test_no_internal_objects_in_messages(mini_data):
    from speechdis.data.segments import data_dir_segments
    from speechdis.errors import DataDirError

    with pytest.raises(DataDirError) as e:
        data_dir_segments(mini_data["test"], min_frames=10**6)
    msg = str(e.value)
    assert "SegmentFilterReport" not in msg and "(" in msg
    assert "0 used; skipped" in msg and "too short" in msg and "min_frames=1000000" in msg
