"""The typed task results (StdResult, SpeakerResult, ProbeResult): ``to_dict()`` is the old JSON layout of
std.json / speaker.json / probes.json, and key access keeps working for code written against it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from speechdis.audio.features import FeatureConfig
from speechdis.eval.data import EvalData
from speechdis.eval.embedding import ModelVectors
from speechdis.eval.report import to_jsonable
from speechdis.eval.table import final_table
from speechdis.eval.tasks.probes import ProbeResult, ProbeRow, run_probes
from speechdis.eval.tasks.speaker import SpeakerResult, run_speaker
from speechdis.eval.tasks.std import StdOptions, StdResult, run_std


def _data() -> EvalData:
    rng = np.random.default_rng(0)
    speakers, words, utts = [], [], []
    for s in range(4):
        for u in range(3):
            for w in range(4):
                speakers.append(f"s{s}")
                words.append(f"w{(u + w) % 5}")
                utts.append(f"s{s}-u{u}")
    n = len(words)
    return EvalData(Path("d"), [f"seg{i}" for i in range(n)], utts, words, speakers, [(0.0, 0.1)] * n,
                    [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(n)], FeatureConfig(),
                    {u: {w for w, v in zip(words, utts) if v == u} for u in set(utts)})


def _onehot(labels) -> np.ndarray:
    vocab = sorted(set(labels))
    return np.eye(len(vocab), dtype=np.float32)[[vocab.index(x) for x in labels]]


def _models(d: EvalData) -> list[ModelVectors]:
    oracle = ModelVectors("oracle", "disentangled", "-", Path("."),
                          {"phonetic": _onehot(d.words), "speaker": _onehot(d.speakers)}, 0.0,
                          {"phonetic": "phonetic", "speaker": "speaker"})
    noise = ModelVectors("noise", "baseline", "-", Path("."),
                         {"embedding": np.random.default_rng(1).standard_normal((len(d), 4))}, 0.0,
                         {"phonetic": "embedding", "speaker": "embedding"})
    return [oracle, noise]


def _json(obj) -> str:
    return json.dumps(to_jsonable(obj))


def test_results_give_the_old_report_layout(tmp_path):
    d = _data()
    models = _models(d)
    std = run_std(d, models, StdOptions(dtw=True, dtw_budget=None, max_same_diff=20))
    spk = run_speaker(d, models, tmp_path, n_trials=50)
    probes = run_probes(d, models)
    assert isinstance(std, StdResult) and isinstance(spk, SpeakerResult) and isinstance(probes, ProbeResult)

    s = std.to_dict()
    assert list(s) == ["data", "segment_qbe", "segment_qbe_cross_speaker", "utterance_qbe", "utterance_scoring",
                       "same_different", "same_different_segments"]
    assert list(s["segment_qbe"]) == ["DTW", "oracle", "noise"] and s["same_different_segments"] == 20
    assert s["segment_qbe"]["oracle"]["MAP"] == 1.0 and s["utterance_scoring"] == "best word segment"
    assert std.k_key == "P@10" and std["segment_qbe_cross_speaker"] is std.cross_speaker
    assert "same_different_segments" not in StdResult(data={}).to_dict()

    p = spk.to_dict()
    assert list(p) == ["trials", "verification"] and spk["verification"] is spk.verification
    assert set(p["verification"]) == {"oracle/speaker", "oracle/phonetic", "noise/embedding"}
    assert spk.eer("oracle", "speaker") == p["verification"]["oracle/speaker"]["EER"] == 0.0
    assert spk.eer("oracle", "nothing") is None

    r = probes.to_dict()
    assert list(r) == ["probes", "details"]  # nothing skipped, no seeds: those keys are left out
    assert list(r["probes"][0]) == ["model", "target", "from", "accuracy", "chance", "n_classes", "n_test"]
    assert probes.get("skipped", []) == [] and "details" in probes
    row = r["probes"][0]
    assert probes.accuracy(row["model"], row["target"], row["from"]) == row["accuracy"]
    # Key access (for code written against the JSON layout) reads the same values as the fields.
    for res in (std, spk, probes):
        assert _json({k: res[k] for k in res.to_dict()}) == _json(res.to_dict())

    table = {row["system"]: row for row in final_table(std, spk, probes, models)}
    assert table["oracle"]["MAP"] == 1.0 and table["oracle"]["EER"] == 0.0
    assert table["oracle"]["word probe (phon)"] == probes.accuracy("oracle", "word", "phonetic")
    assert table["chance"]["spk probe (spk)"] == probes.chance()["speaker"]
    assert table["oracle (phonetic as speaker)"]["EER"] == spk.eer("oracle", "phonetic")


def test_probe_result_optional_keys():
    rows = [ProbeRow(f"m_seed{i}", "word", "phonetic", acc, 0.1, 5, 10) for i, acc in enumerate((0.5, 0.7))]
    res = ProbeResult(rows=rows, skipped=[{"target": "speaker", "models": "m_seed0", "reason": "one speaker"}],
                      seed_summary=[{"model": "m"}], details={})
    assert list(res.to_dict()) == ["probes", "skipped", "seed_summary", "details"]
    assert res["probes"][1]["from"] == "phonetic" and res.accuracy("m_seed1", "word", "phonetic") == 0.7
    assert res.accuracy("m_seed1", "speaker", "phonetic") is None
