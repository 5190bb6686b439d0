"""Seq2seq RNN autoencoders over word segments (Audio Word2Vec family) and the speaker pair classifier."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speechdis.adversarial.heads import PairCritic
from speechdis.config import check_choices
from speechdis.speech.losses import length_mask
from speechdis.speech.registry import speech_spec


@dataclass
class ModelConfig:
    """Sizes of the encoders and the decoder (reference: 2-layer GRUs, 128 + 128 dims)."""

    # A speech model of speechdis.speech.registry ("disentangled", "baseline"): a registry name, not a Literal, so
    # that adding a model is one registration; TrainConfig checks it against SPEECH_MODELS.
    kind: str = "disentangled"
    feat_dim: int = 39
    rnn: Literal["gru", "lstm"] = "gru"
    hidden: int = 256
    layers: int = 2
    bidirectional: bool = True
    phonetic_dim: int = 128
    speaker_dim: int = 128
    embed_dim: int = 128  # baseline only
    decoder_hidden: int = 256
    decoder_layers: int = 2
    dropout: float = 0.0
    input_noise: float = 0.0  # std of Gaussian noise on the encoder input (denoising variant)
    critic_hidden: tuple[int, ...] = (256, 256)
    # Real-speech options (see recipes/speechcommands): stacking k frames into one RNN step divides the
    # recurrent work by k; "global" input normalisation (mean/std of the training features, kept in the
    # model) leaves the voice and channel in the input, where per-utterance CMVN would remove them before
    # the speaker encoder sees them; the phonetic encoder can still normalise each segment on its own.
    frame_stack: int = 1
    input_norm: Literal["none", "global"] = "none"
    phonetic_cmvn: bool = False  # per-segment mean/variance normalisation in front of E_p
    # stats: mean+std of E_s's frame outputs (x-vector); stats_input: also mean+std of its input frames, so the
    # speaker vector starts from at least what MFCC statistics know about the voice
    speaker_pooling: Literal["last", "stats", "stats_input"] = "last"
    # Training speakers of the softmax head on v_s (set by training when loss.speaker_ce_weight > 0).
    speaker_classes: int = 0
    # Phone classes (+ blank) of the CTC phone decoder on v_p (set by training when loss.ctc_weight > 0).
    phone_classes: int = 0
    phone_decoder_hidden: int = 64
    # Training words of the cosine-softmax head on v_p (set by training when loss.word_ce_weight > 0).
    word_classes: int = 0
    # SpecAugment-style masking of the encoders' input while training (the reconstruction target stays
    # clean): this many time masks of up to spec_time_width frames and frequency masks of up to
    # spec_freq_width feature dims, set to the (normalised) mean 0. 0 masks = off.
    spec_time_masks: int = 0
    spec_time_width: int = 10
    spec_freq_masks: int = 0
    spec_freq_width: int = 4

    def __post_init__(self) -> None:
        check_choices(self, "model.")


def _rnn(kind: str, *args, **kwargs) -> nn.RNNBase:
    if kind not in ("gru", "lstm"):
        raise ValueError(f"model.rnn must be 'gru' or 'lstm', not {kind!r}")
    return (nn.GRU if kind == "gru" else nn.LSTM)(*args, **kwargs)


class RNNEncoder(nn.Module):
    """Reads a padded batch of frame sequences and returns one vector per sequence.

    The vector is a linear map of the last layer's final hidden states (both directions), taken from a
    packed sequence so padding never leaks into the embedding.
    """

    def __init__(self, feat_dim: int, out_dim: int, hidden: int = 256, layers: int = 2,
                 bidirectional: bool = True, rnn: str = "gru", dropout: float = 0.0,
                 pooling: str = "last") -> None:
        super().__init__()
        if pooling not in ("last", "stats", "stats_input"):
            raise ValueError(f"encoder pooling must be 'last', 'stats' or 'stats_input', not {pooling!r}")
        self.rnn = _rnn(rnn, feat_dim, hidden, num_layers=layers, batch_first=True,
                        bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0)
        self.directions = 2 if bidirectional else 1
        self.pooling = pooling
        pooled = hidden * self.directions * (1 if pooling == "last" else 2)
        if pooling == "stats_input":
            pooled += 2 * feat_dim
        self.proj = nn.Linear(pooled, out_dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)
        if self.pooling != "last":
            y, _ = pad_packed_sequence(out, batch_first=True)
            stats = list(masked_mean_std(y, lengths))
            if self.pooling == "stats_input":
                stats += masked_mean_std(x, lengths)
            return self.proj(torch.cat(stats, dim=-1))
        if isinstance(h, tuple):  # LSTM: (h, c)
            h = h[0]
        last = h[-self.directions:]  # (directions, B, H) of the top layer
        return self.proj(torch.cat(list(last), dim=-1))


def masked_mean_std(x: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over the real frames of each sequence of a padded (B, T, D) batch."""
    mask = length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)
    mask = mask.to(x.dtype)
    n = mask.sum(1).clamp_min(1.0)
    mean = (x * mask).sum(1) / n
    var = (((x - mean[:, None]) ** 2) * mask).sum(1) / n
    return mean, (var + eps).sqrt()


def masked_standardise(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Per-sequence mean/variance normalisation over real frames (CMVN of one segment); padding stays 0."""
    mean, std = masked_mean_std(x, lengths)
    mask = length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)
    return (x - mean[:, None]) / std[:, None] * mask.to(x.dtype)


class RNNDecoder(nn.Module):
    """Reconstructs T frames from a code vector: the code initialises the state and is fed at every step.

    No teacher forcing: feeding previous frames would let the decoder reconstruct without the code,
    which is exactly what the embedding must carry.
    """

    def __init__(self, code_dim: int, feat_dim: int, hidden: int = 256, layers: int = 2, rnn: str = "gru",
                 dropout: float = 0.0, frame_stack: int = 1) -> None:
        super().__init__()
        self.layers, self.hidden, self.kind, self.stack = layers, hidden, rnn, frame_stack
        self.init = nn.Linear(code_dim, hidden * layers)
        self.rnn = _rnn(rnn, code_dim, hidden, num_layers=layers, batch_first=True,
                        dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(hidden, feat_dim * frame_stack)

    def forward(self, code: torch.Tensor, n_frames: int) -> torch.Tensor:
        """(B, n_frames, feat_dim); with frame stacking each RNN step emits ``frame_stack`` frames."""
        b = code.shape[0]
        steps = -(-n_frames // self.stack)
        h0 = torch.tanh(self.init(code)).view(b, self.layers, self.hidden).transpose(0, 1).contiguous()
        state = (h0, torch.zeros_like(h0)) if self.kind == "lstm" else h0
        inputs = code.unsqueeze(1).expand(b, steps, code.shape[-1])
        y, _ = self.rnn(inputs, state)
        return self.out(y).reshape(b, steps * self.stack, -1)[:, :n_frames]


def stack_frames(x: torch.Tensor, lengths: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenates each k consecutive frames: (B, T, D) → (B, ceil(T/k), k·D); lengths rounded up."""
    if k == 1:
        return x, lengths
    b, t, d = x.shape
    pad = -t % k
    if pad:
        x = torch.cat([x, x.new_zeros(b, pad, d)], dim=1)
    return x.reshape(b, (t + pad) // k, k * d), (lengths + k - 1) // k


class InputNorm(nn.Module):
    """Global feature normalisation whose statistics travel inside the model (identity until set)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def set_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the per-dimension mean and std (std floored at 1e-5) used to normalise inputs."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype).clamp_min(1e-5))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)
        return (x - self.mean) / self.std * mask.to(x.dtype)


class _Noisy(nn.Module):
    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.std > 0:
            return x + self.std * torch.randn_like(x)
        return x


class SpecMask(nn.Module):
    """SpecAugment-style time and feature-dimension masks (training only; identity in eval mode)."""

    def __init__(self, time_masks: int, time_width: int, freq_masks: int, freq_width: int) -> None:
        super().__init__()
        self.time_masks, self.time_width = time_masks, time_width
        self.freq_masks, self.freq_width = freq_masks, freq_width

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if not self.training or (self.time_masks == 0 and self.freq_masks == 0):
            return x
        b, t, d = x.shape
        keep = torch.ones(b, t, d, dtype=torch.bool, device=x.device)
        pos_t = torch.arange(t, device=x.device)[None]
        pos_d = torch.arange(d, device=x.device)[None]
        for _ in range(self.time_masks):
            w = torch.randint(0, self.time_width + 1, (b, 1), device=x.device)
            start = (torch.rand(b, 1, device=x.device) * (lengths.to(x.device)[:, None] - w).clamp_min(1)).long()
            keep &= ~((pos_t >= start) & (pos_t < start + w))[:, :, None]
        for _ in range(self.freq_masks):
            w = torch.randint(0, self.freq_width + 1, (b, 1), device=x.device)
            start = (torch.rand(b, 1, device=x.device) * (d - w).clamp_min(1)).long()
            keep &= ~((pos_d >= start) & (pos_d < start + w))[:, None, :]
        return x * keep.to(x.dtype)


def _spec_mask(cfg: ModelConfig) -> SpecMask:
    return SpecMask(cfg.spec_time_masks, cfg.spec_time_width, cfg.spec_freq_masks, cfg.spec_freq_width)


class _Autoencoder(nn.Module):
    """What both autoencoders share: input normalisation, frame stacking, the decoder call."""

    cfg: ModelConfig
    decoder: RNNDecoder

    def _front(self, x: torch.Tensor, lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(normalised frames — the reconstruction target, content-encoder input, speaker-encoder input,
        encoder lengths). Per-segment CMVN of the content input comes before stacking, so it sees frames."""
        x, noisy = self._normalise(x, lengths)
        content = masked_standardise(noisy, lengths) if self.cfg.phonetic_cmvn else noisy
        k = self.cfg.frame_stack
        content_in, steps = stack_frames(content, lengths, k)
        speaker_in = stack_frames(noisy, lengths, k)[0] if self.cfg.phonetic_cmvn else content_in
        return x, content_in, speaker_in, steps

    def _speaker_front(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(speaker-encoder input, encoder lengths) of ``x``: :meth:`_front` without the content path."""
        noisy = self._normalise(x, lengths)[1]
        return stack_frames(noisy, lengths, self.cfg.frame_stack)

    def _normalise(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(normalised frames, the same with the training-time noise and masks)."""
        x = self.input_norm(x, lengths) if self.cfg.input_norm == "global" else x
        return x, self.spec_mask(self.noise(x), lengths)

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Statistics of the training features for ``input_norm: global`` (saved with the weights)."""
        self.input_norm.set_stats(mean, std)


def _decoder(cfg: ModelConfig, code_dim: int) -> RNNDecoder:
    return RNNDecoder(code_dim, cfg.feat_dim, cfg.decoder_hidden, cfg.decoder_layers, cfg.rnn, cfg.dropout,
                      cfg.frame_stack)


class Seq2SeqAutoencoder(_Autoencoder):
    """Audio Word2Vec baseline: one encoder → embedding → decoder (denoising with ``input_noise`` > 0)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.noise = _Noisy(cfg.input_noise)
        self.spec_mask = _spec_mask(cfg)
        self.input_norm = InputNorm(cfg.feat_dim)
        self.encoder = RNNEncoder(cfg.feat_dim * cfg.frame_stack, cfg.embed_dim, cfg.hidden, cfg.layers,
                                  cfg.bidirectional, cfg.rnn, cfg.dropout)
        self.decoder = _decoder(cfg, cfg.embed_dim)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor, keys: tuple[str, ...] = ("embedding",)
              ) -> dict[str, torch.Tensor]:
        """Returns ``{"embedding": (B, embed_dim)}`` (``keys`` for the disentangled model's signature)."""
        _, xs, _, steps = self._front(x, lengths)
        return {"embedding": self.encoder(xs, steps)}

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, partner: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        target, xs, _, steps = self._front(x, lengths)
        out = {"embedding": self.encoder(xs, steps), "target": target}
        out["reconstruction"] = self.decoder(out["embedding"], x.shape[1])
        return out


class DisentangledAutoencoder(_Autoencoder):
    """Phonetic encoder E_p and speaker encoder E_s feeding one decoder on [v_p; v_s].

    With ``partner`` (for each output row, the index of the item whose speaker vector to use — another
    segment of the same speaker), the decoder gets the partner's speaker vector, so v_s cannot carry the
    content of the segment it reconstructs.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.noise = _Noisy(cfg.input_noise)
        self.spec_mask = _spec_mask(cfg)
        self.input_norm = InputNorm(cfg.feat_dim)
        d_in = cfg.feat_dim * cfg.frame_stack
        args = (cfg.hidden, cfg.layers, cfg.bidirectional, cfg.rnn, cfg.dropout)
        self.phonetic_encoder = RNNEncoder(d_in, cfg.phonetic_dim, *args)
        self.speaker_encoder = RNNEncoder(d_in, cfg.speaker_dim, *args, pooling=cfg.speaker_pooling)
        self.decoder = _decoder(cfg, cfg.phonetic_dim + cfg.speaker_dim)
        # x-vector style speaker classifier on v_s; only the training objective uses it.
        self.speaker_head = nn.Linear(cfg.speaker_dim, cfg.speaker_classes) if cfg.speaker_classes > 0 else None
        # CTC phone decoder on v_p (loss.ctc_weight): v_p alone must spell the word's phones.
        self.phone_decoder = RNNDecoder(cfg.phonetic_dim, cfg.phone_classes, cfg.phone_decoder_hidden, 1,
                                        cfg.rnn) if cfg.phone_classes > 0 else None
        # Word classifier on v_p (loss.word_ce_weight): class weights of a cosine softmax, no bias.
        self.word_head = nn.Linear(cfg.phonetic_dim, cfg.word_classes, bias=False) if cfg.word_classes > 0 else None

    def _encode(self, content: torch.Tensor, speaker: torch.Tensor, steps: torch.Tensor,
                keys: tuple[str, ...] = ("phonetic", "speaker")) -> dict[str, torch.Tensor]:
        out = {}
        if "phonetic" in keys:
            out["phonetic"] = self.phonetic_encoder(content, steps)
        if "speaker" in keys:
            out["speaker"] = self.speaker_encoder(speaker, steps)
        return out

    def embed(self, x: torch.Tensor, lengths: torch.Tensor, keys: tuple[str, ...] = ("phonetic", "speaker")
              ) -> dict[str, torch.Tensor]:
        """Returns ``{"phonetic": (B, phonetic_dim), "speaker": (B, speaker_dim)}``, or only the ``keys``
        asked for (the other encoder then does not run)."""
        return self._encode(*self._front(x, lengths)[1:], keys=keys)

    def phonetic(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``embed(x, lengths)["phonetic"]`` without running the speaker encoder (what the critic needs)."""
        return self.embed(x, lengths, ("phonetic",))["phonetic"]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, partner: torch.Tensor | None = None,
                speaker_x: torch.Tensor | None = None, speaker_lengths: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Reconstruction of ``x`` from [v_p; v_s]; v_s from ``speaker_x`` (e.g. the utterance around each
        word, ``data.speaker_context``) when given, else from ``x``."""
        target, content, speaker, steps = self._front(x, lengths)
        out = {"phonetic": self.phonetic_encoder(content, steps), "target": target}
        if speaker_x is not None:
            speaker, steps = self._speaker_front(speaker_x, speaker_lengths)
        out["speaker"] = self.speaker_encoder(speaker, steps)
        v_s = out["speaker"] if partner is None else out["speaker"][partner]
        out["reconstruction"] = self.decoder(torch.cat([out["phonetic"], v_s], dim=-1), x.shape[1])
        return out


class SpeakerPairClassifier(PairCritic):
    """D_s: scores a pair of phonetic vectors "same speaker?" (order-invariant, from the shared core)."""


def build_model(cfg: ModelConfig) -> nn.Module:
    """The autoencoder named by ``cfg.kind`` (its spec in :mod:`speechdis.speech.registry`)."""
    return speech_spec(cfg.kind).build(cfg)
