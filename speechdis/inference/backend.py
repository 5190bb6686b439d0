"""Speaker back end: the Kaldi x-vector recipe's post-processing of raw speaker vectors, stored in the model file.

Kaldi's x-vector recipes never score raw network outputs: they subtract the global mean of the training
vectors (``ivector-subtract-global-mean``), reduce with LDA trained on the training speakers
(``ivector-compute-lda``) and length-normalise before scoring. :class:`SpeakerBackend` is that chain,
**fitted on training speakers only** (:func:`fit_speaker_backend`):

    x → x − mean → x / ‖x‖ → (x − lda_mean) · lda → x / ‖x‖

``lda`` None (``lda_dim=0``) keeps only the centring and length norm. :func:`attach_speaker_backend` writes
it into a copy of a model file under ``speaker_backend``; :func:`speechdis.load_model` then applies it to the
speaker vectors (the speaker role) of every ``embed_*`` call, after window pooling (``backend=False`` gives
the raw vectors). Phonetic vectors are never touched. ``speechdis backend`` is the command.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

from speechdis.errors import ConfigError, ModelError

__all__ = ["SpeakerBackend", "fit_speaker_backend", "attach_speaker_backend", "BackendReport", "fit_backend_on_data",
           "STATE_KEY"]

STATE_KEY = "speaker_backend"  # the model file's entry


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def _speaker_key(roles: dict[str, str], kind: str, where: object) -> str:
    """The vector playing the speaker role; a model whose one vector plays both roles cannot have a back end."""
    spk = roles.get("speaker")
    if spk is None or spk == roles.get("phonetic"):
        raise ModelError(f"{where}: a {kind} model has no separate speaker vector for a back end")
    return spk


@dataclass
class SpeakerBackend:
    """Centring, optional LDA and length normalisation of speaker vectors (module doc)."""

    mean: np.ndarray  # (d,) mean of the raw training vectors
    lda_mean: np.ndarray | None = None  # (d,) mean of the centred, unit training vectors
    lda: np.ndarray | None = None  # (d, k) LDA projection
    n_vectors: int = 0
    n_speakers: int = 0

    @property
    def in_dim(self) -> int:
        """Dimension of the raw vectors it takes."""
        return int(self.mean.shape[0])

    @property
    def out_dim(self) -> int:
        """Dimension of the vectors it gives (the LDA dimension, else :attr:`in_dim`)."""
        return int(self.lda.shape[1]) if self.lda is not None else self.in_dim

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(N, in_dim) raw speaker vectors → (N, out_dim) float32, unit length."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ConfigError(f"speaker back end takes (N, {self.in_dim}) vectors, got {x.shape}")
        y = _unit(x - self.mean)
        if self.lda is not None:
            y = _unit((y - self.lda_mean) @ self.lda)
        return y.astype(np.float32)

    def to_state(self) -> dict:
        """Plain values and tensors for the model file (loads with ``weights_only=True``)."""
        import torch

        state = {"mean": torch.from_numpy(self.mean.astype(np.float64)), "n_vectors": int(self.n_vectors),
                 "n_speakers": int(self.n_speakers)}
        if self.lda is not None:
            state["lda_mean"] = torch.from_numpy(self.lda_mean.astype(np.float64))
            state["lda"] = torch.from_numpy(self.lda.astype(np.float64))
        return state

    @classmethod
    def from_state(cls, state: dict, where: str = "model file") -> "SpeakerBackend":
        """The back end stored by :meth:`to_state`; :class:`ModelError` naming ``where`` when malformed."""
        try:
            mean = np.asarray(state["mean"], dtype=np.float64)
            lda = state.get("lda")
            be = cls(mean=mean, n_vectors=int(state.get("n_vectors", 0)), n_speakers=int(state.get("n_speakers", 0)))
            if lda is not None:
                be.lda = np.asarray(lda, dtype=np.float64)
                be.lda_mean = np.asarray(state["lda_mean"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{where}: malformed {STATE_KEY} entry ({e})") from e
        if mean.ndim != 1 or (be.lda is not None and (be.lda.ndim != 2 or be.lda.shape[0] != mean.shape[0]
                                                       or be.lda_mean.shape != mean.shape)):
            raise ModelError(f"{where}: {STATE_KEY} has inconsistent shapes (mean {mean.shape}, "
                             f"lda {None if be.lda is None else be.lda.shape})")
        return be


def fit_speaker_backend(vectors: np.ndarray, speakers: Sequence[Hashable], lda_dim: int | None = None
                        ) -> SpeakerBackend:
    """Fit :class:`SpeakerBackend` on raw training speaker vectors and their speaker labels.

    ``lda_dim``: LDA dimensions (None: ``min(dim, speakers − 1)``; 0: no LDA, centring and length norm only).
    Speakers with a single vector add nothing to the within-speaker scatter and are refused for LDA as a
    whole only when fewer than two speakers have two or more vectors.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(speakers):
        raise ConfigError(f"vectors {x.shape} and {len(speakers)} speaker labels do not match")
    if not np.isfinite(x).all():
        raise ConfigError("speaker vectors have NaN or infinite values")
    names = np.asarray([str(s) for s in speakers])
    labels, counts = np.unique(names, return_counts=True)
    if len(labels) < 2 or (counts >= 2).sum() < 2:
        raise ConfigError(f"a speaker back end needs at least 2 speakers with 2+ vectors each; got "
                          f"{len(labels)} speaker(s), {(counts >= 2).sum()} with 2+ vectors")
    mean = x.mean(axis=0)
    be = SpeakerBackend(mean=mean, n_vectors=x.shape[0], n_speakers=len(labels))
    if lda_dim == 0:
        return be
    most = min(x.shape[1], len(labels) - 1)
    k = most if lda_dim is None else int(lda_dim)
    if not 1 <= k <= most:
        raise ConfigError(f"lda_dim must be in 1..{most} (min of the vector dimension {x.shape[1]} and "
                          f"speakers − 1 = {len(labels) - 1}), got {lda_dim}")
    y = _unit(x - mean)
    lda = LinearDiscriminantAnalysis(solver="svd", n_components=k).fit(y, names)
    be.lda_mean, be.lda = lda.xbar_.astype(np.float64), lda.scalings_[:, :k].astype(np.float64)
    return be


def attach_speaker_backend(model_path: str | os.PathLike, backend: SpeakerBackend, out_path: str | os.PathLike,
                           fitted_on: dict | None = None) -> Path:
    """Write ``model_path`` with ``backend`` (and what it was fitted on) as ``out_path``, atomically.

    ``out_path`` may be ``model_path`` itself. The model's speaker vectors must have the back end's input
    dimension; a file that already has a back end gets the new one.
    """
    from speechdis.config import from_dict
    from speechdis.modelfile import load_checkpoint, model_family, save_checkpoint
    from speechdis.speech.registry import speech_spec
    from speechdis.training.config import TrainConfig

    src = Path(model_path)
    state = load_checkpoint(src)
    if not isinstance(state, dict) or "config" not in state or model_family(state) != "speech":
        raise ModelError(f"{src} is not a speechdis speech model")
    cfg = from_dict(TrainConfig, state["config"])
    spec = speech_spec(cfg.model.kind)
    dim = spec.dims(cfg.model)[_speaker_key(dict(spec.roles), cfg.model.kind, src)]
    if dim != backend.in_dim:
        raise ModelError(f"{src}: its speaker vectors have {dim} dimensions, the back end takes {backend.in_dim}")
    state[STATE_KEY] = {**backend.to_state(), "fitted_on": dict(fitted_on or {})}
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, state)
    return out


@dataclass
class BackendReport:
    """What :func:`fit_backend_on_data` embedded: vectors and speakers per data dir, items skipped."""

    per_dir: list[tuple[str, int, int]]  # (data dir, vectors, speakers)
    skipped: list[str]
    backend: SpeakerBackend

    def summary(self) -> str:
        """Lines for the CLI."""
        lines = [f"  {d}: {n} vectors, {s} speakers" for d, n, s in self.per_dir]
        be = self.backend
        lda = f"LDA {be.in_dim} -> {be.out_dim}" if be.lda is not None else "no LDA"
        lines.append(f"speaker back end: centring + {lda} + length norm, fitted on {be.n_vectors} vectors of "
                     f"{be.n_speakers} speakers")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} segment(s)/file(s), e.g. {self.skipped[0]}")
        return "\n".join(lines)


def fit_backend_on_data(embedder, data_dirs: Sequence[str | os.PathLike], lda_dim: int | None = None,
                        workers: int = 0) -> BackendReport:
    """Embed every word segment of ``data_dirs`` (raw speaker vectors: ``embedder`` must have no back end) and
    fit :func:`fit_speaker_backend` on them, speakers from each dir's ``utt2spk``.

    Speaker ids are taken as they are, so two dirs of one corpus (e.g. its whole sentences and their 3 s chunks,
    ``prepare chunks``) pool their speakers; dirs of different corpora need distinct ids (``prepare combine``
    prefixes them). Use training speakers only: a back end fitted on evaluation speakers flatters their EER.
    """
    from speechdis.inference.extract import extract

    if embedder.speaker_backend is not None:
        raise ConfigError("fit a speaker back end on raw vectors: load the model with backend=False")
    spk = _speaker_key(embedder.roles, embedder.kind, embedder.path)
    vecs, labels, per_dir, skipped = [], [], [], []
    for d in data_dirs:
        res = extract(embedder, [d], workers=workers)
        vecs.append(res.vectors[spk])
        labels.extend(res.speakers)
        per_dir.append((str(d), len(res.ids), len(set(res.speakers))))
        skipped.extend(f"{s.item}: {s.reason}" for s in res.skipped if s.item != "(note)")
    backend = fit_speaker_backend(np.concatenate(vecs), labels, lda_dim)
    return BackendReport(per_dir=per_dir, skipped=skipped, backend=backend)
