"""Audio loading: files soundfile can read, Kaldi ``wav.scp`` pipe commands, segment slicing.

Every loader returns a 1-D float32 array in [-1, 1] at the requested sample rate (mono: channels are
averaged). Audio at another rate is resampled with a band-limited resampler (soxr via librosa), never
by naive decimation. Every failure raises :class:`~speechdis.errors.AudioError` naming the file (or
command) and the reason: missing, unreadable/corrupt, empty, non-finite samples, too short.
"""
from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from speechdis.errors import AudioError

__all__ = [
    "load_audio",
    "load_wav_entry",
    "audio_info",
    "check_wav_complete",
    "check_upsampling",
    "MIN_SAMPLE_RATE",
    "is_pipe_entry",
    "resample",
    "WavEntryLoader",
]

# Audio below this rate is refused rather than upsampled unless asked (check_upsampling): telephone speech is
# 8 kHz; anything under 4 kHz is almost always a damaged or hostile header.
MIN_SAMPLE_RATE = 4000

# soundfile raises LibsndfileError (a RuntimeError) for corrupt data, but some malformed headers
# surface as other errors; all of them mean "unreadable" to the user.
_READ_ERRORS = (sf.SoundFileError, RuntimeError, ValueError, TypeError, EOFError, OSError)


def is_pipe_entry(entry: str) -> bool:
    """True for a Kaldi extended filename that is a shell command (``... |``)."""
    return entry.rstrip().endswith("|")


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr high quality) of a 1-D float32 signal."""
    if orig_sr == target_sr:
        return wave.astype(np.float32, copy=False)
    import librosa  # deferred: importing librosa costs ~1 s

    out = librosa.resample(wave.astype(np.float32, copy=False), orig_sr=orig_sr, target_sr=target_sr,
                           res_type="soxr_hq")
    return np.ascontiguousarray(out, dtype=np.float32)


def _to_mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def _frames_for(start: float | None, end: float | None, sr: int, total: int, name: str) -> tuple[int, int]:
    """Sample range for [start, end) seconds; end None or negative = end of file (Kaldi segments)."""
    s = 0 if start is None else int(round(start * sr))
    e = total if (end is None or end < 0) else int(round(end * sr))
    if s < 0:
        raise AudioError(f"{name}: segment start {start} is negative")
    if start is not None and s >= total:
        raise AudioError(f"{name}: segment start {start:.3f}s is past the end of the audio "
                         f"({total / sr:.3f}s)")
    # Kaldi's extract-segments tolerates ends slightly past the file end (rounding of times); clip.
    e = min(e, total)
    if e <= s:
        raise AudioError(f"{name}: empty segment [{start}, {end}]")
    return s, e


def _without_path(err: Exception, path: str | os.PathLike) -> str:
    """libsndfile's message without the path it repeats ("Error opening '/a/b.wav': Format not recognised."
    -> "Format not recognised."): the message already starts with the file's name."""
    text = str(err)
    quoted = f"Error opening '{path}': "
    return text[len(quoted):] if text.startswith(quoted) else text.replace(str(path), "the file")


def check_upsampling(sr: int, sample_rate: int, name: str, allow_upsample: bool = False) -> None:
    """AudioError for audio at an implausible rate (below :data:`MIN_SAMPLE_RATE`) that would be upsampled to
    ``sample_rate``: usually a damaged header (a 32 KB file "at 1 Hz" would become 256 M samples), unless
    ``allow_upsample`` (Kaldi's ``--allow-upsample``)."""
    if sr < MIN_SAMPLE_RATE and sample_rate > sr and not allow_upsample:
        raise AudioError(f"{name}: sample rate {sr} Hz is implausible (below {MIN_SAMPLE_RATE} Hz: a damaged "
                         f"header?); not upsampling it to {sample_rate} Hz unless --allow-upsample is given")


def _finish(data: np.ndarray, sr: int, sample_rate: int | None, min_duration: float, name: str,
            resample_ok: bool, allow_upsample: bool = False) -> np.ndarray:
    wave = _to_mono(data)
    if wave.size == 0:
        raise AudioError(f"{name}: audio is empty (0 samples)")
    if not np.all(np.isfinite(wave)):
        raise AudioError(f"{name}: audio contains NaN or infinite samples")
    if sample_rate is not None and sr != sample_rate:
        if not resample_ok:
            raise AudioError(f"{name}: sample rate is {sr} Hz, expected {sample_rate} Hz")
        check_upsampling(sr, sample_rate, name, allow_upsample)
        wave = resample(wave, sr, sample_rate)
        sr = sample_rate
    duration = wave.size / sr
    if duration < min_duration:
        raise AudioError(f"{name}: audio is too short ({duration:.3f}s < {min_duration:.3f}s)")
    return wave


# Data sizes that writers to a pipe put in a wav header when the length is unknown (libsndfile then reads to EOF).
_UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)
_UNKNOWN_WAV_SIZE_MIN = 0x7FFF0000


def check_wav_complete(path: str | os.PathLike) -> None:
    """Raise AudioError when a RIFF/WAVE file holds fewer data bytes than its header declares.

    libsndfile silently reads what is there, so a truncated copy would otherwise pass as a shorter
    recording. Other formats (and headers written with an unknown length) are not checked here.
    """
    name = str(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                chunk = f.read(8)
                if len(chunk) < 8:
                    return
                cid, csize = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"data":
                    if csize in _UNKNOWN_WAV_SIZES or csize >= _UNKNOWN_WAV_SIZE_MIN:
                        return
                    have = size - (pos + 8)
                    if have < csize:
                        raise AudioError(f"{name}: truncated wav file: the header declares {csize} bytes of "
                                         f"audio data, the file holds {have} ({100 * have / csize:.0f}%)")
                    return
                pos += 8 + csize + (csize & 1)
    except OSError:
        return  # unreadable: soundfile reports it with its own message


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """(sample_rate, num_frames, channels) of an audio file, read from its header only."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such audio file")
    check_wav_complete(path)
    try:
        info = sf.info(str(path))
    except _READ_ERRORS as e:
        raise AudioError(f"{path}: cannot read audio: {_without_path(e, path)}") from e
    return info.samplerate, info.frames, info.channels


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = 16000,
    min_duration: float = 0.0,
    *,
    start: float | None = None,
    end: float | None = None,
    resample_ok: bool = True,
    allow_upsample: bool = False,
) -> np.ndarray:
    """Read an audio file (wav, flac, ogg, ... whatever libsndfile reads) as mono float32.

    ``sample_rate``: target rate; audio at another rate is resampled (or, with
    ``resample_ok=False``, rejected). ``None`` keeps the file's own rate. Audio below
    :data:`MIN_SAMPLE_RATE` is not upsampled unless ``allow_upsample`` (:func:`check_upsampling`).
    ``start``/``end`` (seconds) read only that slice (``end`` None or < 0: to the end of file), as in a
    Kaldi ``segments`` file; only the slice is decoded from disk.
    ``min_duration`` (seconds, after slicing) rejects shorter audio.
    Raises AudioError naming the file: missing, unreadable/corrupt, empty, non-finite, too short.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise AudioError(f"{name}: no such audio file")
    if path.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    check_wav_complete(path)
    try:
        with sf.SoundFile(name) as f:
            sr = f.samplerate
            total = f.frames
            if start is None and end is None:
                data = f.read(dtype="float32", always_2d=True)
            else:
                if total == 0:
                    raise AudioError(f"{name}: audio is empty (0 samples)")
                s, e = _frames_for(start, end, sr, total, name)
                f.seek(s)
                data = f.read(e - s, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except _READ_ERRORS as e:
        raise AudioError(f"{name}: cannot read audio (corrupt or unsupported format): "
                         f"{_without_path(e, path)}") from e
    return _finish(data, sr, sample_rate, min_duration, name, resample_ok, allow_upsample)


def _run_pipe(command: str, timeout: float | None = None) -> bytes:
    cmd = command.rstrip()[:-1].strip()
    if not cmd:
        raise AudioError("wav.scp entry '|' has an empty command")
    try:
        proc = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(f"command '{cmd}' timed out after {timeout}s") from None
    except OSError as e:
        raise AudioError(f"command '{cmd}' could not be run: {e}") from e
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {err[-1]}" if err else ""
        raise AudioError(f"command '{cmd}' exited with status {proc.returncode}{detail}")
    if not proc.stdout:
        raise AudioError(f"command '{cmd}' produced no output (expected a wav stream)")
    return proc.stdout


def _decode_bytes(data: bytes, name: str) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sr = f.samplerate
            # Headers written to a pipe often carry a bogus (maximal) length; read to EOF instead.
            arr = f.read(dtype="float32", always_2d=True)
    except _READ_ERRORS as e:
        raise AudioError(f"{name}: cannot decode audio from command output: {e}") from e
    return arr, sr


def load_wav_entry(
    entry: str,
    sample_rate: int | None = 16000,
    min_duration: float = 0.0,
    *,
    start: float | None = None,
    end: float | None = None,
    resample_ok: bool = True,
    timeout: float | None = 600.0,
    allow_upsample: bool = False,
) -> np.ndarray:
    """Load the audio of one ``wav.scp`` value: a path, or a command ending in ``|``.

    Commands (e.g. ``flac -c -d -s a.flac |`` or ``sox a.wav -t wav - |``) are run through the shell
    and must write a wav (or any libsndfile format) stream to stdout. ``start``/``end`` slice as in
    :func:`load_audio`.
    """
    return WavEntryLoader(sample_rate, min_duration, resample_ok=resample_ok, timeout=timeout,
                          allow_upsample=allow_upsample).load(entry, start=start, end=end)


class WavEntryLoader:
    """Loads ``wav.scp`` entries, caching the last decoded pipe output.

    Many utterances of a ``segments`` file come from the same recording; for pipe entries the
    command's output is decoded once and reused while consecutive requests name the same entry.
    """

    def __init__(self, sample_rate: int | None = 16000, min_duration: float = 0.0, *,
                 resample_ok: bool = True, timeout: float | None = 600.0, allow_upsample: bool = False) -> None:
        self.sample_rate = sample_rate
        self.min_duration = min_duration
        self.resample_ok = resample_ok
        self.allow_upsample = allow_upsample
        self.timeout = timeout
        self._cache_key: str | None = None
        self._cache: tuple[np.ndarray, int] | None = None

    def load(self, entry: str, *, start: float | None = None, end: float | None = None) -> np.ndarray:
        """Audio of ``entry`` (path or ``cmd |``), optionally the [start, end) seconds slice."""
        entry = entry.strip()
        if not is_pipe_entry(entry):
            return load_audio(entry, self.sample_rate, self.min_duration, start=start, end=end,
                              resample_ok=self.resample_ok, allow_upsample=self.allow_upsample)
        name = f"command '{entry[:-1].strip()}'"
        if self._cache_key == entry and self._cache is not None:
            data, sr = self._cache
        else:
            data, sr = _decode_bytes(_run_pipe(entry, self.timeout), name)
            self._cache_key, self._cache = entry, (data, sr)
        if data.shape[0] == 0:
            raise AudioError(f"{name}: audio is empty (0 samples)")
        if start is not None or end is not None:
            s, e = _frames_for(start, end, sr, data.shape[0], name)
            data = data[s:e]
        return _finish(data, sr, self.sample_rate, self.min_duration, name, self.resample_ok, self.allow_upsample)
