"""Reliability cases of issue 10 (model files, segments and the embedder): no silent corruption, no unsafe
loading, no orphans, one-line errors."""
from __future__ import annotations

import numpy as np
import pytest


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
    from tests.helpers import write_wave

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
    from tests.helpers import tiny_setup

    setup = tiny_setup(tmp_path_factory)
    return setup, speechdis.load_model(setup.baseline, device="cpu")


def test_segments_outside_the_audio_are_errors_not_last_frames(tiny_model, tmp_path, capsys):
    """4 and 14: a span past the end (or not finite) is refused, in the API and in extract."""
    import math

    from speechdis.cli import main
    from speechdis.data.datadir import DataDir
    from speechdis.errors import AudioError
    from tests.helpers import write_wave

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
    from speechdis.inference.archive import load_archive

    assert load_archive(out).ids == ["good"]
    assert "not inside the audio" in cap.err


@pytest.mark.parametrize("edit", ["kind", "dims"])
def test_model_file_with_unfit_weights_is_one_line(tiny_model, tmp_path, capsys, edit):
    """12: model.pt whose weights are of the other model kind, or whose config dims were edited."""
    import torch

    from speechdis.cli import main
    from tests.helpers import write_wave

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
    from tests.helpers import make_wave

    _, model = tiny_model
    w = make_wave(0.6, channels=2)  # (N, 2)
    for rate in (0, -16000, 16000.5):
        with pytest.raises(AudioError, match="sample_rate must be a positive integer"):
            model.embed_waveform(w[:, 0], rate)
    a = model.embed_waveform(w, 16000)["embedding"]
    b = model.embed_waveform(w.T.copy(), 16000)["embedding"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ 15: unclear cases
def test_same_stem_files_keep_both_with_distinct_ids_and_skip_lines_name_the_path_once(tiny_model, tmp_path,
                                                                                       capsys):
    from speechdis.cli import main
    from speechdis.inference.archive import load_archive
    from tests.helpers import write_wave

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
    assert sorted(load_archive(out).ids) == ["s.flac", "s.wav", "t"]
    note = next(ln for ln in cap.err.splitlines() if "would share the id 's'" in ln)
    assert str(d / "s.wav") in note and str(d / "s.flac") in note and "rename one" in note
    bad = [ln for ln in cap.err.splitlines() if "bad.wav" in ln]
    assert bad and all(ln.count(str(d / "bad.wav")) == 1 for ln in bad), bad
    # The very same file twice cannot get two ids: one line naming it and how to resolve it.
    rc = main(["extract", "--model", str(setup.baseline), str(d / "t.wav"), str(d / "t.wav"),
               "--out", str(tmp_path / "f.npz"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "comes from two inputs" in err and "give each file once" in err
