"""Issue 22 item 7: audio at an implausible rate is refused, not upsampled into gigabytes, and in a
multi-file run it is one skipped file with its reason (Kaldi: warn, skip, count; fail only when nothing
could be done)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechdis.cli import main
from speechdis.errors import AudioError
from tests.helpers import untrained_speech_model, write_wave


def _one_hz(path, n=2000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.full(n, 0.1, dtype=np.float32), 1)  # a 4 KB file whose header says 1 Hz
    return path


def test_rates_below_4_khz_are_refused_unless_asked(tmp_path):
    from speechdis.audio.io import load_audio, load_wav_entry

    bad = _one_hz(tmp_path / "one.wav", n=20)
    with pytest.raises(AudioError, match=r"one.wav: sample rate 1 Hz is implausible .*--allow-upsample"):
        load_audio(bad)
    with pytest.raises(AudioError, match="implausible"):
        load_wav_entry(f"cat {bad} |")
    assert load_audio(bad, allow_upsample=True).shape == (20 * 16000,)
    ok = write_wave(tmp_path / "tel.wav", 0.25, sr=8000)  # telephone speech is upsampled as before
    assert load_audio(ok).shape == (4000,)


def test_embedding_a_wave_at_an_implausible_rate_is_refused(tmp_path):
    import speechdis

    model = speechdis.load_model(untrained_speech_model(tmp_path / "model.pt"), device="cpu")
    with pytest.raises(AudioError, match="1 Hz is implausible"):
        model.embed_waveform(np.zeros(2000, dtype=np.float32), 1)


def test_features_skip_the_file_and_count_it(tmp_path, capsys):
    from speechdis.data.datadir import DataDir

    wavs = {f"s-{k}": write_wave(tmp_path / f"s-{k}.wav", 0.4, seed=k) for k in range(3)}
    wavs["s-9"] = _one_hz(tmp_path / "s-9.wav")
    d = tmp_path / "d"
    DataDir(utt2spk={u: "s" for u in wavs}, wav_scp={u: str(p) for u, p in wavs.items()}).save(d)
    assert main(["features", str(d), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "for 3/4 utterances" in out and "1 utterance(s) skipped" in out and "s-9" in out
    assert "implausible" in (d / "feats_skipped.txt").read_text()
    assert sorted(line.split()[0] for line in (d / "feats.scp").read_text().splitlines()) == ["s-0", "s-1", "s-2"]


def test_extract_skips_the_file_and_says_why(tmp_path, capsys):
    model = untrained_speech_model(tmp_path / "model.pt")
    good = write_wave(tmp_path / "audio" / "good.wav", 0.5)
    _one_hz(tmp_path / "audio" / "bad.wav")
    rc = main(["extract", "--model", str(model), str(good.parent), "--out", str(tmp_path / "v.npz"), "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0 and "bad.wav" in captured.err and "implausible" in captured.err
    assert list(np.load(tmp_path / "v.npz")["ids"]) == ["good"]


def test_extract_allow_upsample_embeds_it(tmp_path, capsys):
    model = untrained_speech_model(tmp_path / "model.pt")
    _one_hz(tmp_path / "audio" / "low.wav", n=20)
    rc = main(["extract", "--model", str(model), str(tmp_path / "audio"), "--out", str(tmp_path / "v.npz"),
               "--allow-upsample", "--no-progress"])
    assert rc == 0 and list(np.load(tmp_path / "v.npz")["ids"]) == ["low"]
