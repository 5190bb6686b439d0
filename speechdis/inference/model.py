"""Python API for trained speech models: ``load_model(EXP_DIR)`` → an :class:`Embedder`.

    >>> import speechdis
    >>> m = speechdis.load_model("recipes/mini/exp/disentangled")
    >>> out = m.embed_file("word.flac")                  # whole file = one segment
    >>> out["phonetic"].shape, out["speaker"].shape      # (1, 32), (1, 64) with the mini recipe's model
    >>> out = m.embed_file("utt.flac", segments=[(0.10, 0.52), (0.60, 1.05)])   # (2, 32), (2, 64)

Every ``embed_*`` method returns ``{name: (N, dim) float32 array}`` with one row per segment: keys
``phonetic`` and ``speaker`` for the disentangled model, ``embedding`` for the baseline autoencoder
(:attr:`Embedder.keys`); ``load_model(..., vectors=("phonetic",))`` computes only those (and runs only
their encoder).

Features are computed exactly as for training: with the feature config stored inside ``model.pt`` (the
features the model was trained on; ``model.pt`` alone is enough), over the **whole** file or wave, then CMVN over
the whole utterance, and only then are segments cut (frames whose centres lie in ``[start, end)``, as the data-dir
reader does). A segment no longer than the training length ``data.crop_frames`` is embedded as it is (as in
training); a **longer** one is never silently cut to its first frames: it is embedded as windows of
``crop_frames`` frames starting every ``crop_frames // 2`` frames (hop = half a window; the last window ends at
the segment's end so the tail is covered) and the window vectors are pooled per vector, phonetic and speaker
alike: the **mean** by default (``pool="max"``: element-wise max; ``pool="first"``: the old behaviour, the first
window only). A model whose speaker encoder was trained on utterance windows longer than the crop
(``data.speaker_context``) gets its speaker vectors from windows of that length (:attr:`Embedder.speaker_window`).
:meth:`Embedder.embed_speaker` gives one speaker vector for several files (the mean of theirs).
Models trained with
per-utterance CMVN therefore see identical inputs. A model trained with ``cmvn: speaker`` gets
**per-utterance** CMVN on raw audio (a single file has no speaker statistics); use a data dir with
precomputed features (``speechdis extract DATA_DIR``) to reproduce per-speaker normalisation. Dither
(normally 0) is seeded from the utterance id, as in ``speechdis features``.

Over 450 lines: :class:`Embedder` (batching, pooling, every input form) and its loader are one unit; what each
model kind makes (vector names, dimensions, roles) is its spec in :mod:`speechdis.speech.registry`.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from speechdis.audio.features import (
    FeatureConfig,
    cmvn,
    compute_features,
    read_stored_feature_config,
    segment_frames,
)
from speechdis.errors import AudioError, ConfigError, ModelError
from speechdis.registry import ModelSpec
from speechdis.speech.registry import speech_spec

log = logging.getLogger(__name__)

__all__ = ["Embedder", "load_model", "load_speech_model", "find_model_file", "Span", "POOLINGS", "crop_windows"]

# A segment given as (start, end) seconds, relative to the start of the file / wave.
Span = tuple[float, float]

# How the window vectors of a segment longer than the model's crop are pooled (module doc).
POOLINGS = ("mean", "max", "first")


def crop_windows(num_frames: int, crop: int | None) -> list[tuple[int, int]]:
    """Frame windows ``[b, e)`` that cover a segment of ``num_frames`` frames for a model trained on ``crop``.

    A segment of at most ``crop`` frames (or ``crop`` None) is one window, the whole segment. A longer one gets
    windows of ``crop`` frames starting every ``max(1, crop // 2)`` frames (hop = half a window), the last one
    moved back to end at ``num_frames`` so no frame is left out.
    """
    if not crop or num_frames <= crop:
        return [(0, num_frames)]
    hop = max(1, crop // 2)
    out = [(b, b + crop) for b in range(0, num_frames - crop + 1, hop)]
    if out[-1][1] < num_frames:
        out.append((num_frames - crop, num_frames))
    return out


def _check_pool(pool: str) -> str:
    if pool not in POOLINGS:
        raise ConfigError(f"pool must be one of {', '.join(POOLINGS)}, got {pool!r}")
    return pool


def find_model_file(exp_dir: str | os.PathLike) -> tuple[Path, list[str]]:
    """The weights file of an experiment: ``model.pt``, else ``checkpoints/latest.pt`` (with a warning).

    ``exp_dir`` may also name a ``.pt`` file directly. Returns ``(path, warnings)``; raises
    :class:`ModelError` when there is nothing to load.
    """
    p = Path(exp_dir)
    if not p.exists():
        from speechdis.pretrained import PRETRAINED, pretrained_path

        packaged = pretrained_path(str(exp_dir))
        if packaged is not None:
            return packaged, []
        names = ", ".join(sorted(PRETRAINED))
        raise ModelError(f"model {p}: no such directory or file, nor a packaged model name ({names})")
    if p.is_file():
        return p, []
    final = p / "model.pt"
    if final.is_file():
        return final, []
    latest = p / "checkpoints" / "latest.pt"
    if latest.is_file():
        msg = (f"{p}: no model.pt (training did not finish); using the latest checkpoint {latest}")
        return latest, [msg]
    contents = sorted(x.name for x in p.iterdir())[:8]
    raise ModelError(f"{p}: no trained model here (neither model.pt nor checkpoints/latest.pt; "
                     f"contents: {', '.join(contents) if contents else 'empty'}); "
                     f"train one with `speechdis train --config CONF --data DATA_DIR --out {p}`")


def _stored_yaml(path: Path) -> FeatureConfig:
    """A feats.yaml written by training (fields it lacks mean the behaviour of the version that wrote it)."""
    try:
        return read_stored_feature_config(path)
    except ConfigError as e:
        raise ModelError(str(e)) from e


def _utt_rng(utt: str | None) -> np.random.Generator:
    # Same seeding as speechdis.data.featjobs, so dithered features match the data-dir ones.
    seed = int(hashlib.sha1(utt.encode()).hexdigest()[:8], 16) if utt else 0
    return np.random.default_rng(seed)


@dataclass
class Embedder:
    """A trained autoencoder ready to embed segments (use :func:`load_model`)."""

    model: "torch.nn.Module"  # noqa: F821 - torch is imported lazily
    train_config: "TrainConfig"  # noqa: F821
    feature_config: FeatureConfig
    device: "torch.device"  # noqa: F821
    path: Path
    step: int = 0
    warnings: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)  # versions and git revision that made the model file
    batch_size: int = 256
    threads: int | None = 1  # torch CPU threads while embedding (see load_model); None: leave as is
    # Which of :attr:`keys` the embed_* calls compute (None: all). Only the asked-for encoders run, so
    # ``("phonetic",)`` halves the disentangled model's encoder work when the speaker vectors are not needed.
    vectors: tuple[str, ...] | None = None
    # Upsample audio below audio.io.MIN_SAMPLE_RATE (else refused as a damaged header; Kaldi's --allow-upsample).
    allow_upsample: bool = False
    # Pooling of the window vectors of a segment longer than crop_frames (module doc; POOLINGS).
    pool: str = "mean"
    # Energy trim of inputs embedded whole ({"trim_db", "pad"}: audio.trim.energy_bounds, as `prepare` trims
    # clips), None: none. load_model sets it from the model file's ``input_trim`` (what its training clips had).
    trim: dict | None = None
    # Kaldi-style speaker back end (centring, LDA, length norm; :mod:`speechdis.inference.backend`) applied to
    # the speaker vectors after pooling; load_model sets it from the model file's ``speaker_backend``.
    speaker_backend: "SpeakerBackend | None" = None  # noqa: F821

    def __post_init__(self) -> None:
        _check_batching(self.batch_size, self.threads)
        _check_pool(self.pool)
        if self.vectors is not None:
            self.vectors = tuple(self.vectors)
            bad = [v for v in self.vectors if v not in self.keys]
            if bad or not self.vectors:
                raise ConfigError(f"vectors {list(self.vectors)}: this {self.kind} model makes "
                                  f"{', '.join(self.keys)}")

    # -- description ---------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """The speech model kind (``model.kind``: ``"disentangled"``, ``"baseline"``, ...)."""
        return self.train_config.model.kind

    @property
    def spec(self) -> ModelSpec:
        """The model's registry entry (:mod:`speechdis.speech.registry`): its vectors and their roles."""
        return speech_spec(self.kind)

    @property
    def keys(self) -> list[str]:
        """Names of the vectors each ``embed_*`` call returns."""
        return list(self.spec.vectors)

    @property
    def dims(self) -> dict[str, int]:
        """Dimension of each vector (the speaker vector's after :attr:`speaker_backend`, when there is one)."""
        dims = self.spec.dims(self.train_config.model)
        if self.speaker_backend is not None:
            dims[self.roles["speaker"]] = self.speaker_backend.out_dim
        return dims

    @property
    def raw_dims(self) -> dict[str, int]:
        """Dimension of each vector as the network makes it (before :attr:`speaker_backend`)."""
        return self.spec.dims(self.train_config.model)

    @property
    def sha256(self) -> str:
        """SHA-256 of the model file: the model's identity (extract records it; search and --combine compare)."""
        if not getattr(self, "_sha256", None):
            from speechdis.fileio import file_sha256

            self._sha256 = file_sha256(self.path)
        return self._sha256

    @property
    def out_keys(self) -> list[str]:
        """The vectors the embed_* calls return: :attr:`vectors` when set, else all :attr:`keys`."""
        return list(self.vectors) if self.vectors is not None else self.keys

    @property
    def crop_frames(self) -> int | None:
        """The training length: longer segments are embedded as pooled windows of this many frames (None: whole)."""
        return self.train_config.data.crop_frames

    @property
    def roles(self) -> dict[str, str]:
        """``{"phonetic": key, "speaker": key}``: which vector plays each role (the baseline's one vector both)."""
        return dict(self.spec.roles)

    # -- features ------------------------------------------------------------------------------
    def features(self, wave: np.ndarray, sample_rate: int, utt: str | None = None) -> np.ndarray:
        """(T, D) model-ready features of a whole mono wave: resampled, features, utterance CMVN."""
        from speechdis.audio.io import check_upsampling, resample

        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise AudioError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim == 2 and wave.shape[0] < wave.shape[1] and wave.shape[0] <= 8:
            # (channels, N) as torchaudio returns it; fewer than 9 rows of many samples cannot be (N, channels)
            wave = wave.T
        if wave.ndim == 2:  # (N, channels) as soundfile returns it: average like load_audio does
            wave = wave.mean(axis=1)
        if wave.ndim != 1 or wave.size == 0:
            raise AudioError(f"expected a non-empty mono wave, got shape {wave.shape}")
        if not np.all(np.isfinite(wave)):
            raise AudioError("wave contains NaN or infinite samples")
        cfg = self.feature_config
        check_upsampling(int(sample_rate), cfg.sample_rate, f"wave at {sample_rate} Hz", self.allow_upsample)
        wave = resample(wave, int(sample_rate), cfg.sample_rate)
        feats = compute_features(wave, cfg, rng=_utt_rng(utt))
        if cfg.cmvn == "none":
            return feats
        # "speaker" falls back to the utterance: a lone wave has no speaker statistics (module doc).
        return cmvn(feats, cfg.norm_vars)

    def file_features(self, path: str | os.PathLike, utt: str | None = None) -> np.ndarray:
        """(T, D) model-ready features of a whole audio file (any rate: resampled).

        A file at the features' rate is read and featurised in blocks (:mod:`speechdis.audio.stream`: bounded
        memory for hour-long files, the same features); one at another rate is loaded whole and resampled.
        """
        from speechdis.audio.io import load_audio
        from speechdis.audio.stream import file_features_streamed

        cfg = self.feature_config
        utt = utt if utt is not None else Path(path).stem
        feats = file_features_streamed(path, cfg, rng=_utt_rng(utt), min_duration=cfg.min_duration)
        if feats is not None:
            return feats
        wave = load_audio(path, cfg.sample_rate, min_duration=cfg.min_duration, allow_upsample=self.allow_upsample)
        return self.features(wave, cfg.sample_rate, utt)

    def cut(self, feats: np.ndarray, segments: Sequence[Span] | None) -> list[np.ndarray]:
        """The segments' frames of an utterance's (T, D) features; None = the whole utterance."""
        if segments is None:
            return [feats]
        out = []
        cfg = self.feature_config
        shift = cfg.frame_shift_ms / 1000.0
        covered = (feats.shape[0] - 1) * shift + cfg.frame_length_ms / 1000.0  # seconds the frames span
        for start, end in segments:
            if not (math.isfinite(start) and math.isfinite(end)):
                raise AudioError(f"segment [{start}, {end}]: times must be finite seconds")
            if start < 0:
                raise AudioError(f"segment [{start}, {end}]: start is negative")
            if not end > start:
                raise AudioError(f"segment [{start}, {end}] is empty")
            if start >= covered or end > covered + shift:
                raise AudioError(f"segment [{start}, {end}] is not inside the audio (0-{covered:.3f}s)")
            b, e = segment_frames(start, end, cfg, feats.shape[0])
            out.append(feats[b:e])
        return out

    # -- embedding -----------------------------------------------------------------------------
    def embed_features(self, feats: Sequence[np.ndarray], batch_size: int | None = None,
                       progress: Callable[[int], None] | None = None, pool: str | None = None
                       ) -> dict[str, np.ndarray]:
        """Embed model-ready (T_i, D) segment features → ``{key: (N, dim) float32}`` in input order.

        A segment longer than :attr:`crop_frames` is embedded as windows of that length (hop = half a window,
        :func:`crop_windows`) whose vectors are pooled with ``pool`` (default :attr:`pool`: ``mean``; ``max``;
        ``first`` = the first window only, the behaviour before pooling). Shorter segments are embedded whole.
        Speaker vectors use windows of :attr:`speaker_window` frames instead (the length the speaker encoder was
        trained on: longer than the crop for ``data.speaker_context``), in a second pass when it differs.
        Windows are batched by similar length (padding is packed away, so batching does not change the vectors
        beyond float rounding). ``progress(n)`` is called after each batch with the number of windows done in it.
        """
        pool = _check_pool(self.pool if pool is None else pool)
        n = len(feats)
        dim = self.train_config.model.feat_dim
        arrays = []
        for i, f in enumerate(feats):
            f = np.asarray(f, dtype=np.float32)
            if f.ndim != 2 or f.shape[1] != dim or f.shape[0] == 0:
                raise AudioError(f"segment {i}: expected (T, {dim}) features with T >= 1, got {f.shape}")
            if not np.isfinite(f).all():  # would give a NaN vector, silently
                raise AudioError(f"segment {i}: features have NaN or infinite values")
            arrays.append(f)
        bs = self.batch_size if batch_size is None else batch_size
        _check_batching(bs, self.threads)  # a batch size < 1 would embed nothing and return the zeros
        out = {k: np.zeros((n, self.dims[k]), dtype=np.float32) for k in self.out_keys}
        if n == 0:
            return out
        for window, keys in self._window_groups():
            out.update(self._embed_windows(arrays, window, keys, pool, bs, progress))
        spk = self.roles.get("speaker")
        if self.speaker_backend is not None and spk in out:
            out[spk] = self.speaker_backend.apply(out[spk])
        return {k: out[k] for k in self.out_keys}

    @property
    def speaker_window(self) -> int | None:
        """Window length of speaker vectors of long segments: ``data.speaker_context`` when the speaker encoder
        was trained on utterance windows longer than :attr:`crop_frames`, else :attr:`crop_frames`."""
        crop, ctx = self.crop_frames, self.train_config.data.speaker_context
        return ctx if crop is not None and ctx > crop else crop

    def _window_groups(self) -> list[tuple[int | None, list[str]]]:
        """(window length, vectors computed with it): one group unless speaker vectors have their own."""
        spk = self.roles.get("speaker")
        if self.speaker_window == self.crop_frames or spk not in self.out_keys or spk == self.roles.get("phonetic"):
            return [(self.crop_frames, self.out_keys)]
        rest = [k for k in self.out_keys if k != spk]
        return ([(self.crop_frames, rest)] if rest else []) + [(self.speaker_window, [spk])]

    def _embed_windows(self, arrays: list[np.ndarray], crop: int | None, keys: list[str], pool: str, bs: int,
                       progress: Callable[[int], None] | None) -> dict[str, np.ndarray]:
        """Vectors ``keys`` of each segment from its ``crop``-frame windows, pooled with ``pool``."""
        import torch

        n = len(arrays)
        wins, owners = [], []  # one entry per window; owners[j] = the segment window j belongs to
        for i, f in enumerate(arrays):
            spans = crop_windows(f.shape[0], crop)
            for b, e in spans[:1] if pool == "first" else spans:
                wins.append(f[b:e])
                owners.append(i)
        order = np.argsort([-a.shape[0] for a in wins], kind="stable")
        win_out = {k: np.zeros((len(wins), self.raw_dims[k]), dtype=np.float32) for k in keys}
        saved = torch.get_num_threads()
        if self.threads and self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        try:
            self._run(wins, order, bs, win_out, progress)
        finally:
            torch.set_num_threads(saved)
        if len(wins) == n:  # one window per segment: nothing to pool
            return win_out
        owners_a = np.asarray(owners)
        counts = np.bincount(owners_a, minlength=n)
        out = {}
        for k, v in win_out.items():
            if pool == "max":
                out[k] = np.full((n, v.shape[1]), -np.inf, dtype=np.float32)
                np.maximum.at(out[k], owners_a, v)
            else:  # mean (float64 sums: a few hundred windows lose nothing)
                sums = np.zeros((n, v.shape[1]), dtype=np.float64)
                np.add.at(sums, owners_a, v)
                out[k] = (sums / counts[:, None]).astype(np.float32)
        return out

    def _run(self, arrays: list[np.ndarray], order: np.ndarray, bs: int, out: dict[str, np.ndarray],
             progress: Callable[[int], None] | None) -> None:
        import torch

        from speechdis.data.segments import collate_segments

        n = len(arrays)
        with torch.inference_mode():
            for b0 in range(0, n, bs):
                idx = order[b0:b0 + bs]
                # Frames read from an ark are read-only views: torch warns on those, so they are copied.
                batch = collate_segments([{"feats": torch.from_numpy(arrays[i] if arrays[i].flags.writeable
                                                                      else arrays[i].copy()),
                                           "length": arrays[i].shape[0],
                                           "speaker": -1, "word": -1, "index": int(i)} for i in idx])
                res = self.model.embed(batch["feats"].to(self.device), batch["lengths"], tuple(out))
                for k in out:
                    out[k][idx] = res[k].float().cpu().numpy()
                if progress is not None:
                    progress(len(idx))

    def trim_span(self, source: str | os.PathLike | tuple[np.ndarray, int]) -> Span | None:
        """The ``(start, end)`` seconds :attr:`trim` keeps of a file or ``(wave, rate)`` embedded whole (None: no
        trim). Features are still computed (and normalised) over the whole input, then cut, as in training."""
        from speechdis.audio.trim import energy_bounds, file_energy_bounds

        if not self.trim:
            return None
        if isinstance(source, tuple):
            wave = np.asarray(source[0], dtype=np.float32)
            return energy_bounds(wave.mean(axis=1) if wave.ndim == 2 else wave, int(source[1]), **self.trim)
        return file_energy_bounds(source, **self.trim)

    def embed_waveform(self, wave: np.ndarray, sample_rate: int, segments: Sequence[Span] | None = None
                       ) -> dict[str, np.ndarray]:
        """Embed a mono wave (float, any rate): the whole wave (energy-trimmed when :attr:`trim` is set), or each
        ``(start, end)`` span in seconds."""
        feats = self.features(wave, sample_rate)
        if segments is None and self.trim:
            segments = [self.trim_span((wave, sample_rate))]
        return self.embed_features(self.cut(feats, segments))

    def embed_file(self, path: str | os.PathLike, segments: Sequence[Span] | None = None
                   ) -> dict[str, np.ndarray]:
        """Embed an audio file: the whole file, or each ``(start, end)`` span in seconds."""
        feats = self.file_features(path)
        if segments is None and self.trim:
            segments = [self.trim_span(path)]
        return self.embed_features(self.cut(feats, segments))

    def embed_speaker(self, inputs: Sequence[str | os.PathLike | tuple[np.ndarray, int]]) -> np.ndarray:
        """One speaker vector for a speaker's recordings: the **mean** of their per-file speaker vectors.

        ``inputs``: audio file paths and/or ``(wave, sample_rate)`` pairs, each embedded whole (a file longer
        than the crop is itself the pooled mean of its windows, see :meth:`embed_features`). Every file
        counts equally, whatever its length (the spk2utt-style mean). Returns a ``(dim,)`` float32 array;
        the baseline autoencoder's single ``embedding`` plays the speaker role.
        """
        if isinstance(inputs, (str, os.PathLike)) or (isinstance(inputs, tuple) and len(inputs) == 2
                                                      and isinstance(inputs[0], np.ndarray)):
            inputs = [inputs]  # one file or one (wave, rate) given bare
        if len(inputs) == 0:
            raise AudioError("embed_speaker: no inputs")
        key = self.roles["speaker"]
        if self.vectors is not None and key not in self.vectors:
            raise ConfigError(f"embed_speaker needs the {key!r} vector; this embedder computes only "
                              f"{', '.join(self.vectors)}")
        feats = []
        for x in inputs:
            f = self.file_features(x) if isinstance(x, (str, os.PathLike)) else self.features(*x)
            feats += self.cut(f, [self.trim_span(x)]) if self.trim else [f]
        vecs = self.embed_features(feats)[key]
        return vecs.astype(np.float64).mean(axis=0).astype(np.float32)

    def verify(self, a: str | os.PathLike | Sequence[str | os.PathLike],
               b: str | os.PathLike | Sequence[str | os.PathLike]) -> float:
        """How alike two speakers sound: the cosine of their :meth:`embed_speaker` vectors (a file or a list of
        files each; higher = more likely one speaker; pick the decision threshold on trials of known pairs)."""
        from speechdis import cosine

        return cosine(self.embed_speaker(a), self.embed_speaker(b))


def _check_batching(batch_size: int, threads: int | None) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch size must be an integer >= 1, got {batch_size!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                or threads < 1):
        raise ConfigError(f"threads must be an integer >= 1 or None, got {threads!r}")


def load_model(exp_dir: str | os.PathLike, device: str = "auto", batch_size: int = 256,
               threads: int | None = 1, vectors: Sequence[str] | None = None, pool: str = "mean",
               trim: bool | None = None, backend: bool = True):
    """Load a trained model from an experiment dir (``speechdis train --out EXP_DIR``) or a model file.

    Speech models come back as an :class:`Embedder`; image models (``speechdis image train``) as a
    :class:`speechdis.image.registry.ImageModel` - one loader for every model file of the package.

    Uses ``EXP_DIR/model.pt`` (falling back to ``checkpoints/latest.pt`` with a logged warning); the file holds
    the feature config, so nothing else is read. A model file written before features were stored inside
    (format 1) needs the experiment's ``feats.yaml`` beside it, else :class:`ModelError`. ``device``: ``auto``
    (CUDA when available), ``cpu``, ``cuda``, ``cuda:N``. ``threads``: torch CPU threads while embedding
    (default 1: these small RNN batches gain little from more, and on shared cores competing OpenMP threads
    made embedding ~40x slower in our measurements; None keeps torch's setting). ``vectors``: compute only
    these of the model's vectors (:attr:`Embedder.vectors`). ``pool``: how segments longer than the training
    crop are pooled over their windows (:attr:`Embedder.pool`, module doc). ``trim``: energy-trim inputs
    embedded whole as ``prepare`` trims clips (:attr:`Embedder.trim`); None (default) = as the model's training
    clips were (the file's ``input_trim``: on for the packaged Speech Commands models), True with the model's (or
    prepare's default) settings, False never. ``backend``: apply the speaker back end stored in the file
    (``speechdis backend``; :mod:`speechdis.inference.backend`) to speaker vectors; False gives the raw network
    vectors (a file without one has only those). Raises :class:`ModelError` when there is no
    usable model.
    """
    from speechdis.inference.backend import STATE_KEY as BACKEND_KEY
    from speechdis.inference.backend import SpeakerBackend
    from speechdis.training.checkpoint import load_checkpoint, load_trained, model_family
    from speechdis.training.config import resolve_device

    _check_batching(batch_size, threads)  # before the model is read
    _check_pool(pool)
    path, warns = find_model_file(exp_dir)
    for w in warns:
        log.warning(w)
    try:
        dev = resolve_device(device)
    except Exception as e:  # ConfigError for unavailable CUDA: a model-loading problem here
        raise ModelError(f"device {device!r}: {e}") from e
    state = load_checkpoint(path, dev)
    if model_family(state) == "image":
        from speechdis.image.registry import load_image_model

        return load_image_model(path, state)
    trained = load_trained(path, dev, state=state)
    cfg, fcfg = trained.config, trained.features
    if fcfg is None:  # format 1: the front end lived beside the file
        exp = path.parent if path.parent.name != "checkpoints" else path.parent.parent
        feats_yaml = exp / "feats.yaml"
        if not feats_yaml.is_file():
            raise ModelError(f"{path} was saved without its feature config (by an older speechdis, or trained on "
                             f"features made outside it) and there is no "
                             f"feats.yaml beside it; copy the experiment's feats.yaml to {feats_yaml}")
        fcfg = _stored_yaml(feats_yaml)
        warns.append(f"{path}: an older model file without its feature config; using {feats_yaml}")
        log.warning(warns[-1])
    if fcfg.dim != cfg.model.feat_dim:
        raise ModelError(f"{path}: the model takes {cfg.model.feat_dim}-dim features but its feature config "
                         f"describes {fcfg.dim}-dim {fcfg.kind}")
    speaker_backend = None
    if backend and trained.state.get(BACKEND_KEY) is not None:
        speaker_backend = SpeakerBackend.from_state(trained.state[BACKEND_KEY], str(path))
    return Embedder(model=trained.model, train_config=cfg, feature_config=fcfg, device=dev, path=path,
                    step=trained.step, warnings=warns, batch_size=batch_size, threads=threads,
                    provenance=trained.provenance, vectors=tuple(vectors) if vectors is not None else None,
                    pool=pool, trim=_trim_setting(trim, trained.state.get("input_trim")),
                    speaker_backend=speaker_backend)


def _trim_setting(trim: bool | None, recorded) -> dict | None:
    """Embedder.trim from load_model's ``trim`` and the model file's ``input_trim`` (None or {trim_db, pad})."""
    from speechdis.audio.trim import TRIM_DB, TRIM_PAD

    if trim is False or (trim is None and not recorded):
        return None
    rec = recorded if isinstance(recorded, dict) else {}
    return {"trim_db": float(rec.get("trim_db", TRIM_DB)), "pad": float(rec.get("pad", TRIM_PAD))}


def load_speech_model(exp_dir: str | os.PathLike, **kwargs) -> Embedder:
    """:func:`load_model` for commands that embed speech: an image model is a :class:`ModelError` naming it."""
    model = load_model(exp_dir, **kwargs)
    if not isinstance(model, Embedder):
        raise ModelError(f"{model.path} is an image model ({model.name}), not a speech model; load it with "
                         f"speechdis.image.load_model or use it with `speechdis image evaluate`")
    return model
