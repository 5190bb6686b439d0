"""`evaluate std --atwv` and `search` as a detector on utterances made of concatenated clips at known times."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import CLIP_GAP as GAP
from tests.helpers import CLIP_SR as SR
from tests.helpers import clip_wave as _clip
from tests.helpers import concatenated_clips_data_dir as build_fixture
from tests.helpers import untrained_speech_model


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory) -> tuple[Path, dict]:
    return build_fixture(tmp_path_factory.mktemp("kws"))


@pytest.mark.slow  # ~8 s on 2 busy cores: matplotlib, numba and two embeddings
def test_dtw_detection_finds_the_known_clips_and_the_files_are_written(fixture_dir, tmp_path, capsys):
    from speechdis.cli import main

    d, truth = fixture_dir
    model = untrained_speech_model(tmp_path / "model.pt")
    out = tmp_path / "eval"
    assert main(["evaluate", "std", "--data", str(d), "--model", f"rand={model}", "--no-mfcc-stats", "--atwv",
                 "--window", "0.4", "--hop", "0.1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ATWV" in printed and "MTWV" in printed
    res = json.loads((out / "kws.json").read_text())
    n_words = sum(len(w) for w in truth.values())
    assert res["terms"] == 3 and res["examples"] == n_words
    total = sum(0.4 * len(w) + GAP * (len(w) + 1) for w in truth.values())
    assert res["speech_seconds"] == pytest.approx(total, abs=0.1)
    dtw = res["systems"]["DTW"]
    # Identical clips in near-silence: DTW's hits all outscore its detections in utterances without the term,
    # so some threshold keeps every hit and no false alarm.
    assert dtw["occurrences"] == n_words and dtw["MTWV"] == pytest.approx(1.0)
    assert dtw["MTWV_P_miss"] == 0 and dtw["MTWV_P_FA"] == 0
    # The untrained model is scored too (its value is whatever it is, but at most 1).
    assert res["systems"]["rand"]["MTWV"] <= 1.0 and res["systems"]["rand"]["detections"] > 0
    for name in ("kwlist.xml", "kwslist_DTW.xml", "kwslist_rand.xml", "detections_DTW.tsv", "det_kws.png"):
        assert (out / name).is_file(), name
    root = ET.parse(out / "kwslist_DTW.xml").getroot()
    # DTW's best path over "up" in s1-u1 starts where the clip was put (within two frames).
    ups = [k for dk in root if dk.get("kwid") == "up" for k in dk if k.get("file") == "s1-u1"]
    assert len(ups) == 1 and float(ups[0].get("tbeg")) == pytest.approx(truth["s1-u1"][0][1], abs=0.03)


def test_search_merges_overlapping_windows_into_one_hit(fixture_dir, tmp_path):
    """A query clip against window vectors of every utterance: one hit per utterance and place."""
    from speechdis.cli import main
    from speechdis.eval.kws import read_detections

    d, truth = fixture_dir
    model = untrained_speech_model(tmp_path / "model.pt")
    arch = tmp_path / "windows.npz"
    assert main(["extract", str(d), "--model", str(model), "--window", "0.4", "--hop", "0.05",
                 "--out", str(arch)]) == 0
    query = tmp_path / "q.wav"
    sf.write(str(query), _clip("up", np.random.default_rng(5)).astype(np.float32), SR)
    raw = tmp_path / "raw.tsv"
    assert main(["search", "--archive", str(arch), str(query), "--model", str(model), "-k", "100", "--no-merge",
                 "--out", str(raw)]) == 0
    merged = tmp_path / "merged.tsv"
    dets = tmp_path / "det.tsv"
    assert main(["search", "--archive", str(arch), str(query), "--model", str(model), "-k", "100",
                 "--threshold", "-1", "--out", str(merged), "--detections", str(dets),
                 "--kwslist", str(tmp_path / "kwslist.xml")]) == 0

    def rows(p):
        lines = p.read_text().splitlines()
        head = lines[0].split("\t")
        return [dict(zip(head, x.split("\t"))) for x in lines[1:]]

    raw_rows, merged_rows = rows(raw), rows(merged)
    assert len(merged_rows) < len(raw_rows)
    # Merged hits of one utterance never overlap in time.
    by_utt: dict[str, list[tuple[float, float]]] = {}
    for r in merged_rows:
        by_utt.setdefault(r["utt"], []).append((float(r["start"]), float(r["end"])))
    for spans in by_utt.values():
        spans.sort()
        assert all(b <= c + 1e-6 for (_, b), (c, _) in zip(spans, spans[1:]))
    found = read_detections(dets)
    assert len(found) == len(merged_rows) and {x.term for x in found} == {"q"}
    # A threshold above every score leaves nothing in the TSV, while kwslist keeps them as NO decisions.
    none = tmp_path / "none.tsv"
    assert main(["search", "--archive", str(arch), str(query), "--model", str(model), "--threshold", "1.01",
                 "--out", str(none), "--kwslist", str(tmp_path / "k2.xml")]) == 0
    assert len(none.read_text().splitlines()) == 1
    decisions = {k.get("decision") for k in ET.parse(tmp_path / "k2.xml").getroot().iter("kw")}
    assert decisions == {"NO"}
