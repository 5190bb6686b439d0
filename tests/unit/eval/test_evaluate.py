"""`speechdis evaluate`: metric plumbing with oracle vectors, DTW budgets, every report file, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

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
from tests.helpers import tiny_setup


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
    std = run_std(data, [oracle, noise], StdOptions(dtw=True, dtw_budget=None, seed=1, max_queries_per_word=1,
                                                         max_same_diff=80))
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
    # Same-different: DTW ranks the pairs the models rank (every pair once), not only those of its query rows.
    n_pairs = 80 * 79 // 2
    assert std["same_different"]["DTW"]["n_pairs"] == std["same_different"]["oracle"]["n_pairs"] == n_pairs
    assert std["same_different"]["DTW"]["complete"] and "dtw_note" not in std.to_dict()

    spk = run_speaker(data, [oracle], tmp_path, n_trials=500)
    assert spk["verification"]["oracle/speaker"]["EER"] == pytest.approx(0.0)
    assert spk["verification"]["oracle/phonetic"]["EER"] > 0.3  # words say nothing about speakers here
    assert (tmp_path / "det_speaker.png").stat().st_size > 1000

    probes = {(r["target"], r["from"]): r for r in run_probes(data, [oracle])["probes"]}
    assert probes[("speaker", "speaker")]["accuracy"] == pytest.approx(1.0)
    assert probes[("word", "phonetic")]["accuracy"] == pytest.approx(1.0)
    assert probes[("speaker", "phonetic")]["accuracy"] < 0.6
    table = final_table(std, spk, run_probes(data, [oracle]), [oracle])
    assert [r["system"] for r in table][:2] == ["DTW", "oracle"] and list(table[0]) == FINAL_COLUMNS


def _dtw_rows(std) -> tuple:
    return (std["segment_qbe"]["DTW"], std["segment_qbe_cross_speaker"]["DTW"], std["same_different"]["DTW"])


def _without_times(row: dict, drop: tuple = ("search_seconds",)) -> dict:
    return {k: v for k, v in row.items() if k not in drop}


def test_dtw_pair_cap_is_a_seeded_sample_that_compares_like_for_like(data):
    cap = 3 * len(data) + 5
    rng = np.random.default_rng(0)
    noise = ModelVectors("noise", "baseline", "-", Path("."), {"embedding": rng.standard_normal((len(data), 8))},
                         0.0, {"phonetic": "embedding", "speaker": "embedding"})
    runs = [run_std(data, [_oracle(data), noise], StdOptions(dtw=True, dtw_max_pairs=cap, seed=s)) for s in (0, 0, 1)]
    seg, cross, sd = _dtw_rows(runs[0])
    assert not seg["complete"] and seg["sampled"] and not seg["time_cut"]
    assert seg["pairs_computed"] == 3 * len(data) <= cap and seg["n_queries"] == seg["queries_sampled"] == 3
    n_seg = sd["segments"]
    assert sd["n_pairs"] == n_seg * (n_seg - 1) // 2 <= cap < (n_seg + 1) * n_seg // 2 and sd["sampled"]
    assert sd["pairs_computed"] + sd["pairs_reused"] == sd["n_pairs"] and not sd["time_cut"]
    # The other systems on the same queries and pairs: the oracle is perfect on them too.
    assert runs[0]["segment_qbe"]["oracle"]["MAP_dtw_queries"] == pytest.approx(1.0)
    assert runs[0]["same_different"]["oracle"]["AP_dtw_pairs"] == pytest.approx(1.0)
    assert "--dtw-max-pairs" in runs[0].to_dict()["dtw_note"] and "STOPPED" not in runs[0].dtw_note
    # The same seed: identical rows (times aside); another seed: another sample.
    assert [_without_times(r) for r in _dtw_rows(runs[0])] == [_without_times(r) for r in _dtw_rows(runs[1])]
    assert runs[0]["same_different"]["noise"] == runs[1]["same_different"]["noise"]
    other = runs[2]
    assert (seg["MAP"], sd["AP"], runs[0]["same_different"]["noise"]["AP_dtw_pairs"]) != \
        (other["segment_qbe"]["DTW"]["MAP"], other["same_different"]["DTW"]["AP"],
         other["same_different"]["noise"]["AP_dtw_pairs"])


def test_dtw_pair_cap_above_the_task_changes_nothing(data):
    opts = {"dtw": True, "max_queries_per_word": 1, "min_occurrences": 4, "max_same_diff": 60}
    full = run_std(data, [], StdOptions(**opts))
    seg, _, sd = _dtw_rows(full)
    assert seg["complete"] and sd["complete"] and not seg["sampled"] and full.dtw_note is None
    capped = run_std(data, [], StdOptions(**opts, dtw_max_pairs=max(seg["pairs_total"], sd["pairs_total"])))
    drop = ("search_seconds", "max_pairs")
    assert [_without_times(r, drop) for r in _dtw_rows(capped)] == [_without_times(r, drop) for r in _dtw_rows(full)]
    assert sd["n_pairs"] == 60 * 59 // 2  # every pair of the models' same-different segments


def test_a_time_budget_cut_is_reported(data):
    std = run_std(data, [_oracle(data)], StdOptions(dtw=True, dtw_budget=1e-9))
    seg, _, sd = _dtw_rows(std)
    assert seg["time_cut"] and seg["n_queries"] == 0 and sd["time_cut"] and sd["n_pairs"] == 0
    assert "STOPPED" in std.dtw_note and "0 of" in std.dtw_note


def test_run_all_draws_its_tsne_plots_with_the_seed(setup, tmp_path, monkeypatch):
    import dataclasses

    import speechdis.eval.plots
    from speechdis.eval.config import EVAL_DEFAULTS
    from speechdis.eval.runner import run_all

    seeds = []

    def tsne_png(x, labels, path, *, seed, **kw):
        seeds.append(seed)
        return Path(path)

    monkeypatch.setattr(speechdis.eval.plots, "tsne_png", tsne_png)

    def mean_vec(feats):
        return {"embedding": np.stack([f.mean(0) for f in feats])}

    config = dataclasses.replace(EVAL_DEFAULTS, seed=3, trials=50)
    run_all(setup.data, [("f", mean_vec)], tmp_path, config, mfcc_stats=False)
    assert seeds == [3, 3]  # the embedding by speaker and by word


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
    n_rows = 2000 // std["data"]["segments"]  # whole archive rows within the cap
    assert seg["DTW"]["pairs_computed"] == n_rows * std["data"]["segments"] and not seg["DTW"]["complete"]
    assert std["same_different"]["DTW"]["n_pairs"] <= 2000 and "--dtw-max-pairs 2000" in std["dtw_note"]
    assert "AP_dtw_pairs" in std["same_different"]["dis"]
    assert 0 <= seg["dis"]["MAP"] <= 1 and "MAP_dtw_queries" in seg["dis"] and seg["dis"]["embed_seconds"] > 0
    assert 0 <= std["utterance_qbe"]["dis"]["MAP"] <= 1
    assert set(std["same_different"]) == {"DTW", "mfcc-stats", "dis"}  # both trivial baselines, by default
    assert set(std["segment_qbe_cross_speaker"]) == {"DTW", "mfcc-stats", "dis"} and "| mfcc-stats" in printed


def test_evaluate_subcommands_and_errors(setup, tmp_path, capsys):
    out = tmp_path / "e"
    assert cli_main(["evaluate", "speaker", "--data", str(setup.data), "--model", f"d={setup.disentangled}",
                     "--out", str(out), "--trials", "300", "--p-target", "0.05"]) == 0
    spk = json.loads((out / "speaker.json").read_text())
    assert set(spk["verification"]) == {"mfcc-stats/embedding", "d/speaker", "d/phonetic"}
    assert spk["trials"]["p_target"] == 0.05
    assert cli_main(["evaluate", "probes", "--data", str(setup.data), "--model", f"b={setup.baseline}",
                     "--out", str(out), "--no-mfcc-stats"]) == 0
    probes = json.loads((out / "probes.json").read_text())["probes"]
    assert {(r["model"], r["target"], r["from"]) for r in probes} == {("b", "speaker", "embedding"),
                                                                    ("b", "word", "embedding")}
    capsys.readouterr()
    assert cli_main(["evaluate", "std", "--data", str(setup.data), "--model", f"b={tmp_path / 'none'}",
                     "--out", str(out)]) == 1
    assert "no such directory" in capsys.readouterr().err
    assert cli_main(["evaluate", "report", str(tmp_path / "nothing")]) == 1


# ---------------------------------------------------------------------------------- baselines, embedders
def test_mfcc_stats_known_vectors():
    from speechdis.eval.systems import mfcc_stats_vectors, segment_stats, standardise

    feats = [np.array([[0.0], [2.0]]), np.array([[1.0], [1.0], [1.0]]), np.array([[4.0], [6.0]])]
    np.testing.assert_allclose(segment_stats(feats), [[1, 1], [1, 0], [5, 1]])
    want = np.array([[(1 - 7 / 3) / np.sqrt(32 / 9), (1 - 2 / 3) / np.sqrt(2 / 9)],
                     [(1 - 7 / 3) / np.sqrt(32 / 9), (0 - 2 / 3) / np.sqrt(2 / 9)],
                     [(5 - 7 / 3) / np.sqrt(32 / 9), (1 - 2 / 3) / np.sqrt(2 / 9)]])
    np.testing.assert_allclose(mfcc_stats_vectors(feats), want, rtol=1e-6)
    np.testing.assert_allclose(standardise(np.array([[1.0, 3.0], [2.0, 3.0]])), [[-1, 0], [1, 0]])  # constant: 0


def test_mfcc_stats_system_uses_features_without_cmvn(setup, data):
    from speechdis.data.featjobs import FeatsReader
    from speechdis.data.segments import data_dir_segments
    from speechdis.eval.runner import embed_models

    reader = FeatsReader(setup.data)
    assert reader.cmvn != "none"  # the data dir's features are normalised; the baseline must not be
    segs, _, _ = data_dir_segments(setup.data, min_frames=5)
    raw = [reader.raw(s.utt)[s.start_frame:s.end_frame] for s in segs]
    (mv,) = embed_models([], data, mfcc_stats=True)
    assert mv.name == mv.kind == "mfcc-stats" and mv.roles == {"phonetic": "embedding", "speaker": "embedding"}
    x = np.concatenate([np.stack([r.mean(0) for r in raw]), np.stack([r.std(0) for r in raw])], axis=1)
    np.testing.assert_allclose(mv.vectors["embedding"], (x - x.mean(0)) / x.std(0), rtol=1e-4, atol=1e-4)
    assert not np.allclose(x, np.concatenate([np.stack([f.mean(0) for f in data.feats]),
                                              np.stack([f.std(0) for f in data.feats])], axis=1))


def _hand_data() -> "EvalData":  # noqa: F821 - imported inside
    """Four one-segment utterances: words A A A B, speakers s1 s1 s2 s2 (see the cross-speaker test)."""
    from speechdis.audio.features import FeatureConfig
    from speechdis.eval.runner import EvalData

    vecs = np.array([[1.0, 0.0], [1.0, 0.05], [0.0, 1.0], [1.0, 0.5]])
    return EvalData(data_dir=Path("."), seg_ids=["a", "b", "c", "d"], utts=["u0", "u1", "u2", "u3"],
                    words=["A", "A", "A", "B"], speakers=["s1", "s1", "s2", "s2"], spans=[(0.0, 0.1)] * 4,
                    feats=[np.repeat(v[None, :], 5, axis=0) for v in vecs], feature_config=FeatureConfig(),
                    utt_words={"u0": {"A"}, "u1": {"A"}, "u2": {"A"}, "u3": {"B"}})


def test_cross_speaker_qbe_restricts_the_archive_to_other_speakers():
    data = _hand_data()
    vecs = np.stack([f[0] for f in data.feats])
    m = ModelVectors("m", "python", "-", None, {"embedding": vecs}, 0.0,
                     {"phonetic": "embedding", "speaker": "embedding"})
    std = run_std(data, [m], StdOptions(dtw=True, dtw_budget=None))
    # Queries a, b, c (word A). Plain: a and b find their same-speaker twin first, then B, then c
    # (AP 5/6 each); c ranks d (B) above b and a (AP 7/12): MAP 3/4. Other speakers only: a and b rank
    # d then c (AP 1/2); c sees only a and b, both relevant (AP 1): MAP 2/3.
    for system in ("m", "DTW"):
        assert std["segment_qbe"][system]["MAP"] == pytest.approx(0.75)
        assert std["segment_qbe_cross_speaker"][system]["MAP"] == pytest.approx(2 / 3)
        assert std["segment_qbe_cross_speaker"][system]["n_queries"] == 3
    table = final_table(std, None, None, [m])
    assert [(r["system"], r["x-spk MAP"]) for r in table] == [("DTW", pytest.approx(2 / 3)),
                                                             ("m", pytest.approx(2 / 3))]


def test_npz_and_callable_embedders(data, tmp_path, capsys, setup):
    from speechdis.errors import DataDirError
    from speechdis.eval.runner import embed_models

    oracle = _oracle(data)
    order = np.random.default_rng(0).permutation(len(data))  # rows in another order than the data dir's
    path = tmp_path / "vecs.npz"
    np.savez(path, ids=np.array(data.seg_ids)[order], phonetic=oracle.vectors["phonetic"][order],
             speaker=oracle.vectors["speaker"][order])
    (mv,) = embed_models([("n", path)], data)
    np.testing.assert_array_equal(mv.vectors["phonetic"], oracle.vectors["phonetic"])
    assert mv.roles == {"phonetic": "phonetic", "speaker": "speaker"} and mv.exp_dir is None
    assert run_std(data, [mv])["segment_qbe"]["n"]["MAP"] == pytest.approx(1.0)
    # Missing segments are named.
    part = tmp_path / "part.npz"
    np.savez(part, ids=np.array(data.seg_ids[2:]), embedding=oracle.vectors["phonetic"][2:])
    with pytest.raises(DataDirError, match=f"2 of the {len(data)} evaluation segments: {data.seg_ids[0]}, "
                                           f"{data.seg_ids[1]}"):
        embed_models([("p", part)], data)
    # A callable on feature matrices, and an object with embed_features.
    def mean_vec(feats):
        return {"embedding": np.stack([f.mean(0) for f in feats])}

    class Obj:
        def embed_features(self, feats):
            return {"phonetic": np.stack([f.mean(0) for f in feats]), "speaker": np.stack([f.std(0) for f in feats])}

    a, b = embed_models([("f", mean_vec), ("o", Obj())], data)
    np.testing.assert_allclose(a.vectors["embedding"], np.stack([f.mean(0) for f in data.feats]), rtol=1e-6)
    assert a.kind == "python" and b.roles == {"phonetic": "phonetic", "speaker": "speaker"}
    with pytest.raises(ConfigError, match="expected"):
        embed_models([("bad", lambda feats: {"x": np.zeros((3, 2))})], data)
    with pytest.raises(ConfigError, match="reserved"):
        parse_model_specs(["mfcc-stats=x"])
    # The CLI takes an npz like an experiment, and names what an npz lacks.
    out = tmp_path / "e"
    assert cli_main(["evaluate", "speaker", "--data", str(setup.data), "--model", f"n={path}", "--out", str(out),
                     "--trials", "300"]) == 0
    spk = json.loads((out / "speaker.json").read_text())["verification"]
    assert spk["n/speaker"]["EER"] == pytest.approx(0.0) and "mfcc-stats/embedding" in spk
    capsys.readouterr()
    assert cli_main(["evaluate", "probes", "--data", str(setup.data), "--model", f"p={part}", "--out", str(out)]) == 1
    assert data.seg_ids[0] in capsys.readouterr().err


def test_final_tables_fit_120_columns_in_percent():
    """Issue 23: one final table was ~250 characters wide with EER as 0.0740; now two tables, percentages."""
    from speechdis.eval.table import FINAL_COLUMNS, format_final_tables

    def row(**kw):
        return {c: kw.get(c) for c in FINAL_COLUMNS}

    rows = [row(system="DTW", queries=1234, MAP=0.3521, **{"P@10": 0.41, "x-spk MAP": 0.2, "x-spk P@10": 0.3,
                                                           "same-diff AP": 0.25, "search s": 321.5}),
            row(system="disentangled_seed0", queries=1234, MAP=0.372, EER=0.074, **{
                "P@10": 0.5, "x-spk MAP": 0.31, "x-spk P@10": 0.4, "same-diff AP": 0.3, "search s": 0.0004,
                "embed s": 12.3, "spk probe (phon/emb)": 0.287, "spk probe (spk)": 0.9, "word probe (phon)": 0.8}),
            row(system="resemblyzer", EER=0.182, **{"spk probe (phon/emb)": 0.95, "embed s": 40.0}),
            row(system="chance", **{"spk probe (phon/emb)": 0.04, "spk probe (spk)": 0.04, "word probe (phon)": 0.03}),
            row(system="disentangled_seed0 (phonetic as speaker)", EER=0.5)]
    text = format_final_tables(rows)
    assert max(len(line) for line in text.splitlines()) <= 120, text
    std, spk = text.split("\n\n")
    assert "| 7.4 " in spk and "| 37.2 " in std and "0.0740" not in text and "e-04" not in text
    assert "chance" not in std and "resemblyzer" not in std and "resemblyzer" in spk and "DTW" not in spk
