"""Reading a data dir's features: :class:`FeatsReader`, a lazy ``{utt: matrix}`` with CMVN applied.

The writer is :mod:`speechdis.data.featjobs` (``make_features``); the two share only the file names below,
so the training dataset (:mod:`speechdis.data.dataset`) does not import the feature writer.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from speechdis.audio.features import (
    FeatureConfig,
    apply_cmvn,
    cmvn_stats,
    read_stored_feature_config,
    segment_frames,
)
from speechdis.data.tables import read_feats_scp, read_utt2num_frames, read_utt2spk, refuse_commands
from speechdis.errors import ConfigError, DataDirError

__all__ = ["FeatsReader", "FEATS_CONFIG", "SKIPPED_FILE"]

FEATS_CONFIG = "conf/feats.yaml"
SKIPPED_FILE = "feats_skipped.txt"


class FeatsReader(Mapping[str, np.ndarray]):
    """Lazy, read-only ``{utt: (T, D) float32 features}`` of a data dir, CMVN applied.

    Only ``feats.scp`` (ids and offsets) is held in memory; each access reads one matrix from its
    ark. CMVN follows ``conf/feats.yaml`` (written by :func:`make_features`) unless ``cmvn`` /
    ``norm_vars`` override it; without that file the default is no CMVN. Per-speaker stats come
    from ``cmvn.scp``; per-utterance CMVN uses ``cmvn.scp`` when present, else the matrix itself.
    Picklable (for DataLoader workers): it holds paths and small dicts only. Reading a matrix with NaN or
    infinite values is a DataDirError naming the utterance. ``allow_commands=False`` refuses feats.scp /
    cmvn.scp entries that are shell commands (``... |``, which reading would run).
    """

    def __init__(self, data_dir: str | os.PathLike, cmvn: str | None = None, norm_vars: bool | None = None,
                 allow_commands: bool = True) -> None:
        self.data_dir = Path(data_dir)
        scp = self.data_dir / "feats.scp"
        if not scp.exists():
            raise DataDirError(f"{scp}: no such file (run 'speechdis features {self.data_dir}' first)")
        self._scp = read_feats_scp(scp)
        if not allow_commands:  # entries "cmd |" would run cmd (kaldiio, like Kaldi): refused unless allowed
            refuse_commands(scp, self._scp)
        conf = self.data_dir / FEATS_CONFIG
        # As stored by make_features: fields an older speechdis did not write take that version's behaviour.
        self.config: FeatureConfig | None = read_stored_feature_config(conf) if conf.exists() else None
        mode = cmvn if cmvn is not None else (self.config.cmvn if self.config else "none")
        if mode not in ("utterance", "speaker", "none"):
            raise ConfigError(f"cmvn must be 'utterance', 'speaker' or 'none', got {mode!r}")
        self.cmvn = mode
        self.norm_vars = norm_vars if norm_vars is not None else (self.config.norm_vars if self.config else True)
        if self.config is not None and (mode, self.norm_vars) != (self.config.cmvn, self.config.norm_vars):
            # The config describes the features as read (what a model trained on them expects).
            self.config = dataclasses.replace(self.config, cmvn=mode, norm_vars=self.norm_vars)
        u2n = self.data_dir / "utt2num_frames"
        self._num_frames = read_utt2num_frames(u2n) if u2n.exists() else {}
        u2s = self.data_dir / "utt2spk"
        self._utt2spk = read_utt2spk(u2s) if u2s.exists() else {}
        cscp = self.data_dir / "cmvn.scp"
        self._cmvn_scp = read_feats_scp(cscp) if cscp.exists() else {}
        if not allow_commands:
            refuse_commands(cscp, self._cmvn_scp)
        self._stats_cache: dict[str, np.ndarray] = {}
        if mode == "speaker":
            if not self._cmvn_scp:
                raise DataDirError(f"{cscp}: needed for per-speaker CMVN but missing")
            if not self._utt2spk:
                raise DataDirError(f"{u2s}: needed for per-speaker CMVN but missing")

    # -- Mapping interface ---------------------------------------------------------------
    def __getitem__(self, utt: str) -> np.ndarray:
        mat = self.raw(utt)
        if self.cmvn == "none":
            return mat
        return apply_cmvn(mat, self._stats(utt, mat), self.norm_vars)

    def __iter__(self) -> Iterator[str]:
        return iter(self._scp)

    def __len__(self) -> int:
        return len(self._scp)

    def __contains__(self, utt: object) -> bool:
        return utt in self._scp

    # -- extras ----------------------------------------------------------------------------
    @property
    def utts(self) -> list[str]:
        """Utterance ids with features, in feats.scp order (sorted)."""
        return list(self._scp)

    @property
    def dim(self) -> int:
        """Feature dimension (from the stored config, else from the first matrix)."""
        if self.config is not None:
            return self.config.dim
        return int(self.raw(next(iter(self._scp))).shape[1])

    def raw(self, utt: str) -> np.ndarray:
        """Features of ``utt`` without CMVN."""
        import kaldiio

        try:
            spec = self._scp[utt]
        except KeyError:
            raise KeyError(utt) from None
        try:
            mat = np.asarray(kaldiio.load_mat(spec), dtype=np.float32)
        except Exception as e:  # noqa: BLE001 - any failure here means a broken/missing ark
            raise DataDirError(f"{self.data_dir}/feats.scp: cannot load '{utt}' from {spec}: {e}") from e
        if mat.ndim != 2 or not np.isfinite(mat).all():  # NaN frames would become NaN vectors and losses
            what = f"shape {mat.shape}" if mat.ndim != 2 else (
                f"NaN or infinite values (frame {int(np.flatnonzero(~np.isfinite(mat).all(axis=1))[0])} "
                f"of {mat.shape[0]})")
            raise DataDirError(f"{self.data_dir}/feats.scp: features of '{utt}' have {what}")
        return mat

    def num_frames(self, utt: str) -> int:
        """Frame count of ``utt`` (from utt2num_frames; loads the matrix if that file is absent)."""
        if utt in self._num_frames:
            return self._num_frames[utt]
        return int(self.raw(utt).shape[0])

    def speaker(self, utt: str) -> str:
        """Speaker of ``utt`` (from utt2spk)."""
        return self._utt2spk[utt]

    def segment(self, utt: str, start: float, end: float) -> np.ndarray:
        """Frames of ``utt`` whose centres lie in [start, end) seconds (see ``segment_frames``)."""
        mat = self[utt]
        cfg = self.config or FeatureConfig()
        b, e = segment_frames(start, end, cfg, mat.shape[0])
        return mat[b:e]

    def _stats(self, utt: str, mat: np.ndarray) -> np.ndarray:
        import kaldiio

        key = self._utt2spk.get(utt, utt) if self.cmvn == "speaker" else utt
        if key in self._stats_cache:
            return self._stats_cache[key]
        if key in self._cmvn_scp:
            stats = np.asarray(kaldiio.load_mat(self._cmvn_scp[key]), dtype=np.float64)
        elif self.cmvn == "utterance":
            return cmvn_stats(mat)
        else:
            raise DataDirError(f"{self.data_dir}/cmvn.scp: no stats for speaker '{key}' (utterance '{utt}')")
        if self.cmvn == "speaker":  # few speakers, many reuses; utterance stats are used once
            self._stats_cache[key] = stats
        return stats

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_stats_cache"] = {}
        return state
