"""Term-weighted value, detection matching, window-hit merging and the kwlist/kwslist files."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from speechdis.eval.kws import (
    Detection,
    Occurrence,
    mark_correct,
    merge_hits,
    read_detections,
    score_kws,
    write_detections,
    write_kwlist,
    write_kwslist,
)

# Two terms with reference occurrences, one without; T = 10,000 s of speech.
REF = [Occurrence("A", "f1", 1.0, 1.5), Occurrence("A", "f2", 3.0, 3.4), Occurrence("B", "f1", 5.0, 5.5)]
DETS = [
    Detection("A", "f1", 1.1, 1.6, 0.9),   # hit (midpoints 1.35 vs 1.25)
    Detection("A", "f2", 10.0, 10.5, 0.8),  # false alarm (no A near 10 s in f2)
    Detection("A", "f2", 3.1, 3.5, 0.4),   # hit, but below the 0.5 threshold
    Detection("B", "f1", 5.0, 5.5, 0.7),   # hit
    Detection("B", "f1", 5.1, 5.6, 0.6),   # same occurrence again: a false alarm (each is matched once)
    Detection("C", "f1", 0.0, 0.5, 0.99),  # term without reference occurrences: not scored
]


def test_atwv_and_mtwv_against_hand_computed_values():
    # Threshold 0.5, beta = 999.9, T = 10000:
    #   A: N_true 2, 1 correct YES -> P_miss = 1/2; 1 false alarm -> P_FA = 1/(10000 - 2) = 1/9998
    #   B: N_true 1, 1 correct     -> P_miss = 0;   1 false alarm -> P_FA = 1/(10000 - 1) = 1/9999
    #   ATWV = 1 - 1/2 * [(0.5 + 999.9/9998) + (0 + 999.9/9999)]
    #        = 1 - 1/2 * [0.5 + 0.1000100 + 0.1000000] = 1 - 0.3500050 = 0.6499950
    # Best threshold 0.4 (A's second hit counts too): P_miss 0 for both,
    #   MTWV = 1 - 1/2 * (999.9/9998 + 999.9/9999) = 0.8999950
    hand_atwv = 1 - 0.5 * ((0.5 + 999.9 / 9998) + (0 + 999.9 / 9999))
    hand_mtwv = 1 - 0.5 * (999.9 / 9998 + 999.9 / 9999)
    assert hand_atwv == pytest.approx(0.649995, abs=1e-6) and hand_mtwv == pytest.approx(0.899995, abs=1e-6)
    r = score_kws(DETS, REF, total_seconds=10_000, threshold=0.5)
    assert r["ATWV"] == pytest.approx(hand_atwv, abs=1e-9)
    assert r["MTWV"] == pytest.approx(hand_mtwv, abs=1e-9)
    assert r["MTWV_threshold"] == pytest.approx(0.4)
    assert r["P_miss"] == pytest.approx(0.25) and r["P_FA"] == pytest.approx(0.5 * (1 / 9998 + 1 / 9999))
    assert (r["terms"], r["occurrences"], r["detections"], r["yes"], r["correct_yes"]) == (2, 3, 5, 4, 2)
    # The DET goes from few detections (high miss) to all of them (no miss).
    assert r["det"]["p_miss"][0] == pytest.approx(0.75) and r["det"]["p_miss"][-1] == pytest.approx(0.0)


def test_false_alarms_cost_beta_and_no_output_is_zero():
    assert score_kws([], REF, 10_000, 0.5)["ATWV"] == 0.0
    # One false alarm per term in 100 s: each costs 999.9/99 of a term's value.
    fa = [Detection("A", "f1", 50.0, 50.5, 1.0), Detection("B", "f2", 50.0, 50.5, 1.0)]
    r = score_kws(fa, REF, 100, 0.5)
    assert r["ATWV"] == pytest.approx(1 - 0.5 * ((1 + 999.9 / 98) + (1 + 999.9 / 99)))
    assert r["MTWV"] == 0.0 and np.isinf(r["MTWV_threshold"])


def test_matching_is_one_to_one_by_score_within_delta():
    ref = [Occurrence("A", "f", 1.0, 1.4)]
    d = [Detection("A", "f", 1.5, 1.9, 0.5), Detection("A", "f", 0.9, 1.3, 0.8), Detection("A", "g", 1.0, 1.4, 0.9)]
    # The best-scoring detection in the right file takes the occurrence; the other is then a false alarm,
    # and a detection in another file never matches.
    assert mark_correct(d, ref).tolist() == [False, True, False]
    assert mark_correct([Detection("A", "f", 1.6, 2.0, 1.0)], ref, delta=0.5).tolist() == [False]  # 0.6 s apart
    assert mark_correct([Detection("A", "f", 1.6, 2.0, 1.0)], ref, delta=0.7).tolist() == [True]


def test_merge_hits_keeps_the_best_window_of_each_occurrence():
    # Windows 0.5 s long every 0.1 s: a peak at 1.0-1.5 s and another at 3.0-3.5 s.
    starts = np.round(np.arange(0, 3.6, 0.1), 3)
    ends = starts + 0.5
    scores = np.exp(-((starts - 1.0) ** 2) / 0.05) + 0.8 * np.exp(-((starts - 3.0) ** 2) / 0.05)
    keep = merge_hits(starts, ends, scores)
    assert starts[keep[0]] == pytest.approx(1.0) and starts[keep[1]] == pytest.approx(3.0)
    kept = [(starts[k], ends[k]) for k in keep]
    # No two kept windows overlap, and every window overlaps a kept one.
    assert all(b1 <= a2 or b2 <= a1 for i, (a1, b1) in enumerate(kept) for (a2, b2) in kept[i + 1:])
    assert all(any(s < b and e > a for a, b in kept) for s, e in zip(starts, ends))
    assert merge_hits([], [], []).size == 0


def test_kwlist_kwslist_and_detection_tsv(tmp_path):
    write_kwlist({"A": "yes", "B": "no <&>"}, tmp_path / "kwlist.xml")
    kws = ET.parse(tmp_path / "kwlist.xml").getroot()
    assert [(k.get("kwid"), k.find("kwtext").text) for k in kws] == [("A", "yes"), ("B", "no <&>")]
    write_kwslist(DETS, 0.5, tmp_path / "kwslist.xml", terms=["A", "B", "C", "D"])
    root = ET.parse(tmp_path / "kwslist.xml").getroot()
    lists = {d.get("kwid"): d for d in root.findall("detected_kwlist")}
    assert list(lists) == ["A", "B", "C", "D"] and len(lists["D"]) == 0
    a = [(k.get("file"), float(k.get("tbeg")), float(k.get("dur")), k.get("decision")) for k in lists["A"]]
    assert a == [("f1", 1.1, 0.5, "YES"), ("f2", 10.0, 0.5, "YES"), ("f2", 3.1, 0.4, "NO")]
    write_detections(DETS, 0.5, tmp_path / "det.tsv")
    lines = (tmp_path / "det.tsv").read_text().splitlines()
    assert lines[0] == "term\tfile\tstart\tduration\tscore\tdecision" and lines[3].endswith("\tNO")
    back = read_detections(tmp_path / "det.tsv")
    assert score_kws(back, REF, 10_000, 0.5)["ATWV"] == pytest.approx(score_kws(DETS, REF, 10_000, 0.5)["ATWV"])
