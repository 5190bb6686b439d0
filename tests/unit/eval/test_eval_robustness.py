"""Reliability cases of issue 10 (probes the data cannot hold): no silent corruption, no unsafe loading, no orphans,
one-line errors."""
from __future__ import annotations

import numpy as np
import pytest


# ------------------------------------------------------------------------------- 14: probes the data cannot hold
def _eval_subset(src, dst, speakers=None, first_of_each_word=False):
    import shutil

    from speechdis.data.datadir import DataDir

    d = DataDir.load(src)
    d = d.subset(speakers=speakers) if speakers else d
    if first_of_each_word:
        seen: set[str] = set()
        d.word_segments = [w for w in d.word_segments if not (w.word in seen or seen.add(w.word))]
    d.save(dst)
    shutil.copytree(src / "conf", dst / "conf")
    return dst


def test_probes_on_one_speaker_or_no_repeated_word_say_why_they_are_skipped(mini_data, tmp_path, capsys):
    import json

    from speechdis.cli import main
    from speechdis.data.datadir import DataDir
    from speechdis.eval.probes import probe_table

    src = mini_data["test"]
    one = _eval_subset(src, tmp_path / "one", speakers=[sorted(set(DataDir.load(src).utt2spk.values()))[0]])
    norep = _eval_subset(src, tmp_path / "norep", first_of_each_word=True)
    for data, skipped in ((one, {"speaker", "word"}), (norep, {"word"})):
        out = tmp_path / f"eval_{data.name}"
        rc = main(["evaluate", "probes", "--data", str(data), "--out", str(out)])
        cap = capsys.readouterr()
        assert rc == 0 and "Traceback" not in cap.err, cap.err
        rep = json.loads((out / "probes.json").read_text())
        assert {s["target"] for s in rep["skipped"]} == skipped
        assert {r["target"] for r in rep["probes"]} == {"speaker", "word"} - skipped
        assert "word probe skipped (mfcc-stats): no word of" in cap.err and "## skipped" in cap.out
        if "speaker" in skipped:
            assert "1 speaker(s) in the data; a speaker probe needs at least 2" in cap.err
    # The API says why too: an error naming the probe, or the reason in the skipped dict.
    x = np.zeros((6, 2))
    with pytest.raises(ValueError, match="speaker_from_phonetic: 1 speaker"):
        probe_table(x, x, ["a"] * 6, ["w", "w", "v", "v", "u", "u"])
    why: dict[str, str] = {}
    assert probe_table(x, x, ["a"] * 6, list("abcdef"), skipped=why) == {}
    assert set(why) == {"speaker_from_phonetic", "speaker_from_speaker", "word_from_phonetic", "word_from_speaker"}
