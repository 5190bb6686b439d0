"""Reliability cases of issue 10 (audio loading): no silent corruption, no unsafe loading, no orphans,
one-line errors."""
from __future__ import annotations

import pytest


# ------------------------------------------------------------------------------------------------ audio
def test_truncated_wav_is_an_audio_error(tmp_path):
    """7: a wav cut short (first third of its bytes) is reported, not embedded as a shorter file."""
    from speechdis.audio.io import audio_info, load_audio
    from speechdis.errors import AudioError
    from tests.helpers import write_wave

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
