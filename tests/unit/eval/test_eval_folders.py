"""`evaluate std` in one step: a data dir without feats.scp, and plain folders of audio (--archive/--queries
with labels from file names, folder names or a TSV), through the data-dir machinery."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechdis.cli import main as cli_main
from speechdis.data.datadir import DataDir
from speechdis.errors import AudioError, ConfigError, DataDirError
from speechdis.eval.folders import SKIPPED_FILES, folder_data_dir
from tests.helpers import CLIP_SR, clip_wave, concatenated_clips_data_dir, untrained_speech_model

WORDS = ("up", "down", "warble")
GAP = 0.2  # seconds of near-silence around each clip file's word


def _clip_file(path: Path, word: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    quiet = lambda: 0.003 * rng.standard_normal(int(GAP * CLIP_SR))  # noqa: E731
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.concatenate([quiet(), clip_wave(word, rng), quiet()]).astype(np.float32), CLIP_SR)
    return path


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """queries/: one file per word (word_q.wav); archive/: three per word (word_N.wav)."""
    q, a = tmp_path / "queries", tmp_path / "archive"
    for k, w in enumerate(WORDS):
        _clip_file(q / f"{w}_q.wav", w, 100 + k)
        for n in range(3):
            _clip_file(a / f"{w}_{n}.wav", w, 10 * k + n)
    return q, a


def _std(out: Path) -> dict:
    return json.loads((out / "std.json").read_text())


def test_folder_mode_searches_the_archive_for_the_query_files(folders, tmp_path, capsys):
    q, a = folders
    model = untrained_speech_model(tmp_path / "m.pt")
    out = tmp_path / "out"
    assert cli_main(["evaluate", "std", "--archive", str(a), "--queries", str(q), "--model", f"m={model}",
                     "--dtw", "--dtw-budget", "0", "--trim", "--out", str(out)]) == 0
    res = _std(out)
    d = res["data"]
    assert (d["queries"], d["archive_segments"], d["query_files"], d["archive_files"]) == (3, 9, 3, 9)
    assert d["queries_without_match"] == 0 and d["labels"].startswith("filename")
    seg = res["segment_qbe"]
    # Queries are searched in the archive only: 3 x 9 DTW pairs, never query against query.
    assert seg["DTW"]["pairs_total"] == 27 and seg["DTW"]["complete"]
    assert seg["DTW"]["MAP"] > 0.9  # the three sounds are far apart for frame DTW
    assert seg["m"]["n_queries"] == 3 and seg["mfcc-stats"]["n_queries"] == 3
    assert res["same_different"]["m"]["n_pairs"] == 12 * 11 // 2  # over every labelled segment
    # The words are the files' energy-trimmed spans (--trim), inside the GAP of near-silence around them.
    built = DataDir.load(out / "data")
    assert len(built.word_segments) == 12 and {s.word for s in built.word_segments} == set(WORDS)
    for s in built.word_segments:
        assert GAP - 0.1 < s.start < GAP + 0.15 and GAP + 0.25 < s.end < GAP + 0.5, s
    assert (out / "data" / "feats.scp").is_file()  # the model's features, kept with the data dir


def test_one_folder_is_queries_and_archive_and_whole_files_without_trim(folders, tmp_path):
    _, a = folders
    out = tmp_path / "out"
    assert cli_main(["evaluate", "std", "--archive", str(a), "--queries", str(a), "--dtw", "--out", str(out)]) == 0
    res = _std(out)
    # As in a data dir: every file a query, the query itself left out of its ranking.
    assert res["data"]["queries"] == 9 and "archive_segments" not in res["data"]
    assert res["segment_qbe"]["DTW"]["pairs_total"] == 81
    dur = 2 * GAP + 0.4
    assert all(s.start == 0 and abs(s.end - dur) < 1e-3 for s in DataDir.load(out / "data").word_segments)


def test_labels_from_folders_a_regex_and_a_tsv_with_times(tmp_path):
    root = tmp_path / "sc"
    _clip_file(root / "up" / "spk1_nohash_0.wav", "up", 1)
    _clip_file(root / "down" / "spk2_nohash_0.wav", "down", 2)
    fd = folder_data_dir(root, tmp_path / "d1", labels="folder")
    assert sorted(s.word for s in DataDir.load(fd.data_dir).word_segments) == ["down", "up"]
    fd = folder_data_dir(root, tmp_path / "d2", labels="folder",
                         label_regex=r"(?P<word>[^/]+)/(?P<speaker>[^_]+)_nohash")
    d = DataDir.load(fd.data_dir)
    assert sorted(d.utt2spk.values()) == ["spk1", "spk2"]
    assert all(u.startswith(spk) for u, spk in d.utt2spk.items())  # Kaldi order: speaker-prefixed ids

    # A long archive file with words at known times, and whole-file queries, labelled by one TSV.
    rng = np.random.default_rng(0)
    long = tmp_path / "arch" / "long.wav"
    long.parent.mkdir()
    sf.write(str(long), np.concatenate([0.003 * rng.standard_normal(CLIP_SR), clip_wave("up", rng),
                                        clip_wave("down", rng)]).astype(np.float32), CLIP_SR)
    q = _clip_file(tmp_path / "qs" / "a.wav", "up", 5)
    tsv = tmp_path / "labels.tsv"
    tsv.write_text(f"# path word start end\nlong.wav\tup\t1.0\t1.4\n{long}\tdown\t1.4\t1.8\tbob\n{q.name}\tup\n")
    fd = folder_data_dir(tmp_path / "arch", tmp_path / "d3", queries=tmp_path / "qs", labels=str(tsv))
    d = DataDir.load(fd.data_dir)
    segs = {(s.word, s.start, s.end) for s in d.word_segments}
    assert segs == {("up", 1.0, 1.4), ("down", 1.4, 1.8), ("up", 0.0, round(2 * GAP + 0.4, 4))}
    assert fd.query_utts == {u for u in d.utt2spk if u.startswith("q-")} and len(fd.query_utts) == 1
    assert d.text[next(u for u in d.utt2spk if u != next(iter(fd.query_utts)))] == "up down"


def test_bad_folder_input_gives_one_line_errors(folders, tmp_path):
    q, a = folders
    out = tmp_path / "d"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AudioError, match=r"empty: no audio files .*--archive"):
        folder_data_dir(empty, out)
    with pytest.raises(ConfigError, match="not a regular expression"):
        folder_data_dir(a, out, label_regex="(unclosed")
    with pytest.raises(ConfigError, match="needs a group"):
        folder_data_dir(a, out, label_regex="up")
    # --labels folder: files directly in the folder have no folder name.
    with pytest.raises(DataDirError, match=r"down_0.wav: unlabelled \(--labels folder gives no word for "
                                           r".down_0.\); .*--skip-unlabelled"):
        folder_data_dir(a, out, labels="folder")
    _clip_file(a / "up" / "x.wav", "up", 7)
    fd = folder_data_dir(a, out, labels="folder", skip_unlabelled=True)
    assert len(fd.skipped) == 9 and fd.describe()["skipped_files"].startswith("9 ")
    assert len((out / SKIPPED_FILES).read_text().splitlines()) == 9
    tsv = tmp_path / "labels.tsv"
    tsv.write_text("up_0.wav\tup\nnothere.wav\tup\n")
    with pytest.raises(DataDirError, match=r"labels.tsv:2: nothere.wav: no such audio file"):
        folder_data_dir(a, out, labels=str(tsv))
    tsv.write_text("up_0.wav\tup\nup_0.wav\tup\t0\t0.3\n")
    with pytest.raises(DataDirError, match=r"labels.tsv:2: .*whole-file label"):
        folder_data_dir(a, out, labels=str(tsv))
    tsv.write_text("up_0.wav\tup\t0.5\t9\n")
    with pytest.raises(DataDirError, match=r"labels.tsv:1: end 9 s is past the end"):
        folder_data_dir(a, out, labels=str(tsv), skip_unlabelled=True)
    tsv.write_text("up_0.wav\tup\n")
    with pytest.raises(DataDirError, match=r"down_0.wav: unlabelled \(not in .*labels.tsv\)"):
        folder_data_dir(a, out, labels=str(tsv))
    with pytest.raises(DataDirError, match="in both --queries"):
        folder_data_dir(a, out, queries=a / "up")
    with pytest.raises(DataDirError, match="no such labels file"):
        folder_data_dir(a, out, labels="fielname")


def test_cli_refuses_mixed_or_missing_sources(folders, tmp_path, capsys):
    q, a = folders
    assert cli_main(["evaluate", "std", "--out", str(tmp_path / "o")]) == 1
    assert "give --data DATA_DIR, or --archive DIR" in capsys.readouterr().err
    assert cli_main(["evaluate", "std", "--data", str(a), "--archive", str(a), "--out", str(tmp_path / "o")]) == 1
    assert "not both" in capsys.readouterr().err
    assert cli_main(["evaluate", "std", "--data", str(a), "--queries", str(q), "--out", str(tmp_path / "o")]) == 1
    assert "--queries needs --archive" in capsys.readouterr().err


def test_data_dir_without_features_is_evaluated_in_one_step(tmp_path, capsys):
    d, _ = concatenated_clips_data_dir(tmp_path / "one", features=False)
    model = untrained_speech_model(tmp_path / "m.pt", cmvn="none")  # normalises inside, as the packaged ones
    out = tmp_path / "out"
    args = ["evaluate", "std", "--data", str(d), "--model", f"m={model}", "--dtw", "--out", str(out)]
    assert cli_main(args) == 0
    one = _std(out)
    assert "model's front end" in one["data"]["features"] and (out / "data" / "feats.scp").is_file()
    assert not (d / "feats.scp").exists()  # the user's data dir is left as it was
    assert "differ from the model's" not in capsys.readouterr().err  # the model reads the features made for it
    assert cli_main(args) == 0
    assert "reused" in capsys.readouterr().err
    # The same DTW as two steps with the recipes' per-utterance CMVN (features first, then evaluate).
    two, _ = concatenated_clips_data_dir(tmp_path / "two")
    assert cli_main(["evaluate", "std", "--data", str(two), "--model", f"m={model}", "--dtw",
                     "--out", str(tmp_path / "out2")]) == 0
    ref = _std(tmp_path / "out2")
    for table in ("segment_qbe", "same_different"):
        for system in ("DTW", "mfcc-stats", "m"):
            got, want = one[table][system], ref[table][system]
            key = "MAP" if table == "segment_qbe" else "AP"
            assert got[key] == pytest.approx(want[key], abs=1e-9), (table, system)


@pytest.mark.slow  # ~8 s: speaker trials, probes and their figures
def test_evaluate_all_computes_missing_features(tmp_path):
    d, _ = concatenated_clips_data_dir(tmp_path / "one", features=False)
    model = untrained_speech_model(tmp_path / "m.pt", cmvn="none")
    out = tmp_path / "out"
    assert cli_main(["evaluate", "all", "--data", str(d), "--model", f"m={model}", "--no-plots",
                     "--no-outside-systems", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "model's front end" in summary["data"]["features"]
    assert {r["system"] for r in summary["final"]} >= {"DTW", "mfcc-stats", "m"}


def test_folder_mode_detection_in_long_files_labelled_by_a_tsv(tmp_path):
    """--atwv over long archive files whose words a TSV times; the query files are not searched."""
    from tests.helpers import CLIP_GAP, CLIP_UTTS

    rng = np.random.default_rng(0)
    arch, lines = tmp_path / "arch", []
    arch.mkdir()
    for utt, words in CLIP_UTTS.items():
        parts, t = [], 0.0
        for w in words:
            parts += [0.003 * rng.standard_normal(int(CLIP_GAP * CLIP_SR)), clip_wave(w, rng)]
            lines.append(f"{utt}.wav\t{w}\t{t + CLIP_GAP:.3f}\t{t + CLIP_GAP + 0.4:.3f}")
            t += CLIP_GAP + 0.4
        parts.append(0.003 * rng.standard_normal(int(CLIP_GAP * CLIP_SR)))
        sf.write(str(arch / f"{utt}.wav"), np.concatenate(parts).astype(np.float32), CLIP_SR)
    for k, w in enumerate(WORDS):
        lines.append(f"{_clip_file(tmp_path / 'q' / f'{w}.wav', w, 50 + k).name}\t{w}")
    (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    model = untrained_speech_model(tmp_path / "m.pt")
    assert cli_main(["evaluate", "std", "--archive", str(arch), "--queries", str(tmp_path / "q"),
                     "--labels", str(tmp_path / "labels.tsv"), "--model", f"m={model}", "--dtw", "--atwv",
                     "--window", "0.4", "--out", str(out)]) == 0
    kws = json.loads((out / "kws.json").read_text())
    n_words = sum(map(len, CLIP_UTTS.values()))
    assert kws["terms"] == 3 and kws["examples"] == 3
    dtw = kws["systems"]["DTW"]
    assert dtw["occurrences"] == n_words and dtw["MTWV"] > 0.9 and "m" in kws["systems"]
    for system in ("DTW", "m"):  # only the archive files are searched (utterance ids a-...), never the queries
        rows = [r.split("\t") for r in (out / f"detections_{system}.tsv").read_text().splitlines()[1:]]
        assert rows and all(r[1].startswith("a-") for r in rows)
    assert _std(out)["utterance_qbe"]["m"]["n_queries"] == 3
