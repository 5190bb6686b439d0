"""The settings of ``speechdis evaluate``, in one place: :class:`EvalConfig`.

Its defaults are the CLI's option defaults (``cli/evaluate.py`` reads them, help texts included) and those of
the library's task runners (:class:`~speechdis.eval.tasks.std.StdOptions`, ``run_speaker``, ``run_probes``,
``run_plots``, ``run_all``, :class:`~speechdis.eval.detection.KwsOptions`), so a default is typed once.
Like every config of the package it can be read from YAML with :func:`speechdis.config.load_config` and raises
``ConfigError`` for a value out of range.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from speechdis.config import check_choices
from speechdis.errors import ConfigError

__all__ = ["EvalConfig", "EVAL_DEFAULTS"]


@dataclass(frozen=True)
class EvalConfig:
    """Every tunable of the evaluation tasks, with its default (the CLI option is the field name with dashes)."""

    # every task
    min_frames: int = 5  # shortest word segment used (frames)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    batch_size: int = 256  # segments per embedding batch
    threads: int = 1  # torch CPU threads for embedding
    seed: int = 0  # of every random choice (trials, splits, t-SNE)
    # std: spoken term detection
    dtw_budget: float = 300.0  # safety cap: seconds of frame DTW before it stops (0 = no limit); a cut is reported
    dtw_max_pairs: Optional[int] = None  # at most this many DTW pairs per task, a seeded sample (None = all)
    min_occurrences: int = 2  # queries: segments of words with at least this many occurrences
    max_queries_per_word: Optional[int] = None  # at most this many queries per word (random, seeded)
    k: int = 10  # P@k
    max_same_diff: int = 4000  # segments drawn for the same-different task (O(n^2) pairs)
    window: float = 0.5  # utterance level (--windows): sliding window length, seconds
    hop: float = 0.1  # and shift, seconds
    threshold: float = 0.5  # --atwv: YES decision at score >= this
    # speaker verification
    p_target: float = 0.01  # prior of the minDCF
    trials: int = 5000  # target and non-target trials each
    # linear probes
    test_size: float = 0.3  # held-out fraction
    # plots
    tsne_points: int = 1000  # segments in each t-SNE plot
    tsne_classes: int = 10  # most frequent speakers/words shown

    def __post_init__(self) -> None:
        check_choices(self)
        at_least = {"seed": 0, "min_frames": 1, "batch_size": 1, "threads": 1, "min_occurrences": 2, "k": 1,
                    "max_same_diff": 2, "trials": 1, "tsne_points": 2, "tsne_classes": 1}
        for key, low in at_least.items():
            if getattr(self, key) < low:
                raise ConfigError(f"config key '{key}': must be ≥ {low}, got {getattr(self, key)}")
        for key in ("dtw_max_pairs", "max_queries_per_word"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}': must be ≥ 1 or null, got {getattr(self, key)}")
        if not (self.dtw_budget >= 0 and self.window > 0 and self.hop > 0):
            raise ConfigError("config keys 'dtw_budget' (≥ 0), 'window' and 'hop' (> 0): out of range "
                              f"({self.dtw_budget}, {self.window}, {self.hop})")
        for key in ("p_target", "test_size"):
            if not 0 < getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}': must be in (0, 1), got {getattr(self, key)}")


EVAL_DEFAULTS = EvalConfig()
