"""Audio loading: formats, mono mix, resampling, pipes, segments and every failure mode."""
from __future__ import annotations

import shlex

import numpy as np
import pytest
import soundfile as sf

from speechdis.audio.io import WavEntryLoader, audio_info, is_pipe_entry, load_audio, load_wav_entry
from speechdis.errors import AudioError
from tests.helpers import make_wave, write_wave


@pytest.mark.parametrize("ext,kwargs,atol", [
    ("wav", {"subtype": "PCM_16"}, 1e-4),
    ("flac", {}, 1e-4),
    ("ogg", {"format": "OGG", "subtype": "VORBIS"}, None),
])
def test_formats_roundtrip(tmp_path, ext, kwargs, atol):
    path = write_wave(tmp_path / f"a.{ext}", 0.5, **kwargs)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert wave.shape[0] == 8000
    ref = make_wave(0.5)
    if atol is not None:
        np.testing.assert_allclose(wave, ref, atol=atol)
    else:  # lossy: just the same signal, roughly
        assert np.corrcoef(wave, ref)[0, 1] > 0.9


def test_stereo_mixed_to_mono(tmp_path):
    path = write_wave(tmp_path / "st.wav", 0.25, channels=2, subtype="FLOAT")
    stereo = make_wave(0.25, channels=2)
    np.testing.assert_allclose(load_audio(path), stereo.mean(axis=1), atol=1e-6)


def test_resampled_with_band_limited_resampler(tmp_path):
    path = write_wave(tmp_path / "a8k.wav", 1.0, sr=8000, freq=1000.0, subtype="FLOAT")
    wave = load_audio(path, 16000)
    assert wave.shape[0] == 16000
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) - 1000) <= 1  # 1 Hz bins: the tone stays at 1 kHz
    # no imaging: nothing substantial above the old Nyquist (4 kHz)
    assert spectrum[4200:].max() < 0.05 * spectrum.max()
    assert load_audio(path, None).shape[0] == 8000  # None keeps the native rate


def test_wrong_rate_rejected_when_resampling_disabled(tmp_path):
    path = write_wave(tmp_path / "a8k.wav", 0.2, sr=8000)
    with pytest.raises(AudioError, match=r"a8k\.wav.*8000 Hz, expected 16000"):
        load_audio(path, 16000, resample_ok=False)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav: no such audio file"):
        load_audio(tmp_path / "nope.wav")


def test_corrupt_file(tmp_path):
    path = tmp_path / "bad.flac"
    path.write_bytes(b"fLaC" + np.random.default_rng(0).bytes(500))
    with pytest.raises(AudioError, match=r"bad\.flac: cannot read audio"):
        load_audio(path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"zero\.wav"):
        load_audio(path)


def test_empty_audio(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav: audio is empty \(0 samples\)"):
        load_audio(path)


def test_too_short(tmp_path):
    path = write_wave(tmp_path / "short.wav", 0.01)
    with pytest.raises(AudioError, match=r"short\.wav: audio is too short \(0\.010s < 0\.025s\)"):
        load_audio(path, min_duration=0.025)
    assert load_audio(path).shape[0] == 160


def test_non_finite_samples(tmp_path):
    path = tmp_path / "nan.wav"
    data = make_wave(0.1)
    data[10] = np.nan
    sf.write(str(path), data, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(path)


def test_audio_info(tmp_path):
    path = write_wave(tmp_path / "a.flac", 0.5, sr=8000)
    assert audio_info(path) == (8000, 4000, 1)


def test_segment_slicing(tmp_path):
    path = write_wave(tmp_path / "a.wav", 1.0, subtype="FLOAT")
    full = load_audio(path)
    np.testing.assert_array_equal(load_audio(path, start=0.25, end=0.5), full[4000:8000])
    np.testing.assert_array_equal(load_audio(path, start=0.5, end=-1), full[8000:])  # -1: to the end
    np.testing.assert_array_equal(load_audio(path, start=0.9, end=1.2), full[14400:])  # clipped at EOF
    with pytest.raises(AudioError, match="past the end"):
        load_audio(path, start=2.0, end=3.0)
    with pytest.raises(AudioError, match="empty segment"):
        load_audio(path, start=0.5, end=0.5)


def test_pipe_entry(tmp_path):
    path = write_wave(tmp_path / "a.wav", 0.5, subtype="FLOAT")
    entry = f"cat {shlex.quote(str(path))} |"
    assert is_pipe_entry(entry) and not is_pipe_entry(str(path))
    np.testing.assert_array_equal(load_wav_entry(entry), load_audio(path))
    np.testing.assert_array_equal(load_wav_entry(entry, start=0.1, end=0.2), load_audio(path)[1600:3200])
    np.testing.assert_array_equal(load_wav_entry(str(path)), load_audio(path))


def test_pipe_failures(tmp_path):
    with pytest.raises(AudioError, match=r"command 'exit 3' exited with status 3"):
        load_wav_entry("exit 3 |")
    with pytest.raises(AudioError, match="produced no output"):
        load_wav_entry("true |")
    with pytest.raises(AudioError, match=r"command 'echo hello'.*cannot decode"):
        load_wav_entry("echo hello |")


def test_pipe_output_reused_for_segments_of_one_recording(tmp_path):
    path = write_wave(tmp_path / "rec.wav", 1.0)
    counter = tmp_path / "runs"
    entry = f"sh -c 'echo x >> {counter}; cat {path}' |"
    loader = WavEntryLoader(16000)
    a = loader.load(entry, start=0.0, end=0.5)
    b = loader.load(entry, start=0.5, end=1.0)
    assert a.shape[0] == b.shape[0] == 8000
    assert counter.read_text().count("x") == 1  # the command ran once for both segments
