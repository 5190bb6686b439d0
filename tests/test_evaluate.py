"""`speechdis evaluate`: metric plumbing with oracle vectors, DTW budgets, every report file, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_extract_support import tiny_setup

from speechdis.cli import main as cli_main
from speechdis.errors import ConfigError
from speechdis.eval.runner import (
    FINAL_COLUMNS,
    ModelVectors,
    StdOptions,
    final_table,
    load_eval_data,
    parse_model_specs,
    run_probes,
    run_speaker,
    run_std,
    seed_summary,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return tiny_setup(tmp_path_factory)


@pytest.fixture(scope="module")
def data(setup):
    return load_eval_data(setup.data, min_frames=5)


def _onehot(labels) -> np.ndarray:
    vocab = {w: i for i, w in enumerate(sorted(set(labels)))}
    x = np.zeros((len(labels), len(vocab)), dtype=np.float32)
    x[np.arange(len(labels)), [vocab[w] for w in labels]] = 1.0
    return x


def _oracle(data) -> ModelVectors:
    """A perfectly disentangled 'model': one-hot word as phonetic, one-hot speaker as speaker vector."""
    return ModelVectors("oracle", "disentangled", "-", Path("."),
                        {"phonetic": _onehot(data.words), "speaker": _onehot(data.speakers)}, 0.0,
                        {"phonetic": "phonetic", "speaker": "speaker"})


def test_oracle_vectors_score_perfectly(data, tmp_path):
    assert len(data) > 100 and len(set(data.speakers)) == 4
    oracle = _oracle(data)
    rng = np.random.default_rng(0)
    noise = ModelVectors("noise", "baseline", "-", Path("."), {"embedding": rng.standard_normal((len(data), 8))},
                         0.0, {"phonetic": "embedding", "speaker": "embedding"})
    std = run_std(data, [oracle, noise], StdOptions(dtw=True, dtw_budget=None, seed=1, max_queries_per_word=1))
    seg = std["segment_qbe"]
    assert seg["oracle"]["MAP"] == pytest.approx(1.0) and seg["oracle"]["P@R"] == pytest.approx(1.0)
    assert seg["noise"]["MAP"] < 0.3
    # One query per repeated word; the query itself is never its own hit (else the oracle's P@R < 1).
    words = np.array(data.words)
    n_q = sum(1 for w in set(data.words) if (words == w).sum() >= 2)
    assert seg["oracle"]["n_queries"] == n_q == std["data"]["queries"] == std["data"]["query_words"]
    assert std["utterance_qbe"]["oracle"]["MAP"] == pytest.approx(1.0)
    assert std["same_different"]["oracle"]["AP"] == pytest.approx(1.0)
    dtw = seg["DTW"]
    assert dtw["complete"] and dtw["pairs_computed"] == n_q * len(data) and dtw["n_queries"] == n_q
    assert seg["noise"]["MAP"] < dtw["MAP"] < 1.0  # DTW on MFCCs is far better than chance
    # Same-different pairs from the DTW rows: each unordered pair once, the query itself excluded.
    assert std["same_different"]["DTW"]["n_pairs"] == n_q * (len(data) - 1) - n_q * (n_q - 1) // 2
    assert std["same_different"]["oracle"]["n_pairs"] == len(data) * (len(data) - 1) // 2

    spk = run_speaker(data, [oracle], tmp_path, n_trials=500)
    assert spk["verification"]["oracle/speaker"]["EER"] == pytest.approx(0.0)
    assert spk["verification"]["oracle/phonetic"]["EER"] > 0.3  # words say nothing about speakers here
    assert (tmp_path / "det_oracle_speaker.png").stat().st_size > 1000

    probes = {(r["target"], r["from"]): r for r in run_probes(data, [oracle])["probes"]}
    assert probes[("speaker", "speaker")]["accuracy"] == pytest.approx(1.0)
    assert probes[("word", "phonetic")]["accuracy"] == pytest.approx(1.0)
    assert probes[("speaker", "phonetic")]["accuracy"] < 0.6
    table = final_table(std, spk, run_probes(data, [oracle]), [oracle])
    assert [r["system"] for r in table][:2] == ["DTW", "oracle"] and list(table[0]) == FINAL_COLUMNS


def test_dtw_budget_counts_pairs_and_compares_on_the_same_queries(data):
    std = run_std(data, [_oracle(data)], StdOptions(dtw=True, dtw_max_pairs=3 * len(data) + 5))
    dtw = std["segment_qbe"]["DTW"]
    assert not dtw["complete"] and dtw["pairs_computed"] == 3 * len(data) + 5
    assert dtw["n_queries"] == 3  # only complete query rows are scored
    assert std["segment_qbe"]["oracle"]["MAP_dtw_queries"] == pytest.approx(1.0)
    assert std["same_different"]["DTW"]["n_pairs"] == 3 * (len(data) - 1) - 3


def test_seed_summary_groups_models_by_seed_suffix():
    rows = [{"model": f"dis_seed{k}", "target": "speaker", "from": "phonetic", "accuracy": a}
            for k, a in enumerate([0.2, 0.4, 0.3])]
    rows += [{"model": "dis_seed0", "target": "word", "from": "phonetic", "accuracy": 0.5},
             {"model": "base", "target": "speaker", "from": "embedding", "accuracy": 0.9}]
    (s,) = seed_summary(rows)  # one seed of the word probe and the unsuffixed model are not summarised
    assert (s["model"], s["target"], s["from"], s["seeds"]) == ("dis", "speaker", "phonetic", 3)
    assert s["mean"] == pytest.approx(0.3) and s["std"] == pytest.approx(0.1)
    assert (s["min"], s["max"]) == (0.2, 0.4)


def test_model_specs():
    assert parse_model_specs(["a=x/y", "exp/dis"]) == [("a", Path("x/y")), ("dis", Path("exp/dis"))]
    with pytest.raises(ConfigError, match="reserved"):
        parse_model_specs(["dtw=x"])
    with pytest.raises(ConfigError, match="twice"):
        parse_model_specs(["a=x", "a=y"])


def test_std_cli_with_windows_and_a_dtw_budget(setup, tmp_path, capsys):
    out = tmp_path / "std"
    rc = cli_main(["evaluate", "std", "--data", str(setup.data), "--model", f"dis={setup.disentangled}",
                   "--out", str(out), "--device", "cpu", "--windows", "--hop", "0.25", "--dtw",
                   "--dtw-max-pairs", "2000", "--min-occurrences", "3"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "segment_qbe" in printed and "| DTW" in printed
    std = json.loads((out / "std.json").read_text())
    assert (out / "std.md").read_text().startswith("# std")
    assert std["utterance_scoring"] == "sliding windows" and std["data"]["min_occurrences"] == 3
    seg = std["segment_qbe"]
    assert seg["DTW"]["pairs_computed"] == 2000 and not seg["DTW"]["complete"]
    assert 0 <= seg["dis"]["MAP"] <= 1 and "MAP_dtw_queries" in seg["dis"] and seg["dis"]["embed_seconds"] > 0
    assert 0 <= std["utterance_qbe"]["dis"]["MAP"] <= 1
    assert set(std["same_different"]) == {"DTW", "dis"}


def test_evaluate_subcommands_and_errors(setup, tmp_path, capsys):
    out = tmp_path / "e"
    assert cli_main(["evaluate", "speaker", "--data", str(setup.data), "--model", f"d={setup.disentangled}",
                     "--out", str(out), "--trials", "300", "--p-target", "0.05"]) == 0
    spk = json.loads((out / "speaker.json").read_text())
    assert set(spk["verification"]) == {"d/speaker", "d/phonetic"} and spk["trials"]["p_target"] == 0.05
    assert cli_main(["evaluate", "probes", "--data", str(setup.data), "--model", f"b={setup.baseline}",
                     "--out", str(out)]) == 0
    probes = json.loads((out / "probes.json").read_text())["probes"]
    assert {(r["target"], r["from"]) for r in probes} == {("speaker", "embedding"), ("word", "embedding")}
    capsys.readouterr()
    assert cli_main(["evaluate", "std", "--data", str(setup.data), "--model", f"b={tmp_path / 'none'}",
                     "--out", str(out)]) == 1
    assert "no such directory" in capsys.readouterr().err
    assert cli_main(["evaluate", "report", str(tmp_path / "nothing")]) == 1
