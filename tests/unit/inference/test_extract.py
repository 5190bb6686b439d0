"""Embedding extraction: API routes agree, baseline vs disentangled, npz/ark outputs, bad inputs, CLI."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

import speechdis
from speechdis.cli import main as cli_main
from speechdis.data.datadir import DataDir
from speechdis.errors import AudioError, ModelError
from tests.helpers import tiny_setup, write_wave


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return tiny_setup(tmp_path_factory)


@pytest.fixture(scope="module")
def dis(setup):
    return speechdis.load_model(setup.disentangled, device="cpu")


@pytest.fixture(scope="module")
def base(setup):
    return speechdis.load_model(setup.baseline, device="cpu")


def _utt_with_segments(data_dir):
    d = DataDir.load(data_dir)
    utt = sorted(d.word_segments_by_utt())[0]
    segs = d.word_segments_by_utt()[utt]
    return utt, d.wav_scp[utt], segs


def test_file_waveform_and_data_dir_give_the_same_vectors(setup, dis):
    from speechdis.audio.io import load_audio
    from speechdis.data.featjobs import FeatsReader
    from speechdis.inference.extract import extract

    assert dis.kind == "disentangled" and dis.keys == ["phonetic", "speaker"]
    assert dis.feature_config.dim == 39 and dis.crop_frames == 40
    utt, path, segs = _utt_with_segments(setup.data)
    spans = [(s.start, s.end) for s in segs]

    from_file = dis.embed_file(path, segments=spans)
    wave = load_audio(path, sample_rate=None)
    sr = sf.info(path).samplerate
    from_wave = dis.embed_waveform(wave, sr, segments=spans)
    for k in ("phonetic", "speaker"):
        assert from_file[k].shape == (len(segs), 8)
        np.testing.assert_allclose(from_file[k], from_wave[k], rtol=0, atol=1e-6)

    # The data dir's precomputed features are the file's features (per-utterance CMVN over the whole file).
    np.testing.assert_allclose(FeatsReader(setup.data)[utt], dis.file_features(path, utt), atol=2e-4)
    res = extract(dis, [setup.data])
    rows = [res.ids.index(s.seg_id) for s in segs]
    assert [res.utts[i] for i in rows] == [utt] * len(segs)
    assert [res.words[i] for i in rows] == [s.word for s in segs]
    assert res.speakers[rows[0]] == utt.split("-")[0]
    for k in ("phonetic", "speaker"):
        np.testing.assert_allclose(res.vectors[k][rows], from_file[k], atol=1e-4)
    # Every word segment of the data dir is there, with its times.
    assert len(res) == len(DataDir.load(setup.data).word_segments)
    np.testing.assert_allclose(res.starts[rows], [s.start for s in segs])

    # A whole file is one segment; resampled input (8 kHz) is accepted.
    whole = dis.embed_file(path)
    assert whole["phonetic"].shape == (1, 8)
    low = dis.embed_waveform(wave[::2], sr // 2)
    assert low["speaker"].shape == (1, 8) and np.isfinite(low["speaker"]).all()


def test_batching_does_not_change_vectors(setup, dis):
    from speechdis.data.featjobs import FeatsReader

    reader = FeatsReader(setup.data)
    feats = [reader[u][:n] for u, n in zip(reader.utts[:7], (12, 50, 7, 33, 40, 90, 5))]
    one = dis.embed_features(feats, batch_size=1)
    many = dis.embed_features(feats, batch_size=64)
    for k in one:
        np.testing.assert_allclose(one[k], many[k], atol=1e-5)
    # A segment longer than the training crop (90 > 40 frames) is the mean of its windows (0-40, 20-60,
    # 40-80, 50-90), not its first 40 frames; pool="first" keeps the behaviour before pooling.
    wins = dis.embed_features([feats[5][b:b + 40] for b in (0, 20, 40, 50)])
    np.testing.assert_allclose(dis.embed_features([feats[5]])["phonetic"][0], wins["phonetic"].mean(axis=0),
                               atol=1e-5)
    np.testing.assert_allclose(dis.embed_features([feats[5]], pool="first")["phonetic"],
                               dis.embed_features([feats[5][:40]])["phonetic"], atol=1e-6)


def test_only_the_asked_for_vectors_are_computed(setup, dis, tmp_path):
    from speechdis.errors import ConfigError
    from speechdis.inference.archive import load_archive

    utt, path, segs = _utt_with_segments(setup.data)
    spans = [(s.start, s.end) for s in segs]
    both = dis.embed_file(path, segments=spans)
    for key in ("phonetic", "speaker"):
        only = speechdis.load_model(setup.disentangled, device="cpu", vectors=[key])
        out = only.embed_file(path, segments=spans)
        assert list(out) == [key] and only.keys == ["phonetic", "speaker"]
        np.testing.assert_allclose(out[key], both[key], atol=1e-6)
    with pytest.raises(ConfigError, match="makes phonetic, speaker"):
        speechdis.load_model(setup.disentangled, device="cpu", vectors=["embedding"])
    rc = cli_main(["extract", "--model", str(setup.disentangled), str(setup.data), "--out", str(tmp_path / "p"),
                   "--vectors", "phonetic", "--no-progress", "--device", "cpu"])
    assert rc == 0 and set(load_archive(tmp_path / "p.npz").vectors) == {"phonetic"}


def test_baseline_gives_one_vector(setup, base):
    utt, path, segs = _utt_with_segments(setup.data)
    out = base.embed_file(path, segments=[(s.start, s.end) for s in segs])
    assert base.kind == "baseline" and list(out) == ["embedding"]
    assert out["embedding"].shape == (len(segs), 8)
    assert base.roles == {"phonetic": "embedding", "speaker": "embedding"}


def test_npz_and_ark_hold_the_same_ids_and_vectors(setup, tmp_path, capsys):
    import kaldiio

    from speechdis.inference.archive import load_archive

    out = tmp_path / "emb" / "test"
    rc = cli_main(["extract", "--model", str(setup.disentangled), str(setup.data), "--out", str(out),
                   "--format", "both", "--no-progress", "--device", "cpu"])
    assert rc == 0
    assert "embedded" in capsys.readouterr().out
    npz = load_archive(tmp_path / "emb" / "test.npz")
    assert npz.kind == "disentangled" and set(npz.vectors) == {"phonetic", "speaker"}
    for key in ("phonetic", "speaker"):
        ark = kaldiio.load_scp(str(tmp_path / "emb" / f"test.{key}.scp"))
        assert sorted(ark.keys()) == sorted(npz.ids)
        for i, seg in enumerate(npz.ids):
            np.testing.assert_array_equal(ark[seg], npz.vectors[key][i])
    # The scp is usable from another directory (absolute ark paths).
    assert str(tmp_path) in (tmp_path / "emb" / "test.speaker.scp").read_text().split()[1]


def test_directories_windows_ctm_and_word_segments(setup, base, tmp_path):
    from speechdis.inference.extract import extract

    utt, path, segs = _utt_with_segments(setup.data)
    audio = tmp_path / "audio" / "sub"
    audio.mkdir(parents=True)
    shutil.copy(path, audio / f"{utt}.flac")
    write_wave(tmp_path / "audio" / "tone.WAV", 0.6)

    whole = extract(base, [tmp_path / "audio"])
    assert sorted(whole.ids) == sorted([utt, "tone"]) and whole.vectors["embedding"].shape == (2, 8)
    assert all(s == "" for s in whole.speakers)

    win = extract(base, [audio / f"{utt}.flac"], window=0.5, hop=0.25)
    assert win.ids[0] == f"{utt}_w0000" and len(win) > 2
    assert win.starts[1] == pytest.approx(0.25) and np.all(win.ends - win.starts <= 0.5 + 1e-6)

    ctm = tmp_path / "a.ctm"
    ctm.write_text("".join(f"{utt} 1 {s.start:.3f} {s.end - s.start:.3f} {s.word}\n" for s in segs))
    by_ctm = extract(base, [audio / f"{utt}.flac"], ctm=ctm)
    assert by_ctm.words == [s.word for s in segs]
    ws = tmp_path / "word_segments"
    ws.write_text("".join(f"{s.seg_id} {utt} {s.start} {s.end} {s.word}\n" for s in segs)
                  + "x_0000 not_an_input 0.1 0.3 FOO\n")
    by_table = extract(base, [audio / f"{utt}.flac", tmp_path / "audio" / "tone.WAV"], word_segments=ws)
    assert by_table.ids == [s.seg_id for s in segs]
    np.testing.assert_allclose(by_table.vectors["embedding"], by_ctm.vectors["embedding"], atol=1e-6)
    reasons = " | ".join(s.reason for s in by_table.skipped)
    assert "not among the inputs" in reasons and "no segments for 'tone'" in reasons


def test_bad_audio_is_skipped_with_reasons(base, tmp_path):
    from speechdis.inference.extract import describe_skipped, extract

    d = tmp_path / "in"
    write_wave(d / "good.wav", 0.5)
    (d / "broken.wav").write_bytes(b"RIFF\x00\x00garbage, not audio")
    write_wave(d / "short.flac", 0.01)
    res = extract(base, [d])
    assert res.ids == ["good"]
    why = {s.item.split("/")[-1]: s.reason for s in res.skipped}
    assert "cannot read" in why["broken.wav"] and "too short" in why["short.flac"]
    lines = describe_skipped(res.skipped)
    assert lines[0].startswith("skipped 2 input(s)") and "1 unreadable" in lines[0]

    with pytest.raises(AudioError, match="nothing could be embedded.*broken.wav"):
        extract(base, [d / "broken.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioError, match="no audio files"):
        extract(base, [tmp_path / "empty"])
    with pytest.raises(AudioError, match="no such file"):
        extract(base, [tmp_path / "missing.wav"])


def test_model_dirs_without_model_pt(setup, tmp_path, capsys):
    empty = tmp_path / "empty_exp"
    empty.mkdir()
    with pytest.raises(ModelError, match="no trained model.*empty"):
        speechdis.load_model(empty)
    with pytest.raises(ModelError, match="no such directory"):
        speechdis.load_model(tmp_path / "nowhere")
    # Only checkpoints (an interrupted run): the latest one is used, with a warning.
    partial = tmp_path / "partial"
    shutil.copytree(setup.baseline, partial)
    (partial / "model.pt").unlink()
    m = speechdis.load_model(partial, device="cpu")
    assert m.kind == "baseline" and m.path.name == "latest.pt" and "no model.pt" in m.warnings[0]
    # The CLI turns the error into one line and status 1.
    rc = cli_main(["extract", "--model", str(empty), str(setup.data), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 1 and "speechdis extract: error:" in err and "no trained model" in err


def test_a_model_dir_holding_only_model_pt_embeds_identically(setup, dis, tmp_path):
    """model.pt describes itself (features, kind, versions): nothing else from the experiment is needed."""
    import torch

    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(setup.disentangled / "model.pt", alone / "model.pt")
    m = speechdis.load_model(alone, device="cpu")
    assert m.feature_config == dis.feature_config and not m.warnings and m.provenance["torch"] == torch.__version__
    _, wav, segs = _utt_with_segments(setup.data)
    spans = [(s.start, s.end) for s in segs]
    a, b = dis.embed_file(wav, segments=spans), m.embed_file(wav, segments=spans)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    # A model file of format 1 (no features inside) loads only with feats.yaml beside it.
    from speechdis.training.checkpoint import load_checkpoint, save_checkpoint

    old = {k: v for k, v in load_checkpoint(alone / "model.pt").items() if k in ("config", "model", "step")}
    save_checkpoint(alone / "model.pt", old)
    with pytest.raises(ModelError, match="without its feature config.*feats.yaml"):
        speechdis.load_model(alone, device="cpu")
    shutil.copy(setup.disentangled / "feats.yaml", alone / "feats.yaml")
    m = speechdis.load_model(alone, device="cpu")
    assert "older model file" in m.warnings[0]
    np.testing.assert_array_equal(m.embed_file(wav, segments=spans)["phonetic"], a["phonetic"])


def test_data_dirs_without_matching_features_are_computed_from_audio(setup, dis, tmp_path):
    from speechdis.audio.features import load_feature_config
    from speechdis.data.featjobs import make_features
    from speechdis.eval.runner import embed_models, load_eval_data
    from speechdis.inference.extract import extract

    d = DataDir.load(setup.data).subset(speakers=["1017"])
    d.feats_scp, d.cmvn_scp, d.utt2num_frames = {}, {}, {}
    raw = d.save(tmp_path / "raw")  # wav.scp only
    utt, path, segs = _utt_with_segments(raw)
    want = dis.embed_file(path, segments=[(s.start, s.end) for s in segs])
    got = extract(dis, [raw])
    rows = [got.ids.index(s.seg_id) for s in segs]
    np.testing.assert_allclose(got.vectors["phonetic"][rows], want["phonetic"], atol=1e-5)
    # A data dir utterance without word segments is skipped (not embedded whole among word segments).
    part = DataDir.load(raw)
    part.word_segments = [w for w in part.word_segments if w.utt != utt]
    res = extract(dis, [part.save(tmp_path / "partial")])
    assert utt not in res.utts and any(f"no segments for '{utt}'" in s.reason for s in res.skipped)

    # Features made with another config (no CMVN): the model's own features are computed instead.
    other = DataDir.load(raw).save(tmp_path / "other")
    make_features(other, load_feature_config(overrides=["cmvn=none"]), nj=1)
    got = extract(dis, [other])
    assert any("differ from the model's" in s.reason for s in got.skipped)
    np.testing.assert_allclose(got.vectors["speaker"][rows], want["speaker"], atol=1e-5)
    data = load_eval_data(other)
    (mv,) = embed_models([("d", setup.disentangled)], data, device="cpu")
    k = data.seg_ids.index(segs[0].seg_id)
    np.testing.assert_allclose(mv.vectors["phonetic"][k], want["phonetic"][0], atol=1e-5)


def test_feature_workers_give_the_same_result(setup, dis, tmp_path):
    from speechdis.errors import ConfigError
    from speechdis.inference.extract import extract

    d = tmp_path / "in"
    for k in range(3):
        write_wave(d / f"tone{k}.wav", 0.4 + 0.1 * k, freq=300.0 + 50 * k, seed=k)
    (d / "broken.wav").write_bytes(b"RIFF\x00\x00garbage, not audio")
    write_wave(d / "short.flac", 0.01)
    raw = DataDir.load(setup.data).subset(speakers=["1017"])
    raw.feats_scp, raw.cmvn_scp, raw.utt2num_frames = {}, {}, {}
    inputs = [d, raw.save(tmp_path / "raw")]  # audio files; a data dir's wav.scp with word segments
    done, total = [], []
    one = extract(dis, inputs)
    two = extract(dis, inputs, workers=2, progress=done.append, on_start=total.append)
    assert sum(done) == total[0] > 5  # every utterance reported once, skipped ones too
    assert len(one) > 10 and len(two.skipped) == 2
    assert two.ids == one.ids and two.skipped == one.skipped and two.n_utterances == one.n_utterances
    for k in one.vectors:
        np.testing.assert_array_equal(two.vectors[k], one.vectors[k])
    with pytest.raises(ConfigError, match="workers"):
        extract(dis, inputs, workers=-1)


def test_a_killed_feature_worker_fails_extract_naming_the_file(setup, tmp_path, monkeypatch, capsys):
    """Issue 22 item 8: ``extract --workers 1`` with a worker killed (OOM) exits non-zero naming the file."""
    import os

    import speechdis.inference.extract as ex

    d = tmp_path / "in"
    for name in ("a", "b", "killme", "c"):
        write_wave(d / f"{name}.wav", 0.4, freq=300.0, seed=1)
    real = ex._load_one

    def load_or_die(u):
        if "killme" in u.source:
            os._exit(9)
        return real(u)

    monkeypatch.setattr(ex, "_load_one", load_or_die)  # inherited by the forked workers
    rc = cli_main(["extract", "--model", str(setup.disentangled), str(d), "--out", str(tmp_path / "o.npz"),
                   "--workers", "1"])
    err = capsys.readouterr().err
    assert rc != 0 and "killme.wav" in err and "died" in err
    assert not (tmp_path / "o.npz").exists()
