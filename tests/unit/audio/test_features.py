"""Features: frame count formula, dims, deltas, CMVN, YAML config, and the data-dir pipeline + CLI."""
from __future__ import annotations

import os
import pickle
import shutil
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pytest
import soundfile as sf
import yaml

from speechdis.audio.features import (
    FeatureConfig,
    add_deltas,
    apply_cmvn,
    cmvn,
    cmvn_stats,
    compute_features,
    load_feature_config,
    num_frames,
    segment_frames,
)
from speechdis.cli import main as cli_main
from speechdis.config import from_dict, load_config
from speechdis.data.datadir import DataDir
from speechdis.data.featjobs import FeatsReader, make_features
from speechdis.data.tables import read_feats_scp, read_utt2num_frames
from speechdis.data.validate import validate_data_dir
from speechdis.errors import AudioError, ConfigError
from tests.helpers import make_wave, write_wave

CFG = FeatureConfig()


# ---------------------------------------------------------------------------------------------
# compute_features

@pytest.mark.parametrize("n,expected", [(400, 1), (559, 1), (560, 2), (16000, 98), (16001, 98), (16160, 99)])
def test_frame_count_formula(n, expected):
    assert num_frames(n, CFG) == expected == 1 + (n - 400) // 160
    feats = compute_features(make_wave(n / 16000), CFG)
    assert feats.shape == (expected, 39) and feats.dtype == np.float32


def test_shorter_than_one_window_is_an_audio_error():
    assert num_frames(399, CFG) == 0
    with pytest.raises(AudioError, match="too short for one frame"):
        compute_features(np.zeros(399, dtype=np.float32), CFG)


def test_dims():
    wave = make_wave(0.3)
    assert CFG.dim == 39 and compute_features(wave).shape[1] == 39
    assert compute_features(wave, FeatureConfig(deltas=0)).shape[1] == 13
    fb = FeatureConfig(kind="fbank", deltas=0)
    assert fb.resolved_n_mels == 40 and compute_features(wave, fb).shape[1] == 40
    assert compute_features(wave, FeatureConfig(kind="fbank")).shape[1] == 120
    assert FeatureConfig().resolved_n_mels == 23


def test_features_are_finite_and_distinguish_signals():
    a = compute_features(make_wave(0.5, freq=200.0))
    b = compute_features(make_wave(0.5, freq=3000.0))
    silence = compute_features(np.zeros(8000, dtype=np.float32))  # log floor keeps it finite
    assert np.isfinite(a).all() and np.isfinite(silence).all()
    assert np.abs(a[:, :13].mean(0) - b[:, :13].mean(0)).max() > 1.0


def test_deltas_kaldi_regression():
    t = np.arange(20, dtype=np.float64)
    ramp = np.stack([2.0 * t, np.full(20, 5.0)], axis=1)
    out = add_deltas(ramp, order=2, window=2)
    assert out.shape == (20, 6)
    np.testing.assert_allclose(out[4:-4, 2], 2.0, atol=1e-5)  # slope of the ramp
    np.testing.assert_allclose(out[:, 3], 0.0, atol=1e-6)  # constant -> zero delta
    np.testing.assert_allclose(out[4:-4, 4:], 0.0, atol=1e-5)  # linear -> zero acceleration
    # edge frames replicate: delta at t=0 uses x[-2] = x[-1] = x[0]
    assert out[0, 2] == pytest.approx((1 * (2 - 0) + 2 * (4 - 0)) / 10)


def test_dither_is_reproducible():
    cfg = FeatureConfig(dither=1.0)
    w = make_wave(0.2)
    np.testing.assert_array_equal(compute_features(w, cfg), compute_features(w, cfg))


def test_segment_frames():
    # frame t is centred at t*10ms + 12.5ms
    assert segment_frames(0.0, 0.1, CFG) == (0, 9)
    assert segment_frames(0.2, 0.3, CFG, total_frames=100) == (19, 29)
    b, e = segment_frames(0.5, 0.501, CFG)
    assert e - b == 1  # never empty
    assert segment_frames(2.0, 3.0, CFG, total_frames=50) == (49, 50)  # clipped


# ---------------------------------------------------------------------------------------------
# CMVN

def test_utterance_cmvn_zero_mean_unit_std():
    feats = compute_features(make_wave(1.0))
    out = cmvn(feats)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-3)
    mean_only = cmvn(feats, norm_vars=False)
    np.testing.assert_allclose(mean_only.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(mean_only.std(0), feats.std(0), rtol=1e-4)


def test_speaker_stats_pool_utterances():
    a = compute_features(make_wave(0.5, freq=300.0, seed=1))
    b = compute_features(make_wave(0.7, freq=500.0, seed=2))
    pooled = cmvn_stats(b, cmvn_stats(a))
    both = np.concatenate([a, b])
    np.testing.assert_allclose(pooled, cmvn_stats(both), rtol=1e-9)
    assert pooled.shape == (2, 40) and pooled[0, -1] == a.shape[0] + b.shape[0]
    na, nb = apply_cmvn(a, pooled), apply_cmvn(b, pooled)
    joint = np.concatenate([na, nb])
    np.testing.assert_allclose(joint.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(joint.std(0), 1.0, atol=1e-3)
    assert np.abs(na.mean(0)).max() > 0.1  # each utterance alone is not centred
    with pytest.raises(ValueError, match="does not match"):
        apply_cmvn(a[:, :13], pooled)


# ---------------------------------------------------------------------------------------------
# config

def test_feature_config_from_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("kind: fbank\nn_mels: 64\ndeltas: 0\ncmvn: speaker\nnorm_vars: false\nframe_shift_ms: 10\n")
    cfg = load_feature_config(p)
    assert (cfg.kind, cfg.n_mels, cfg.dim, cfg.cmvn, cfg.norm_vars) == ("fbank", 64, 64, "speaker", False)
    assert isinstance(cfg.frame_shift_ms, float)
    assert load_feature_config(p, ["n_mels=80"]).dim == 80


@pytest.mark.parametrize("text,key", [
    ("n_mfc: 13\n", "n_mfc"),  # typo
    ("n_mfcc: '13'\n", "n_mfcc"),  # wrong type
    ("n_mfcc: 13.5\n", "n_mfcc"),
    ("norm_vars: 1\n", "norm_vars"),  # int is not a bool
    ("cmvn: global\n", "cmvn"),
    ("kind: plp\n", "kind"),
    ("n_mfcc: 40\n", "n_mfcc"),  # more cepstra than mel bands
    ("fmax: 9000\n", "fmax"),  # above Nyquist
])
def test_feature_config_errors_name_the_key(tmp_path, text, key):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=rf"'{key}'"):
        load_feature_config(p)


@dataclass
class Inner:
    size: int = 3
    names: list[str] = field(default_factory=list)


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    rate: Optional[float] = None


def test_config_helper_nested_and_overrides(tmp_path):
    o = from_dict(Outer, {"inner": {"size": 5, "names": ["a"]}, "rate": 1})
    assert o.inner.size == 5 and o.inner.names == ["a"] and o.rate == 1.0
    with pytest.raises(ConfigError, match=r"'inner\.sise'"):
        from_dict(Outer, {"inner": {"sise": 5}})
    with pytest.raises(ConfigError, match=r"'inner\.names\[1\]'"):
        from_dict(Outer, {"inner": {"names": ["a", 2]}})
    p = tmp_path / "o.yaml"
    p.write_text("inner:\n  size: 4\n")
    assert load_config(Outer, p, ["inner.size=7", "rate=null"]).inner.size == 7
    with pytest.raises(ConfigError, match=r"^--set rate=fast: .*'rate'"):  # the override's fault, not the file's
        load_config(Outer, p, ["rate=fast"])
    p.write_text("inner:\n  size: 4\nrate: fast\n")
    with pytest.raises(ConfigError, match=r"o\.yaml.*'rate'"):
        load_config(Outer, p, ["inner.size=7"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Outer, tmp_path / "missing.yaml")


def test_recipe_configs_load():
    from tests.helpers import REPO

    mfcc = load_feature_config(REPO / "recipes/librispeech/conf/mfcc.yaml")
    fbank = load_feature_config(REPO / "recipes/librispeech/conf/fbank.yaml")
    assert (mfcc.kind, mfcc.dim) == ("mfcc", 39)
    assert (fbank.kind, fbank.dim) == ("fbank", 40)


# ---------------------------------------------------------------------------------------------
# data dir pipeline

def test_make_features_parallel_resume_and_reader(tiny_data_dir, tiny_corpus):
    cfg = FeatureConfig(cmvn="speaker")
    ticks = []
    rep = make_features(tiny_data_dir, cfg, nj=2, progress=ticks.append)
    d = DataDir.load(tiny_data_dir)
    assert rep.jobs_run == [1, 2] and rep.jobs_resumed == [] and sum(ticks) == 4
    assert rep.done == 4 and not rep.skipped
    assert list(d.feats_scp) == d.utts  # covers every utterance, sorted
    validate_data_dir(tiny_data_dir)
    feat_dir = tiny_data_dir / "data"
    for j in (1, 2):
        assert (feat_dir / f"raw_mfcc_dev.{j}.ark").exists() and (feat_dir / f"raw_mfcc_dev.{j}.scp").exists()
    # frame counts follow the formula
    u2n = read_utt2num_frames(tiny_data_dir / "utt2num_frames")
    for utt, dur in tiny_corpus.durations.items():
        assert u2n[utt] == num_frames(int(round(dur * 16000)), cfg)
    # stored config
    stored = load_feature_config(tiny_data_dir / "conf/feats.yaml")
    assert stored == cfg.resolved() and stored.n_mels == 23
    # cmvn per speaker
    assert set(read_feats_scp(tiny_data_dir / "cmvn.scp")) == {"11", "22"}
    reader = FeatsReader(tiny_data_dir)
    assert len(reader) == 4 and reader.dim == 39 and reader.cmvn == "speaker"
    for spk in ("11", "22"):
        utts = [u for u in reader.utts if reader.speaker(u) == spk]
        joint = np.concatenate([reader[u] for u in utts])
        np.testing.assert_allclose(joint.mean(0), 0.0, atol=1e-3)
        np.testing.assert_allclose(joint.std(0), 1.0, atol=1e-2)
    raw = reader.raw("11-100-0000")
    expected = compute_features(
        __import__("speechdis.audio.io", fromlist=["load_audio"]).load_audio(
            tiny_corpus.chapter_dir("11-100-0000") / "11-100-0000.flac"), cfg)
    np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-4)
    per_utt = FeatsReader(tiny_data_dir, cmvn="utterance")["11-100-0000"]
    np.testing.assert_allclose(per_utt.mean(0), 0.0, atol=1e-4)
    seg = reader.segment("11-100-0000", 0.1, 0.35)
    assert seg.shape == (25, 39)
    clone = pickle.loads(pickle.dumps(reader))
    np.testing.assert_array_equal(clone["22-200-0001"], reader["22-200-0001"])
    # A feats.yaml written before `energy` / `mel_filters` existed describes the front end of its time
    # (c0 kept, librosa-htk filters), not today's defaults: that is what a model trained on it must use.
    conf = tiny_data_dir / "conf/feats.yaml"
    lines = [ln for ln in conf.read_text().splitlines() if not ln.startswith(("energy:", "mel_filters:"))]
    conf.write_text("\n".join(lines) + "\n")
    old = FeatsReader(tiny_data_dir).config
    assert (old.energy, old.mel_filters) == (False, "librosa-htk") and old.n_mels == 23
    conf.write_text("- not\n- a mapping\n")
    with pytest.raises(ConfigError, match="feats.yaml"):
        FeatsReader(tiny_data_dir)

    # resume: nothing recomputed
    mtimes = {p.name: p.stat().st_mtime_ns for p in feat_dir.iterdir()}
    rep2 = make_features(tiny_data_dir, cfg, nj=2)
    assert rep2.jobs_run == [] and rep2.jobs_resumed == [1, 2]
    assert {p.name: p.stat().st_mtime_ns for p in feat_dir.iterdir()} == mtimes
    # an incomplete job (no completion marker) is redone, the other kept
    (feat_dir / "raw_mfcc_dev.2.done").unlink()
    rep3 = make_features(tiny_data_dir, cfg, nj=2)
    assert rep3.jobs_run == [2] and rep3.jobs_resumed == [1]
    assert (feat_dir / "raw_mfcc_dev.1.ark").stat().st_mtime_ns == mtimes["raw_mfcc_dev.1.ark"]
    # a different config does not reuse old jobs
    rep4 = make_features(tiny_data_dir, FeatureConfig(cmvn="utterance", n_mfcc=12), nj=2)
    assert rep4.jobs_run == [1, 2] and FeatsReader(tiny_data_dir).dim == 36
    assert set(read_feats_scp(tiny_data_dir / "cmvn.scp")) == set(d.utts)


def test_bad_audio_is_skipped_and_reported(tmp_path):
    data = tmp_path / "bad"
    audio = tmp_path / "audio"
    good = write_wave(audio / "a-good.flac", 0.5)
    rate8k = write_wave(audio / "a-rate8k.wav", 0.5, sr=8000)
    corrupt = audio / "b-corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    empty = audio / "b-empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), 16000)
    tiny = write_wave(audio / "b-tiny.wav", 0.01)
    entries = {"a-good": good, "a-rate8k": rate8k, "b-corrupt": corrupt, "b-empty": empty,
               "b-missing": audio / "b-missing.wav", "b-tiny": tiny}
    DataDir(utt2spk={u: u.split("-")[0] for u in entries}, wav_scp={u: str(p) for u, p in entries.items()}).save(data)
    rep = make_features(data, FeatureConfig(), nj=1)
    assert rep.done == 2 and sorted(rep.skipped) == ["b-corrupt", "b-empty", "b-missing", "b-tiny"]
    assert "cannot read audio" in rep.skipped["b-corrupt"]
    assert "0 samples" in rep.skipped["b-empty"]
    assert "no such audio file" in rep.skipped["b-missing"]
    assert "too short" in rep.skipped["b-tiny"]
    # the 8 kHz file was resampled to 16 kHz: 0.5 s -> 48 frames
    assert read_utt2num_frames(data / "utt2num_frames") == {"a-good": 48, "a-rate8k": 48}
    lines = (data / "feats_skipped.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["b-corrupt", "b-empty", "b-missing", "b-tiny"]
    assert "4 utterance(s) skipped" in rep.summary()


def test_all_bad_audio_is_fatal_and_retried(tmp_path):
    data = tmp_path / "allbad"
    DataDir(utt2spk={"s-1": "s", "s-2": "s"},
            wav_scp={"s-1": str(tmp_path / "x1.wav"), "s-2": str(tmp_path / "x2.wav")}).save(data)
    with pytest.raises(AudioError, match=r"all 2 utterance\(s\) failed"):
        make_features(data, nj=1)
    assert not (data / "feats.scp").exists()
    write_wave(tmp_path / "x1.wav", 0.3)
    write_wave(tmp_path / "x2.wav", 0.3)
    rep = make_features(data, nj=1)  # the failed job is not taken as complete
    assert rep.done == 2 and rep.jobs_run == [1] and not (data / "feats_skipped.txt").exists()


def test_features_with_segments_and_pipe(tmp_path):
    rec = write_wave(tmp_path / "rec.wav", 1.0)
    data = tmp_path / "seg"
    from speechdis.data.tables import Segment

    DataDir(utt2spk={"r-a": "r", "r-b": "r"}, wav_scp={"rec1": f"cat {rec} |"},
            segments={"r-a": Segment("rec1", 0.0, 0.5), "r-b": Segment("rec1", 0.5, -1)}).save(data)
    make_features(data, FeatureConfig(cmvn="none"), nj=1)
    reader = FeatsReader(data)
    assert reader.cmvn == "none" and not (data / "cmvn.scp").exists()
    assert reader.num_frames("r-a") == reader["r-a"].shape[0] == 48


def test_features_cli(tiny_data_dir, tmp_path, capsys):
    from tests.helpers import REPO

    conf = tmp_path / "fbank.yaml"
    shutil.copy(REPO / "recipes/librispeech/conf/fbank.yaml", conf)
    feat_dir = tmp_path / "fbank"
    rc = cli_main(["features", str(tiny_data_dir), "--nj", "1", "--config", str(conf), "--feat-dir",
                   str(feat_dir), "--set", "cmvn=utterance", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "fbank features (dim 40, cmvn utterance) for 4/4 utterances" in out
    assert (feat_dir / "raw_fbank_dev.1.ark").exists()
    assert all(v.startswith(str(feat_dir)) for v in read_feats_scp(tiny_data_dir / "feats.scp").values())
    assert yaml.safe_load((tiny_data_dir / "conf/feats.yaml").read_text())["kind"] == "fbank"
    rc = cli_main(["features", str(tiny_data_dir), "--config", str(conf), "--set", "n_mels=oops"])
    assert rc == 1 and "'n_mels'" in capsys.readouterr().err
    os.remove(tiny_data_dir / "wav.scp")
    assert cli_main(["features", str(tiny_data_dir), "--no-progress"]) == 1
    assert "wav.scp" in capsys.readouterr().err


def test_mini_corpus_features(tmp_path):
    from speechdis.data.corpora.librispeech import prepare_librispeech
    from speechdis.data.datadir import subset_data_dir
    from tests.helpers import MINI_CORPUS, mini_corpus_ready

    if not mini_corpus_ready("test-clean-mini"):
        pytest.skip("synthetic corpus not present")
    prepare_librispeech(MINI_CORPUS, "test-clean-mini", tmp_path / "full")
    full = DataDir.load(tmp_path / "full")
    sub = subset_data_dir(full, tmp_path / "sub", speakers=full.speakers[:2])
    rep = make_features(tmp_path / "sub", FeatureConfig(cmvn="speaker"), nj=2)
    assert rep.done == sub.num_utts and not rep.skipped
    validate_data_dir(tmp_path / "sub")
    reader = FeatsReader(tmp_path / "sub")
    assert sorted(reader) == sub.utts
    for utt in sub.utts:
        # frame count follows the formula for the file's length
        assert reader.num_frames(utt) == num_frames(int(round(sub.utt2dur[utt] * 16000)), reader.config)
    for seg in sub.word_segments:
        frames = reader.segment(seg.utt, seg.start, seg.end)
        assert frames.shape[1] == 39 and abs(frames.shape[0] - 100 * (seg.end - seg.start)) <= 2
