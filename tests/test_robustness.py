"""Reliability cases of issue 10: no silent corruption, no unsafe loading, no orphans, one-line errors."""
from __future__ import annotations

import numpy as np
import pytest

from speechdis.config import from_dict
from speechdis.errors import ConfigError
from speechdis.training.config import TrainConfig


# ---------------------------------------------------------------- 3, 13: config values that pass types but not sense
@pytest.mark.parametrize("section,key,value,match", [
    ("train", "steps", -5, r"train\.steps must be ≥ 1, got -5"),
    ("train", "steps", 0, r"train\.steps must be ≥ 1, got 0"),
    ("train", "ckpt_every", 0, r"train\.ckpt_every must be ≥ 1"),
    ("train", "log_every", 0, r"train\.log_every must be ≥ 1"),
    ("train", "valid_every", 0, r"train\.valid_every must be ≥ 1"),
    ("data", "crop_frames", 0, r"data\.crop_frames must be ≥ 1"),
    ("data", "crop_frames", -3, r"data\.crop_frames must be ≥ 1"),
    ("data", "speakers_per_batch", 0, r"data\.speakers_per_batch must be ≥ 1"),
    ("optim", "lr", -0.1, r"optim\.lr must be > 0"),
    ("model", "kind", "images", r"model\.kind is 'images'; allowed: disentangled, baseline"),
    ("model", "rnn", "transformer", r"model\.rnn is 'transformer'; allowed: gru, lstm"),
    ("model", "hidden", 0, r"model\.hidden must be ≥ 1"),
])
def test_config_values_that_would_crash_later_are_config_errors(section, key, value, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(TrainConfig, {section: {key: value}})


def test_train_cli_rejects_zero_steps_in_one_line(tmp_path, capsys):
    from speechdis.cli import main

    rc = main(["train", "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "exp"),
               "--set", "train.steps=0"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "train.steps must be ≥ 1, got 0" in err
    assert not (tmp_path / "exp" / "model.pt").exists()


# ------------------------------------------------------------------------------------------ feature jobs
def _wav_dir(tmp_path, n=4, missing=()):
    from speechdis.data.datadir import DataDir
    from tests.conftest import write_wave

    audio, data = tmp_path / "audio", tmp_path / "data" / "d"
    entries = {}
    for k in range(n):
        utt = f"s{k % 2}-u{k}"
        p = audio / f"{utt}.wav"
        if utt not in missing:
            write_wave(p, 0.4, freq=200.0 + 50 * k, seed=k)
        entries[utt] = str(p)
    DataDir(utt2spk={u: u.split("-")[0] for u in entries}, wav_scp=entries).save(data)
    return data, entries


def test_interrupted_rerun_with_new_config_leaves_no_mixed_index(tmp_path, monkeypatch):
    """1: a rerun with another config, killed after job 1, must not leave the old feats.scp/config."""
    from speechdis.audio.features import FeatureConfig
    from speechdis.data import featjobs
    from speechdis.errors import DataDirError

    data, _ = _wav_dir(tmp_path)
    featjobs.make_features(data, FeatureConfig(), nj=2)
    assert (data / "feats.scp").exists()

    def killed_after_job_1(pending, results, progress):
        results[pending[0].index] = featjobs._run_job(pending[0], progress)
        raise KeyboardInterrupt  # the kill, after job 1 rewrote its ark

    monkeypatch.setattr(featjobs, "_run_parallel", killed_after_job_1)
    with pytest.raises(KeyboardInterrupt):
        featjobs.make_features(data, FeatureConfig(window="hamming"), nj=2)
    assert not (data / "feats.scp").exists() and not (data / "conf" / "feats.yaml").exists()
    with pytest.raises(DataDirError, match="run 'speechdis features"):
        featjobs.FeatsReader(data)
    monkeypatch.undo()
    rep = featjobs.make_features(data, FeatureConfig(window="hamming"), nj=2)
    assert rep.jobs_resumed == [1] and rep.jobs_run == [2] and rep.done == 4
    assert featjobs.FeatsReader(data).config.window == "hamming"


def test_skips_do_not_outlive_their_cause(tmp_path):
    """5: a file missing at the first run is used once restored, without --force."""
    from speechdis.data.featjobs import make_features
    from tests.conftest import write_wave

    data, entries = _wav_dir(tmp_path, missing=("s1-u3",))
    rep = make_features(data, nj=2)
    assert list(rep.skipped) == ["s1-u3"] and rep.done == 3
    rep = make_features(data, nj=2)  # nothing changed: the skip stands, nothing redone
    assert list(rep.skipped) == ["s1-u3"] and rep.jobs_run == []
    write_wave(tmp_path / "audio" / "s1-u3.wav", 0.4)
    rep = make_features(data, nj=2)
    assert rep.skipped == {} and rep.done == 4 and rep.jobs_run == [2] and rep.jobs_resumed == [1]
    assert not (data / "feats_skipped.txt").exists()


def test_wav_entries_missing_from_utt2spk_are_reported(tmp_path):
    """8: wav.scp ids that utt2spk lacks are listed as skipped, not silently dropped."""
    from speechdis.data.featjobs import make_features

    data, _ = _wav_dir(tmp_path)
    lines = (data / "utt2spk").read_text().splitlines()
    (data / "utt2spk").write_text("\n".join(lines[:3]) + "\n")
    rep = make_features(data, nj=1)
    assert rep.utts == 4 and rep.done == 3
    assert "not in utt2spk" in rep.skipped["s1-u3"]
    assert "3/4 utterances" in rep.summary()
    assert "s1-u3" in (data / "feats_skipped.txt").read_text()


def test_stale_tmp_files_of_killed_writes_are_removed(tmp_path):
    """10 (features): temp files of killed writes are cleaned by the next run; others' files are kept."""
    from speechdis.data.featjobs import make_features

    data, _ = _wav_dir(tmp_path)
    feat_dir = data / "data"
    feat_dir.mkdir(parents=True)
    stale = [feat_dir / ".raw_mfcc_d.1.ark.k2j3h4.tmp", feat_dir / ".raw_fbank_d.2.stats.ark.abc.tmp",
             data / ".feats.scp.x1y2.tmp", data / ".cmvn.ark.zz.tmp"]
    other = feat_dir / ".raw_mfcc_other_d.1.ark.q.tmp"  # another data dir's write in progress
    for p in stale + [other]:
        p.write_bytes(b"x" * 100)
    make_features(data, nj=2)
    assert not any(p.exists() for p in stale) and other.exists()


_ORPHAN_SCRIPT = r"""
import os, sys, time
from speechdis.data import featjobs
real = featjobs._run_job
def slow(job, tick=None):
    with open(os.path.join(sys.argv[2], f"pid.{job.index}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    return real(job, tick)
featjobs._run_job = slow
featjobs.make_features(sys.argv[1], nj=2)
"""


def test_workers_die_with_a_killed_parent(tmp_path):
    """9: killing the parent of `features --nj 2` must not leave its workers running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    data, _ = _wav_dir(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(data), str(marks)])
    try:
        deadline = time.time() + 60
        while len(list(marks.glob("pid.*"))) < 2 and time.time() < deadline:
            time.sleep(0.1)
        pids = [int(p.read_text()) for p in marks.glob("pid.*")]
        assert len(pids) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)

        def alive(pid):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            # a zombie (exited, not yet reaped by init) counts as dead
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().split(")")[-1].split()[0] != "Z"
            except FileNotFoundError:
                return False

        deadline = time.time() + 10
        while any(alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in pids)
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in marks.glob("pid.*"):
            try:
                os.kill(int(p.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


# ------------------------------------------------------------------------------------------------ audio
def test_truncated_wav_is_an_audio_error(tmp_path):
    """7: a wav cut short (first third of its bytes) is reported, not embedded as a shorter file."""
    from speechdis.audio.io import audio_info, load_audio
    from speechdis.errors import AudioError
    from tests.conftest import write_wave

    full = write_wave(tmp_path / "full.wav", 3.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    assert load_audio(full).shape == (48000,)
    with pytest.raises(AudioError, match=r"cut\.wav: truncated wav file"):
        load_audio(cut)
    with pytest.raises(AudioError, match="truncated"):
        load_audio(cut, start=0.1, end=0.5)
    with pytest.raises(AudioError, match="truncated"):
        audio_info(cut)
    # a header of unknown length (as written to a pipe) is not taken for truncation
    data = bytearray(full.read_bytes())
    k = data.index(b"data")
    data[k + 4:k + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(bytes(data))
    assert load_audio(streamed).shape == (48000,)


# ----------------------------------------------------------------------------------------------- training
_TINY_TRAIN = {
    "model": {"hidden": 16, "layers": 1, "phonetic_dim": 8, "speaker_dim": 8, "embed_dim": 8,
              "decoder_hidden": 16, "decoder_layers": 1, "critic_hidden": [16]},
    "loss": {"pairs_per_batch": 8, "n_critic": 1},
    "data": {"speakers_per_batch": 4, "segments_per_speaker": 4, "crop_frames": 30, "valid_speakers": 2,
             "preload": True},
    "train": {"steps": 4, "log_every": 1, "valid_every": 1000, "ckpt_every": 2, "seed": 1, "device": "cpu"},
}


def _tcfg(**over):
    import copy

    data = copy.deepcopy(_TINY_TRAIN)
    for key, value in over.items():
        section, name = key.split("__")
        data[section][name] = value
    return from_dict(TrainConfig, data)


def test_resume_with_another_setup_is_refused_in_one_line(mini_data, tmp_path):
    """6: another adv_mode, model size or --data on --resume is refused (one line), unless forced."""
    import shutil

    from speechdis.errors import ModelError
    from speechdis.training.loop import train

    exp = tmp_path / "exp"
    train(_tcfg(), mini_data["train"], exp, stop_after=2)
    config_before = (exp / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"loss\.adv_mode: 'wgan' → 'grl'.*--force") as e:
        train(_tcfg(loss__adv_mode="grl"), mini_data["train"], exp, resume=True)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"model\.hidden: 16 → 32"):
        train(_tcfg(model__hidden=32), mini_data["train"], exp, resume=True)
    other = tmp_path / "other_train"
    shutil.copytree(mini_data["train"], other)
    with pytest.raises(ConfigError, match=r"--data: .*train → .*other_train"):
        train(_tcfg(), other, exp, resume=True)
    assert (exp / "config.yaml").read_text() == config_before  # not overwritten by a refused resume
    # forced with weights that cannot fit: still one line
    with pytest.raises(ModelError, match="does not fit this config") as e:
        train(_tcfg(model__hidden=32), mini_data["train"], exp, resume=True, force=True)
    assert "\n" not in str(e.value)
    # allowed changes: more steps, another logging cadence
    res = train(_tcfg(train__steps=5, train__log_every=2), mini_data["train"], exp, resume=True)
    assert res.steps == 5


def test_resume_survives_a_half_written_log_line_and_cleans_tmp_files(mini_data, tmp_path):
    """10 (checkpoints) and 14 (log): leftovers of a killed run do not break or litter the resume."""
    from speechdis.training.loop import train

    exp = tmp_path / "exp"
    train(_tcfg(), mini_data["train"], exp, stop_after=2)
    with open(exp / "train_log.jsonl", "a") as f:
        f.write('{"step": 3, "split": "tr')
    stale = [exp / "checkpoints" / ".ckpt-00000004.pt.ab12cd.tmp", exp / "checkpoints" / ".latest.pt.x9.tmp",
             exp / ".model.pt.q1.tmp"]
    for p in stale:
        p.write_bytes(b"\0" * 1000)
    res = train(_tcfg(), mini_data["train"], exp, resume=True)
    assert res.steps == 4 and not any(p.exists() for p in stale)
    import json

    recs = [json.loads(ln) for ln in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["split"] == "train"] == [1, 2, 3, 4]


def test_train_with_a_missing_data_dir_creates_nothing(tmp_path, capsys):
    from speechdis.cli import main

    rc = main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "exp")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "missing: no such data dir" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "exp").exists()


# ------------------------------------------------------------------------------------------ model files
class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("argv", [["image", "evaluate", "{dir}"],
                                  ["image", "train", "dann", "--out", "{out}", "--steps", "1", "--init", "{dir}"]])
def test_crafted_image_model_runs_no_code(tmp_path, capsys, argv):
    """2: a model.pt carrying a pickled callable is refused (weights_only) under image evaluate / train --init."""
    import torch

    from speechdis.cli import main

    model_dir, marker = tmp_path / "evil", tmp_path / "pwned"
    model_dir.mkdir()
    torch.save({"model": "dann", "config": {}, "seed": 0, "modules": {}, "extra": {"x": _Exploit(marker)}},
               model_dir / "model.pt")
    rc = main([a.format(dir=model_dir, out=tmp_path / "out") for a in argv])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and not marker.exists()
    assert len(err.splitlines()) == 1 and "refusing to load" in err


@pytest.mark.parametrize("content,match", [
    (b"", "is empty"),
    (b"101", "not a PyTorch model file"),
    (bytes(range(256)) * 40, "not a PyTorch model file"),
])
def test_corrupt_model_file_is_one_clear_line(tmp_path, capsys, content, match):
    """12: empty, text and random-byte model.pt files give one line naming the problem."""
    from speechdis.cli import main
    from speechdis.errors import ModelError
    from speechdis.training.checkpoint import load_checkpoint

    bad = tmp_path / "model.pt"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match=match) as e:
        load_checkpoint(bad)
    assert "\n" not in str(e.value) and "weights_only" not in str(e.value)
    wav = tmp_path / "a.wav"
    from tests.conftest import write_wave

    write_wave(wav, 0.5)
    rc = main(["extract", "--model", str(bad), str(wav), "--out", str(tmp_path / "e.npz"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and match in err


def test_extract_checks_out_before_the_work(tmp_path, capsys, monkeypatch):
    """11: an unwritable --out fails at once, in one line, before the model is even loaded."""
    from speechdis.cli import main
    from speechdis.inference import model as model_mod

    def no_load(*a, **k):
        raise AssertionError("loaded the model before checking --out")

    monkeypatch.setattr(model_mod, "load_model", no_load)
    rc = main(["extract", "--model", str(tmp_path), str(tmp_path), "--out", "/dev/null/x.npz", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "--out /dev/null/x.npz" in err


# ---------------------------------------------------------------------------------- segments and the audio
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import speechdis

    from test_extract_support import tiny_setup

    setup = tiny_setup(tmp_path_factory)
    return setup, speechdis.load_model(setup.baseline, device="cpu")


def test_segments_outside_the_audio_are_errors_not_last_frames(tiny_model, tmp_path, capsys):
    """4 and 14: a span past the end (or not finite) is refused, in the API and in extract."""
    import math

    from speechdis.cli import main
    from speechdis.data.datadir import DataDir
    from speechdis.errors import AudioError
    from tests.conftest import write_wave

    setup, model = tiny_model
    f = write_wave(tmp_path / "f.wav", 3.8)
    assert model.embed_file(f, segments=[(0.5, 1.0)])["embedding"].shape[0] == 1
    for span in [(10, 11), (3.7, 4.5), (0, math.inf), (-1, 0.5)]:
        with pytest.raises(AudioError, match="segment"):
            model.embed_file(f, segments=[span])
    # extract: a word segment past the end of its utterance is skipped with the reason, even at --min-frames 1
    d = DataDir.load(setup.data)
    utt = d.utts[0]
    ws = tmp_path / "ws"
    ws.write_text(f"good {utt} 0.10 0.40 A\nbad {utt} 10.0 11.0 B\n")
    out = tmp_path / "e.npz"
    rc = main(["extract", "--model", str(setup.baseline), d.wav_scp[utt], "--word-segments", str(ws),
               "--min-frames", "1", "--out", str(out), "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    from speechdis.inference.extract import load_embeddings

    assert load_embeddings(out).ids == ["good"]
    assert "not inside the audio" in cap.err


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


@pytest.mark.parametrize("edit", ["kind", "dims"])
def test_model_file_with_unfit_weights_is_one_line(tiny_model, tmp_path, capsys, edit):
    """12: model.pt whose weights are of the other model kind, or whose config dims were edited."""
    import torch

    from speechdis.cli import main
    from tests.conftest import write_wave

    setup, _ = tiny_model
    state = torch.load(setup.baseline / "model.pt", weights_only=True)
    if edit == "kind":
        state["config"]["model"]["kind"] = "disentangled"
        state["kind"] = "disentangled"
    else:
        state["config"]["model"]["hidden"] += 8
    bad = tmp_path / "model.pt"
    torch.save(state, bad)
    wav = write_wave(tmp_path / "a.wav", 0.5)
    rc = main(["extract", "--model", str(bad), str(wav), "--out", str(tmp_path / "e.npz"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "do not fit" in err, err


def test_embed_waveform_rejects_bad_rates_and_takes_channel_first_waves(tiny_model):
    """14: embed_waveform(w, 0) is an AudioError; a (2, N) wave is the same as its (N, 2) transpose."""
    from speechdis.errors import AudioError
    from tests.conftest import make_wave

    _, model = tiny_model
    w = make_wave(0.6, channels=2)  # (N, 2)
    for rate in (0, -16000, 16000.5):
        with pytest.raises(AudioError, match="sample_rate must be a positive integer"):
            model.embed_waveform(w[:, 0], rate)
    a = model.embed_waveform(w, 16000)["embedding"]
    b = model.embed_waveform(w.T.copy(), 16000)["embedding"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


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


# ------------------------------------------------------------------------------------------ 15: unclear cases
def test_same_stem_files_keep_both_with_distinct_ids_and_skip_lines_name_the_path_once(tiny_model, tmp_path,
                                                                                       capsys):
    from speechdis.cli import main
    from speechdis.inference.extract import load_embeddings
    from tests.conftest import write_wave

    setup, _ = tiny_model
    d = tmp_path / "in"
    write_wave(d / "s.wav", 0.6, freq=300.0)
    write_wave(d / "s.flac", 0.6, freq=500.0)
    write_wave(d / "t.wav", 0.6)
    (d / "bad.wav").write_bytes(b"RIFF not really a wave")
    out = tmp_path / "e.npz"
    rc = main(["extract", "--model", str(setup.baseline), str(d), "--out", str(out), "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert sorted(load_embeddings(out).ids) == ["s.flac", "s.wav", "t"]
    note = next(ln for ln in cap.err.splitlines() if "would share the id 's'" in ln)
    assert str(d / "s.wav") in note and str(d / "s.flac") in note and "rename one" in note
    bad = [ln for ln in cap.err.splitlines() if "bad.wav" in ln]
    assert bad and all(ln.count(str(d / "bad.wav")) == 1 for ln in bad), bad
    # The very same file twice cannot get two ids: one line naming it and how to resolve it.
    rc = main(["extract", "--model", str(setup.baseline), str(d / "t.wav"), str(d / "t.wav"),
               "--out", str(tmp_path / "f.npz"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "comes from two inputs" in err and "give each file once" in err


def test_word_segment_ending_before_its_start_is_invalid_with_id_and_line(tmp_path):
    from speechdis.data.tables import read_word_segments
    from speechdis.errors import DataDirError

    ws = tmp_path / "word_segments"
    ws.write_text("a_0 a 0.10 0.40 HI\na_1 a 0.50 0.30 THERE\n")
    with pytest.raises(DataDirError, match=r"word_segments:2: segment 'a_1' is invalid: end 0.30 is before "
                                           r"start 0.50"):
        read_word_segments(ws)


def test_set_typo_is_an_override_problem_not_the_config_files(tmp_path, capsys):
    from speechdis.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  steps: 5\n")
    for argv, blamed in [
        (["--set", "trian.steps=3"], "--set trian.steps=3: unknown config key 'trian'"),
        (["--set", "train.steps=3", "--set", "model.hiden=4"], "--set model.hiden=4: unknown config key 'model.hiden'"),
        (["--set", "model.hidden=0"], "--set model.hidden=0: "),
    ]:
        rc = main(["train", "--config", str(cfg), "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "x")]
                  + argv)
        err = capsys.readouterr().err.strip()
        assert rc != 0 and len(err.splitlines()) == 1 and blamed in err and str(cfg) not in err, err
    cfg.write_text("train:\n  stpes: 5\n")  # the file's own typo is still the file's
    rc = main(["train", "--config", str(cfg), "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "x"),
               "--set", "train.seed=1"])
    err = capsys.readouterr().err
    assert rc != 0 and f"{cfg}: unknown config key 'train.stpes'" in err and "--set" not in err
    rc = main(["features", str(tmp_path / "nodata"), "--set", "windw=hamming"])
    assert rc != 0 and "--set windw=hamming: unknown config key 'windw'" in capsys.readouterr().err


def test_no_internal_objects_in_messages(mini_data):
    from speechdis.data.segments import data_dir_segments
    from speechdis.errors import DataDirError

    with pytest.raises(DataDirError) as e:
        data_dir_segments(mini_data["test"], min_frames=10**6)
    msg = str(e.value)
    assert "SegmentFilterReport" not in msg and "(" in msg
    assert "0 used; skipped" in msg and "too short" in msg and "min_frames=1000000" in msg


# ------------------------------------------------------------------------------- 16: training dynamics, any seed
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_edit_by_optimisation_halves_the_user_loss_for_any_generator_seed(seed):
    """The editing test once asked a random generator for an arbitrary image: seeds 1-3 left 60-93 % of the
    loss. With a reachable target (G(z_true)) it ends below 6 % on seeds 0-11; 50 % keeps a wide margin."""
    import torch

    from speechdis.image.editing import edit_by_optimisation

    torch.manual_seed(seed)
    gen = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Sigmoid()).requires_grad_(False)
    target = gen(torch.tensor([[1.5, -1.0, 0.5, 0.0], [-0.5, 1.0, 0.0, 1.5]]))
    _, hist = edit_by_optimisation(gen, torch.zeros(2, 4), lambda img: (img - target).pow(2).mean(1),
                                   lambda_prior=0.001, steps=100, lr=0.1)
    assert hist["user"][-1] < 0.5 * hist["user"][0]
