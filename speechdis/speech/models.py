"""Seq2seq RNN autoencoders over word segments (Audio Word2Vec family) and the speaker pair classifier."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from speechdis.adversarial.heads import PairCritic


@dataclass
class ModelConfig:
    """Sizes of the encoders and the decoder (reference: 2-layer GRUs, 128 + 128 dims)."""

    kind: str = "disentangled"  # "disentangled" or "baseline" (plain Audio Word2Vec)
    feat_dim: int = 39
    rnn: str = "gru"  # "gru" or "lstm"
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
                 bidirectional: bool = True, rnn: str = "gru", dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = _rnn(rnn, feat_dim, hidden, num_layers=layers, batch_first=True,
                        bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0)
        self.directions = 2 if bidirectional else 1
        self.proj = nn.Linear(hidden * self.directions, out_dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)
        if isinstance(h, tuple):  # LSTM: (h, c)
            h = h[0]
        last = h[-self.directions:]  # (directions, B, H) of the top layer
        return self.proj(torch.cat(list(last), dim=-1))


class RNNDecoder(nn.Module):
    """Reconstructs T frames from a code vector: the code initialises the state and is fed at every step.

    No teacher forcing: feeding previous frames would let the decoder reconstruct without the code,
    which is exactly what the embedding must carry.
    """

    def __init__(self, code_dim: int, feat_dim: int, hidden: int = 256, layers: int = 2, rnn: str = "gru",
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.layers, self.hidden, self.kind = layers, hidden, rnn
        self.init = nn.Linear(code_dim, hidden * layers)
        self.rnn = _rnn(rnn, code_dim, hidden, num_layers=layers, batch_first=True,
                        dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(hidden, feat_dim)

    def forward(self, code: torch.Tensor, n_frames: int) -> torch.Tensor:
        b = code.shape[0]
        h0 = torch.tanh(self.init(code)).view(b, self.layers, self.hidden).transpose(0, 1).contiguous()
        state = (h0, torch.zeros_like(h0)) if self.kind == "lstm" else h0
        inputs = code.unsqueeze(1).expand(b, n_frames, code.shape[-1])
        y, _ = self.rnn(inputs, state)
        return self.out(y)


class _Noisy(nn.Module):
    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.std > 0:
            return x + self.std * torch.randn_like(x)
        return x


class Seq2SeqAutoencoder(nn.Module):
    """Audio Word2Vec baseline: one encoder → embedding → decoder (denoising with ``input_noise`` > 0)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.noise = _Noisy(cfg.input_noise)
        self.encoder = RNNEncoder(cfg.feat_dim, cfg.embed_dim, cfg.hidden, cfg.layers, cfg.bidirectional,
                                  cfg.rnn, cfg.dropout)
        self.decoder = RNNDecoder(cfg.embed_dim, cfg.feat_dim, cfg.decoder_hidden, cfg.decoder_layers,
                                  cfg.rnn, cfg.dropout)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns ``{"embedding": (B, embed_dim)}``."""
        return {"embedding": self.encoder(self.noise(x), lengths)}

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, partner: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        out = self.embed(x, lengths)
        out["reconstruction"] = self.decoder(out["embedding"], x.shape[1])
        return out


class DisentangledAutoencoder(nn.Module):
    """Phonetic encoder E_p and speaker encoder E_s feeding one decoder on [v_p; v_s].

    With ``partner`` (index of another segment of the same speaker for each item), the decoder gets the
    partner's speaker vector, so v_s cannot carry the content of the segment it reconstructs.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.noise = _Noisy(cfg.input_noise)
        args = (cfg.hidden, cfg.layers, cfg.bidirectional, cfg.rnn, cfg.dropout)
        self.phonetic_encoder = RNNEncoder(cfg.feat_dim, cfg.phonetic_dim, *args)
        self.speaker_encoder = RNNEncoder(cfg.feat_dim, cfg.speaker_dim, *args)
        self.decoder = RNNDecoder(cfg.phonetic_dim + cfg.speaker_dim, cfg.feat_dim, cfg.decoder_hidden,
                                  cfg.decoder_layers, cfg.rnn, cfg.dropout)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns ``{"phonetic": (B, phonetic_dim), "speaker": (B, speaker_dim)}``."""
        x = self.noise(x)
        return {"phonetic": self.phonetic_encoder(x, lengths), "speaker": self.speaker_encoder(x, lengths)}

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, partner: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        out = self.embed(x, lengths)
        v_s = out["speaker"] if partner is None else out["speaker"][partner]
        out["reconstruction"] = self.decoder(torch.cat([out["phonetic"], v_s], dim=-1), x.shape[1])
        return out


class SpeakerPairClassifier(PairCritic):
    """D_s: scores a pair of phonetic vectors "same speaker?" (order-invariant, from the shared core)."""


def build_model(cfg: ModelConfig) -> nn.Module:
    """The autoencoder named by ``cfg.kind``."""
    if cfg.kind == "disentangled":
        return DisentangledAutoencoder(cfg)
    if cfg.kind == "baseline":
        return Seq2SeqAutoencoder(cfg)
    raise ValueError(f"model.kind must be 'disentangled' or 'baseline', not {cfg.kind!r}")
