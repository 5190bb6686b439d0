"""Reports: JSON round trip, Markdown tables, atomic writes."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from speechdis.eval.report import format_number, format_table, to_jsonable, write_report
from speechdis.eval.retrieval import segment_qbe


def test_format_table_exact():
    rows = [{"system": "dtw", "MAP": 0.123456, "n": 12}, {"system": "seq2seq|x", "MAP": 0.5}]
    assert format_table(rows) == (
        "| system     |    MAP |   n |\n"
        "| ---------- | -----: | --: |\n"
        "| dtw        | 0.1235 |  12 |\n"
        "| seq2seq\\|x | 0.5000 |     |"
    )
    assert format_table(rows, ["MAP"]).splitlines()[0] == "|    MAP |"


def test_format_number():
    values = (0.0, 0.25, 3.14159, 1234.56, 1e-5, 7, np.int64(3), True, None, float("nan"))
    assert [format_number(v) for v in values] == [
        "0", "0.2500", "3.142", "1234.6", "1.00e-05", "7", "3", "yes", "-", "nan"]


def test_write_report_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3))
    qbe = segment_qbe(x, list("aabbccaabbcc"), x, list("aabbccaabbcc"), exclude=np.arange(12))
    results = {
        "model": "disentangled",
        "epochs": np.int64(3),
        "qbe": qbe.summary(),
        "systems": {"dtw": {"MAP": np.float32(0.25), "seconds": 12.5}, "seq2seq": {"MAP": 0.31, "seconds": 0.2}},
        "probes": [{"probe": "speaker_from_phonetic", "accuracy": 0.3, "chance": 0.25}],
        "per_query_ap": qbe.ap,
        "eer": float("nan"),
        "path": Path("/tmp/x"),
    }
    jp, mp = write_report(results, tmp_path / "out", "eval")
    back = json.loads(jp.read_text())
    assert back == to_jsonable(results)
    assert back["eer"] is None and back["epochs"] == 3 and back["path"] == "/tmp/x"
    assert back["per_query_ap"] == pytest.approx(qbe.ap.tolist())
    assert back["qbe"]["MAP"] == pytest.approx(qbe.map)  # full precision in JSON
    md = mp.read_text()
    assert md.startswith("# eval")
    assert "## systems" in md and "| dtw     |" in md and "0.2500" in md
    assert "## probes" in md and "speaker_from_phonetic" in md
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["eval.json", "eval.md"]
    with pytest.raises(ValueError):
        write_report(results, tmp_path, "a/b")


def test_to_jsonable_rejects_unknown():
    with pytest.raises(TypeError):
        to_jsonable({"x": object()})
    assert to_jsonable({"s": {3, 1}, "t": (1, np.float64(math.inf))}) == {"s": [1, 3], "t": [1, None]}
