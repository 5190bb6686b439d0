"""Training configuration: the config tree of ``speechdis train`` (model, loss, optimiser, data, loop)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from speechdis.adversarial.trainer import amp_mode
from speechdis.config import check_choices
from speechdis.devices import resolve_device
from speechdis.errors import ConfigError
from speechdis.speech.models import ModelConfig
from speechdis.speech.objective import LossConfig
from speechdis.speech.registry import SPEECH_MODELS

__all__ = ["TrainConfig", "OptimConfig", "DataConfig", "LoopConfig", "resolve_device"]


@dataclass
class OptimConfig:
    lr: float = 1e-3
    critic_lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 0.0
    clip_grad: float = 5.0  # 0 disables
    clip_mode: Literal["value", "norm"] = "value"  # reference code clips each gradient to ±5

    def __post_init__(self) -> None:
        check_choices(self, "optim.")


@dataclass
class DataConfig:
    speakers_per_batch: int = 8
    segments_per_speaker: int = 8
    crop_frames: int = 70
    min_frames: int = 5
    max_frames: int | None = None
    valid_speakers: int = 2  # held out from the training data when no validation dir is given
    max_valid_segments: int = 1000
    preload: bool = False
    # Precision of preloaded training features: float16 halves their memory (values within 5e-4 relative).
    storage_dtype: Literal["float32", "float16"] = "float32"
    num_workers: int = 0
    # Read the features with this CMVN instead of the data dir's (null: as the data dir says). "none" with
    # model.input_norm: global keeps the voice in the input for the speaker encoder (real speech).
    cmvn: Optional[Literal["utterance", "speaker", "none"]] = None
    # Speed perturbation of training batches (speechdis.data.augment): each segment resampled in time by a
    # factor drawn from this list, e.g. [0.9, 1.0, 1.1] (Kaldi's); [] = off. Never applied outside training.
    speed_perturb: list[float] = field(default_factory=list)
    # Speaker-encoder input while training (disentangled): a window of up to this many frames of the
    # segment's utterance centred on the word, instead of the word itself (0 = the word). Speaker vectors
    # then learn from the utterance-length input they are used on (files pooled in windows of crop_frames).
    speaker_context: int = 0
    # Fraction of each speaker's segments in a batch drawn as same-word pairs with another speaker of the
    # batch (PairBatchSampler), so loss.correspondence has partners on corpora of many word types; 0 = off.
    word_pairs: float = 0.0

    def __post_init__(self) -> None:
        check_choices(self, "data.")
        if not all(0.5 <= f <= 2.0 for f in self.speed_perturb):
            raise ConfigError(f"data.speed_perturb factors must be in [0.5, 2], got {list(self.speed_perturb)}")
        if self.speaker_context < 0:
            raise ConfigError(f"data.speaker_context must be ≥ 0 frames, not {self.speaker_context}")
        if not 0.0 <= self.word_pairs <= 1.0:
            raise ConfigError(f"data.word_pairs must be a fraction in [0, 1], not {self.word_pairs}")


@dataclass
class LoopConfig:
    steps: int = 2000
    log_every: int = 20
    valid_every: int = 250
    ckpt_every: int = 250
    keep_checkpoints: int = 2
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # Mixed precision: none | bf16 | fp16 autocast on the run's device (fp16 with gradient scaling); true/false
    # (the older boolean switch) read as bf16/none.
    amp: bool | Literal["none", "bf16", "fp16"] = "none"

    def __post_init__(self) -> None:
        check_choices(self, "train.")
        if isinstance(self.amp, bool):
            self.amp = amp_mode(self.amp)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: LoopConfig = field(default_factory=LoopConfig)

    def __post_init__(self) -> None:
        _check_values(self)
        if self.loss.critic_group_size > 1 and 2 * self.loss.critic_group_size > self.data.segments_per_speaker:
            raise ConfigError(f"loss.critic_group_size {self.loss.critic_group_size} needs "
                             f"data.segments_per_speaker ≥ {2 * self.loss.critic_group_size} "
                             f"(two disjoint groups of one speaker), not {self.data.segments_per_speaker}")

    @property
    def batch_size(self) -> int:
        """Segments per batch: speakers_per_batch x segments_per_speaker."""
        return self.data.speakers_per_batch * self.data.segments_per_speaker


def _check_values(cfg: "TrainConfig") -> None:
    """Values that type-check but would crash or silently misbehave later (one-line ConfigError)."""
    m, o, d, t, lo = cfg.model, cfg.optim, cfg.data, cfg.train, cfg.loss
    if m.kind not in SPEECH_MODELS:
        raise ConfigError(f"model.kind is {m.kind!r}; allowed: {', '.join(SPEECH_MODELS.names())}")
    at_least = [
        ("model.feat_dim", m.feat_dim, 1), ("model.hidden", m.hidden, 1), ("model.layers", m.layers, 1),
        ("model.phonetic_dim", m.phonetic_dim, 1), ("model.speaker_dim", m.speaker_dim, 1),
        ("model.embed_dim", m.embed_dim, 1), ("model.decoder_hidden", m.decoder_hidden, 1),
        ("model.decoder_layers", m.decoder_layers, 1), ("model.phone_decoder_hidden", m.phone_decoder_hidden, 1),
        ("data.speakers_per_batch", d.speakers_per_batch, 1), ("data.segments_per_speaker", d.segments_per_speaker, 1),
        ("data.crop_frames", d.crop_frames, 1), ("data.min_frames", d.min_frames, 1),
        ("data.valid_speakers", d.valid_speakers, 0), ("data.max_valid_segments", d.max_valid_segments, 1),
        ("data.num_workers", d.num_workers, 0),
        ("train.steps", t.steps, 1), ("train.log_every", t.log_every, 1), ("train.valid_every", t.valid_every, 1),
        ("train.ckpt_every", t.ckpt_every, 1), ("train.keep_checkpoints", t.keep_checkpoints, 1),
        ("loss.pairs_per_batch", lo.pairs_per_batch, 1), ("loss.adv_warmup_steps", lo.adv_warmup_steps, 0),
        ("loss.n_critic", lo.n_critic, 0),
    ]
    at_least += [(f"model.critic_hidden[{i}]", h, 1) for i, h in enumerate(m.critic_hidden)]
    for key, value, low in at_least:
        if value < low:
            raise ConfigError(f"{key} must be ≥ {low}, got {value}")
    if d.max_frames is not None and d.max_frames < d.min_frames:
        raise ConfigError(f"data.max_frames ({d.max_frames}) must be ≥ data.min_frames ({d.min_frames}) or null")
    for key, value in (("optim.lr", o.lr), ("optim.critic_lr", o.critic_lr)):
        if not value > 0:
            raise ConfigError(f"{key} must be > 0, got {value}")
    for key, value in (("optim.weight_decay", o.weight_decay), ("optim.clip_grad", o.clip_grad),
                       ("model.input_noise", m.input_noise), ("loss.rec_weight", lo.rec_weight),
                       ("loss.speaker_weight", lo.speaker_weight), ("loss.speaker_margin", lo.speaker_margin),
                       ("loss.adv_weight", lo.adv_weight), ("loss.gp_weight", lo.gp_weight),
                       ("loss.speaker_ce_weight", lo.speaker_ce_weight), ("loss.ctc_weight", lo.ctc_weight),
                       ("model.spec_time_masks", m.spec_time_masks), ("model.spec_time_width", m.spec_time_width),
                       ("model.spec_freq_masks", m.spec_freq_masks), ("model.spec_freq_width", m.spec_freq_width)):
        if not value >= 0:
            raise ConfigError(f"{key} must be ≥ 0, got {value}")
    if not 0.0 <= m.dropout < 1.0:
        raise ConfigError(f"model.dropout must be in [0, 1), got {m.dropout}")
    if not all(0.0 <= b < 1.0 for b in o.betas):
        raise ConfigError(f"optim.betas must each be in [0, 1), got {list(o.betas)}")
