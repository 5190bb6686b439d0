"""The training objective of the speech models, as critic and generator loss functions for the core trainer.

Autoencoder side: ``rec_weight·L_rec + speaker_weight·L_spk + adv_weight·L_adv`` where L_adv is the
encoder's adversarial term against the speaker pair classifier D_s on phonetic vectors:
- ``wgan``: D_s is a Wasserstein critic (same-speaker pairs = "real", different = "fake") with gradient
  penalty; E_p minimises the critic's estimate E[D(same)] - E[D(diff)].
- ``bce``: D_s is a same/different classifier; E_p minimises the cross-entropy to 0.5 (confusion).
- ``grl``: one joint update; D_s trains on BCE through a gradient reversal layer whose coefficient
  (adv_weight × schedule) makes E_p maximise D_s's loss.
- ``none``: no adversary (ablation). ``speaker_weight: 0`` gives the second ablation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch
import torch.nn.functional as F

from speechdis.adversarial import (
    binary_classifier_loss,
    dann_schedule,
    grad_reverse,
    gradient_penalty,
    linear_schedule,
)
from speechdis.config import check_choices
from speechdis.errors import ConfigError
from speechdis.speech.losses import (
    correspondence_targets,
    masked_mse,
    same_speaker_partner,
    sample_group_pairs,
    sample_pairs,
    speaker_distance_loss,
)
from speechdis.speech.phones import PhoneTable
from speechdis.speech.words import cosine_softmax_loss


@dataclass
class LossConfig:
    rec_weight: float = 1.0
    speaker_weight: float = 1.0  # alpha
    speaker_margin: float = 1.0  # lambda: different speakers at least this squared distance apart
    adv_mode: Literal["wgan", "bce", "grl", "none"] = "wgan"
    adv_weight: float = 1.0  # beta
    adv_warmup_steps: int = 0  # linear ramp of beta from 0 (GRL: DANN ramp over training instead when 0)
    gp_weight: float = 10.0
    n_critic: int = 3
    pairs_per_batch: int = 64
    # D_s compares the means of this many phonetic vectors per side (1: single vectors, as in the
    # original model). Means of several words of one speaker expose a speaker offset that single
    # pairs of different words hide.
    critic_group_size: int = 1
    same_fraction: float = 0.5
    swap_speaker: bool = True  # decoder takes the speaker vector of another segment of the same speaker
    # Correspondence autoencoder: share of items whose decoder target is another token of the same word by
    # another speaker in the batch (word identities from the transcripts/alignments); 0 = plain autoencoder.
    correspondence: float = 0.0
    # Softmax cross-entropy of a linear classifier of the training speakers on v_s (as x-vectors are
    # trained), beside the distance constraints; 0 = off.
    speaker_ce_weight: float = 0.0
    # "fresh": each of the n_critic D_s updates draws its own batch and embeds it; "shared": the n_critic
    # updates share one batch, embedded once (E_p is fixed during them, so the vectors are the same), each
    # update drawing its own pairs from it: n_critic - 1 fewer encoder passes and batches per step.
    critic_batches: Literal["fresh", "shared"] = "fresh"
    # Phone-sequence objective: CTC of a small phone decoder on v_p against the word's CMUdict phones
    # (speechdis.speech.phones; ctc_lexicon adds/overrides pronunciations); 0 = off.
    ctc_weight: float = 0.0
    ctc_lexicon: Optional[str] = None
    # Word-discriminative objective (speechdis.speech.words): cosine-softmax classifier of the training words
    # (those with ≥ word_min_count tokens) on v_p, scale word_scale, additive margin word_margin; 0 = off.
    word_ce_weight: float = 0.0
    word_min_count: int = 2
    word_scale: float = 16.0
    word_margin: float = 0.0

    def __post_init__(self) -> None:
        check_choices(self, "loss.")
        if not 0.0 < self.same_fraction < 1.0:
            raise ConfigError("loss.same_fraction must be strictly between 0 and 1")
        if self.n_critic < 1 and self.adv_mode in ("wgan", "bce"):
            raise ConfigError("loss.n_critic must be ≥ 1 for adv_mode wgan/bce")
        if not 0.0 <= self.correspondence <= 1.0:
            raise ConfigError("loss.correspondence must be between 0 and 1")
        if self.critic_group_size < 1:
            raise ConfigError("loss.critic_group_size must be ≥ 1")
        if self.word_min_count < 1 or self.word_scale <= 0 or not 0.0 <= self.word_margin < 1.0:
            raise ConfigError("loss.word_min_count must be ≥ 1, loss.word_scale > 0 and loss.word_margin in [0, 1)")


class SpeechObjective:
    """Holds model + critic and produces the loss functions the :class:`AlternatingTrainer` calls."""

    def __init__(self, model: torch.nn.Module, critic: torch.nn.Module | None, cfg: LossConfig,
                 disentangled: bool, total_steps: int) -> None:
        self.model, self.critic, self.cfg = model, critic, cfg
        # Under DDP, model/critic are replaced by their wrappers; side computations (no-grad embedding,
        # the gradient penalty's double backward) go through the plain modules instead.
        self.plain_model, self.plain_critic = model, critic
        self.disentangled = disentangled
        self.total_steps = max(total_steps, 1)
        self.step = 0  # set by the training loop, drives the schedules
        self.phones: PhoneTable | None = None  # phone targets per word index (set by training for CTC)
        self.word_classes: torch.Tensor | None = None  # word index → word class or -1 (set for word_ce)

    @property
    def adversarial(self) -> bool:
        """Whether the speaker critic is trained against the phonetic encoder."""
        return self.disentangled and self.cfg.adv_mode != "none"

    def adv_coeff(self) -> float:
        """Weight of the adversarial term at the current step (warm-up or DANN ramp)."""
        c = self.cfg
        if c.adv_warmup_steps > 0:
            return linear_schedule(self.step / c.adv_warmup_steps, 0.0, c.adv_weight, 1.0)
        if c.adv_mode == "grl":
            return dann_schedule(self.step / self.total_steps, max_coeff=c.adv_weight)
        return c.adv_weight

    def _pairs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return sample_pairs(batch["speaker"], self.cfg.pairs_per_batch, self.cfg.same_fraction)

    def _critic_inputs(self, v_p: torch.Tensor, batch: dict, pairs: tuple | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The two sides D_s compares (single phonetic vectors or group means) and the same-speaker labels.

        Single vectors reuse ``pairs`` when given (the pairs of the speaker-distance loss)."""
        c = self.cfg
        if c.critic_group_size == 1:
            i, j, same = pairs if pairs is not None else self._pairs(batch)
            return v_p[i], v_p[j], same
        i, j, same = sample_group_pairs(batch["speaker"], c.pairs_per_batch, c.critic_group_size,
                                        c.same_fraction)
        return v_p[i].mean(1), v_p[j].mean(1), same

    def critic_prepare(self, batch: dict) -> dict:
        """The batch with its phonetic vectors (``"phonetic"``, no gradient) for :meth:`critic_loss`."""
        with torch.no_grad():
            return {**batch, "phonetic": self.plain_model.phonetic(batch["feats"], batch["lengths"])}

    def critic_loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """D_s update on phonetic vectors of the (fixed) encoder (``batch["phonetic"]`` when prepared)."""
        assert self.critic is not None
        v_p = batch["phonetic"] if "phonetic" in batch else self.critic_prepare(batch)["phonetic"]
        a, b, same = self._critic_inputs(v_p, batch)
        scores = self.critic(a, b)
        if self.cfg.adv_mode == "wgan":
            pos, neg = same > 0.5, same <= 0.5
            n = int(min(pos.sum(), neg.sum()))
            real = (a[pos][:n], b[pos][:n])
            fake = (a[neg][:n], b[neg][:n])
            wdist = scores[pos].mean() - scores[neg].mean()
            gp = gradient_penalty(self.plain_critic, real, fake)
            loss = -wdist + self.cfg.gp_weight * gp
            return loss, {"critic/loss": loss.item(), "critic/wdist": wdist.item(), "critic/gp": gp.item()}
        loss = binary_classifier_loss("bce", scores, same)
        acc = ((scores > 0).float() == same).float().mean()
        return loss, {"critic/loss": loss.item(), "critic/acc": acc.item()}

    def phone_ctc(self, v_p: torch.Tensor, lengths: torch.Tensor, word: torch.Tensor
                  ) -> tuple[torch.Tensor, int]:
        """CTC loss (mean per target phone) of the phone decoder on v_p, over items whose word has phones;
        the decoder runs one step per encoder step (frames / frame_stack)."""
        assert self.phones is not None
        dec = self.plain_model.phone_decoder
        known = word >= 0
        tgt_len = torch.zeros_like(word)
        tgt_len[known] = self.phones.lengths.to(word.device)[word[known]]
        keep = tgt_len > 0
        if not bool(keep.any()):
            return v_p.sum() * 0.0, 0
        k = self.plain_model.cfg.frame_stack
        steps = (lengths[keep] + k - 1) // k
        logits = dec(v_p[keep], int(steps.max()))
        targets = self.phones.targets.to(word.device)[word[keep]]
        loss = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), targets, steps, tgt_len[keep],
                          blank=0, reduction="mean", zero_infinity=True)
        return loss, int(keep.sum())

    def generator_loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Autoencoder update (and, in GRL mode, the critic's too)."""
        c = self.cfg
        x, lengths, spk = batch["feats"], batch["lengths"], batch["speaker"]
        # Row r of the reconstruction is item tgt[r], decoded from r's content vector and (disentangled)
        # the speaker vector of another segment of tgt[r]'s speaker.
        tgt = (correspondence_targets(batch["word"], spk, c.correspondence) if c.correspondence > 0
               else torch.arange(len(spk), device=spk.device))
        partner = None
        if self.disentangled:
            partner = same_speaker_partner(spk)[tgt] if c.swap_speaker else tgt
        out = self.model(x, lengths, partner, batch.get("spk_feats"), batch.get("spk_lengths")) \
            if self.disentangled else self.model(x, lengths, partner)
        target = out.get("target", x)[tgt]
        rec = masked_mse(out["reconstruction"], target, lengths[tgt])
        total = c.rec_weight * rec
        logs = {"loss/rec": rec.item()}
        if c.correspondence > 0:
            logs["correspondence"] = (tgt != torch.arange(len(spk), device=spk.device)).float().mean().item()
        if not self.disentangled:
            logs["loss/total"] = total.item()
            return total, logs
        pairs = self._pairs(batch)
        if c.speaker_weight > 0:
            i, j, same = pairs
            spk_loss = speaker_distance_loss(out["speaker"][i], out["speaker"][j], same, c.speaker_margin)
            total = total + c.speaker_weight * spk_loss
            logs["loss/spk"] = spk_loss.item()
        head = getattr(self.plain_model, "speaker_head", None)
        if c.speaker_ce_weight > 0 and head is not None:
            ce = F.cross_entropy(head(out["speaker"]), spk)
            total = total + c.speaker_ce_weight * ce
            logs["loss/spk_ce"] = ce.item()
        if c.ctc_weight > 0 and self.phones is not None:
            ctc, n = self.phone_ctc(out["phonetic"], lengths, batch["word"])
            total = total + c.ctc_weight * ctc
            logs["loss/ctc"], logs["ctc_items"] = ctc.item(), float(n)
        if c.word_ce_weight > 0 and self.word_classes is not None:
            classes = self.word_classes.to(spk.device)
            target = torch.where(batch["word"] >= 0, classes[batch["word"].clamp_min(0)], -1)
            wce, wacc = cosine_softmax_loss(out["phonetic"], self.plain_model.word_head.weight, target,
                                            c.word_scale, c.word_margin)
            total = total + c.word_ce_weight * wce
            logs["loss/word_ce"], logs["word_acc"] = wce.item(), wacc.item()
        if self.adversarial:
            assert self.critic is not None
            coeff = self.adv_coeff()
            v_p = out["phonetic"]
            if c.adv_mode == "grl":
                a, b, same = self._critic_inputs(grad_reverse(v_p, coeff), batch, pairs)
                scores = self.critic(a, b)
                adv = binary_classifier_loss("bce", scores, same)
                total = total + adv
                logs["critic/acc"] = ((scores > 0).float() == same).float().mean().item()
            else:
                a, b, same = self._critic_inputs(v_p, batch, pairs)
                scores = self.critic(a, b)
                if c.adv_mode == "wgan":
                    pos = same > 0.5
                    adv = scores[pos].mean() - scores[~pos].mean()
                else:
                    adv = F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, 0.5))
                total = total + coeff * adv
            logs["loss/adv"] = adv.item()
            logs["adv_coeff"] = coeff
        logs["loss/total"] = total.item()
        return total, logs
