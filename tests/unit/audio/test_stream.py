"""Block-streamed features (issue 22 item 9) equal the whole-file features, whatever the block size."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechdis.audio.features import FeatureConfig, cmvn, compute_features
from speechdis.audio.io import load_audio
from speechdis.audio.stream import features_from_blocks, file_features_streamed
from speechdis.errors import AudioError


def _wave(seconds: float, seed: int = 0, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    w = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.standard_normal(t.size)
    return w.astype(np.float32)


def _blocks(wave: np.ndarray, size: int):
    return (wave[i:i + size] for i in range(0, wave.shape[0], size))


@pytest.mark.parametrize("overrides", [{}, {"kind": "fbank", "deltas": 0}, {"dither": 1.0, "deltas": 3},
                                       {"delta_window": 3, "deltas": 1}])
@pytest.mark.parametrize("block", [1, 7, 160, 399, 400, 401, 1234, 16000])
def test_block_features_equal_whole_wave_features(overrides, block):
    cfg = FeatureConfig(**overrides)
    wave = _wave(0.37, seed=block)  # 35 frames: blocks smaller than a frame, than the delta context, ...
    want = compute_features(wave, cfg, rng=np.random.default_rng(5))
    got = np.concatenate(list(features_from_blocks(_blocks(wave, block), cfg, rng=np.random.default_rng(5))))
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_too_short_wave_gives_no_rows_and_the_file_is_refused(tmp_path):
    cfg = FeatureConfig()
    assert list(features_from_blocks(_blocks(np.zeros(300, np.float32), 100), cfg)) == []
    sf.write(tmp_path / "short.wav", np.zeros(300, np.float32), 16000)
    with pytest.raises(AudioError, match="short.wav.*too short"):
        file_features_streamed(tmp_path / "short.wav", cfg)
    with pytest.raises(AudioError, match="no such audio file"):
        file_features_streamed(tmp_path / "missing.wav", cfg)


def test_streamed_file_equals_whole_file_with_cmvn(tmp_path):
    cfg = FeatureConfig()
    stereo = np.stack([_wave(3.3, 1), _wave(3.3, 2)], axis=1)
    sf.write(tmp_path / "a.wav", stereo, 16000, subtype="FLOAT")
    whole = cmvn(compute_features(load_audio(tmp_path / "a.wav", 16000), cfg, rng=np.random.default_rng(0)))
    got = file_features_streamed(tmp_path / "a.wav", cfg, rng=np.random.default_rng(0), block_seconds=0.05)
    assert got.shape == whole.shape
    # CMVN statistics are summed block by block: float64 rounding only.
    np.testing.assert_allclose(got, whole, atol=1e-5)
    # Another rate is not streamed (resampled whole by the caller).
    sf.write(tmp_path / "b.wav", _wave(1.0, rate=8000), 8000)
    assert file_features_streamed(tmp_path / "b.wav", cfg) is None
