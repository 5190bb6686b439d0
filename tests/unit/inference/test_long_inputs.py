"""Inputs longer than the model's training crop: embedded as pooled windows, never cut to their first second."""
from __future__ import annotations

import numpy as np
import pytest

import speechdis
from speechdis.errors import ConfigError
from speechdis.inference.model import crop_windows

RATE = 16000


@pytest.fixture(scope="module")
def model():
    return speechdis.load_model("speechcommands", device="cpu")


def _speech_like(seconds: float, seed: int) -> np.ndarray:
    """Tones whose pitch and formant-like partials change every 0.3 s, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.zeros_like(t)
    for b in np.arange(0, seconds, 0.3):
        m = (t >= b) & (t < b + 0.3)
        f0 = rng.uniform(90, 260)
        for h in range(1, 12):
            wave[m] += rng.uniform(0, 1) / h * np.sin(2 * np.pi * f0 * h * t[m])
    wave += 0.02 * rng.standard_normal(t.size)
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_crop_windows_cover_the_segment_with_half_window_hop():
    assert crop_windows(80, 100) == [(0, 80)]
    assert crop_windows(100, 100) == [(0, 100)]
    assert crop_windows(250, 100) == [(0, 100), (50, 150), (100, 200), (150, 250)]
    assert crop_windows(260, 100)[-1] == (160, 260)  # the tail is covered by a last window moved back
    assert crop_windows(500, None) == [(0, 500)]


def test_a_10s_input_is_the_mean_of_its_windows_not_its_first_second(model):
    wave = _speech_like(10.0, seed=1)
    feats = model.features(wave, RATE)
    crop = model.crop_frames
    assert feats.shape[0] > 5 * crop
    whole = model.embed_features([feats])
    first = model.embed_features([feats[:crop]])
    for key in ("speaker", "phonetic"):
        assert _cos(whole[key][0], first[key][0]) < 0.999, key
    wins = crop_windows(feats.shape[0], crop)
    per_window = model.embed_features([feats[b:e] for b, e in wins])
    for key in ("speaker", "phonetic"):
        np.testing.assert_allclose(whole[key][0], per_window[key].mean(axis=0), atol=1e-5)
    # The same through the audio entry points.
    np.testing.assert_allclose(model.embed_waveform(wave, RATE)["speaker"][0], whole["speaker"][0], atol=1e-5)
    # Other poolings: max of the windows; "first" is the behaviour before pooling (the first window).
    mx = model.embed_features([feats], pool="max")
    np.testing.assert_allclose(mx["speaker"][0], per_window["speaker"].max(axis=0), atol=1e-6)
    old = model.embed_features([feats], pool="first")
    np.testing.assert_allclose(old["speaker"][0], first["speaker"][0], atol=1e-6)
    with pytest.raises(ConfigError, match="pool"):
        model.embed_features([feats], pool="median")


def test_speaker_vectors_use_the_speaker_context_window(model):
    """A model trained with data.speaker_context longer than its crop: speaker vectors of a long input are the
    mean of context-length windows (what its speaker encoder saw), phonetic vectors still of crop windows."""
    import copy

    ctx_model = copy.deepcopy(model)
    crop = model.crop_frames
    ctx_model.train_config.data.speaker_context = 3 * crop
    assert ctx_model.speaker_window == 3 * crop and model.speaker_window == crop
    feats = model.features(_speech_like(10.0, seed=4), RATE)
    whole = ctx_model.embed_features([feats])
    long_wins = crop_windows(feats.shape[0], 3 * crop)
    short_wins = crop_windows(feats.shape[0], crop)
    spk = ctx_model.embed_features([feats[b:e] for b, e in long_wins])["speaker"].mean(axis=0)
    phon = model.embed_features([feats[b:e] for b, e in short_wins])["phonetic"].mean(axis=0)
    np.testing.assert_allclose(whole["speaker"][0], spk, atol=1e-5)
    np.testing.assert_allclose(whole["phonetic"][0], phon, atol=1e-5)
    assert _cos(whole["speaker"][0], model.embed_features([feats])["speaker"][0]) < 0.9999
    ctx_model.vectors = ("speaker",)
    only = ctx_model.embed_features([feats, feats[:crop]])
    assert list(only) == ["speaker"]
    np.testing.assert_allclose(only["speaker"][0], spk, atol=1e-5)


def test_short_inputs_are_unchanged_and_mixed_batches_keep_order(model):
    short = model.features(_speech_like(0.8, seed=2), RATE)
    long = model.features(_speech_like(4.0, seed=3), RATE)
    assert short.shape[0] <= model.crop_frames < long.shape[0]
    alone = model.embed_features([short])
    # Pooling never touches a segment within the crop, whatever the pooling, and batching with a long one.
    for pool in ("mean", "max", "first"):
        got = model.embed_features([long, short, long[:30]], pool=pool)
        np.testing.assert_allclose(got["speaker"][1], alone["speaker"][0], atol=1e-5)
        np.testing.assert_allclose(got["phonetic"][1], alone["phonetic"][0], atol=1e-5)
    np.testing.assert_allclose(model.embed_features([long[:30]])["speaker"][0],
                               model.embed_features([short, long[:30]])["speaker"][1], atol=1e-5)


def test_embed_speaker_is_the_mean_of_the_files_speaker_vectors(model, tmp_path):
    import soundfile as sf

    waves = [_speech_like(s, seed=10 + i) for i, s in enumerate((0.9, 3.5, 6.0))]
    paths = []
    for i, w in enumerate(waves):
        paths.append(tmp_path / f"f{i}.wav")
        sf.write(paths[-1], w, RATE)
    per_file = np.stack([model.embed_file(p)["speaker"][0] for p in paths])
    spk = model.embed_speaker(paths)
    assert spk.shape == (model.dims["speaker"],) and spk.dtype == np.float32
    np.testing.assert_allclose(spk, per_file.mean(axis=0), atol=1e-5)
    # (wave, rate) pairs work as well, and a single path is one file.
    np.testing.assert_allclose(model.embed_speaker([(w, RATE) for w in waves]), spk, atol=1e-4)
    np.testing.assert_allclose(model.embed_speaker(paths[1]), per_file[1], atol=1e-5)
    with pytest.raises(Exception, match="no inputs"):
        model.embed_speaker([])
