"""The alternating adversarial update, written once for every model (speech and image).

A training step is ``n_critic`` updates of the critic/discriminator, each on its own batch, followed by one
update of the generator side (encoders, decoders, generators). With ``share_critic_batch`` the critic updates
share one batch whose generator-side outputs are computed once (``critic_prepare``): the generator does not
change between critic updates, so those outputs are exactly what each update would recompute; only the
critic sees fewer distinct examples per step. ``n_critic = 0`` gives a single joint update,
which is what gradient-reversal training uses (the GRL does the min-max inside one backward pass).
Each side has its own optimiser, optional gradient clipping and optional mixed precision (``amp``: bf16 or
fp16 autocast on the trainer's device; fp16 with a gradient scaler per optimiser, since fp16 gradients
underflow without one).
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import torch
from torch import nn

LossFn = Callable[[object], "tuple[torch.Tensor, dict[str, float]]"]

AMP_MODES = ("none", "bf16", "fp16")
_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def amp_mode(amp: bool | str) -> str:
    """The mixed-precision mode of an ``amp`` setting: ``"none"``, ``"bf16"`` or ``"fp16"``.

    ``True``/``False`` are the older boolean switch (bf16 / off)."""
    if isinstance(amp, bool):
        return "bf16" if amp else "none"
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)} (or true/false), not {amp!r}")
    return amp


@contextmanager
def frozen(module: nn.Module | None) -> Iterator[None]:
    """Temporarily stop gradients into ``module``'s parameters (saves work in the other side's update)."""
    if module is None:
        yield
        return
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


class AlternatingTrainer:
    """Runs critic and generator updates with separate optimisers.

    Loss functions take a batch and return ``(loss, logs)``; logs are plain floats for the training log.
    """

    def __init__(
        self,
        generator_opt: torch.optim.Optimizer,
        critic_opt: torch.optim.Optimizer | None = None,
        *,
        critic: nn.Module | None = None,
        n_critic: int = 1,
        clip_grad: float | None = None,
        clip_mode: str = "norm",
        amp: bool | str = False,
        device: torch.device | str = "cpu",
        share_critic_batch: bool = False,
    ) -> None:
        if n_critic > 0 and critic_opt is None:
            raise ValueError("n_critic > 0 needs a critic optimiser")
        if clip_mode not in ("norm", "value"):
            raise ValueError(f"clip_mode must be 'norm' or 'value', not {clip_mode!r}")
        self.generator_opt = generator_opt
        self.critic_opt = critic_opt
        self.critic = critic
        self.n_critic = n_critic
        self.share_critic_batch = share_critic_batch
        self.clip_grad = clip_grad
        self.clip_mode = clip_mode
        self.device = torch.device(device)
        self.amp = amp_mode(amp)
        # One scaler per optimiser: the two sides' gradients have different scales, and a step skipped for
        # an overflow in one must not shrink the other's scale.
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        if self.amp == "fp16":
            self.scalers = {name: torch.amp.GradScaler(self.device.type)
                            for name, o in (("generator", generator_opt), ("critic", critic_opt)) if o is not None}

    def _autocast(self):
        if self.amp != "none":
            return torch.autocast(device_type=self.device.type, dtype=_AMP_DTYPES[self.amp])
        return nullcontext()

    def _update(self, opt: torch.optim.Optimizer, loss_fn: LossFn, batch: object,
                scaler: torch.amp.GradScaler | None = None) -> dict[str, float]:
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            loss, logs = loss_fn(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss.item()} ({logs})")
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if self.clip_grad:
            if scaler is not None:
                scaler.unscale_(opt)  # clip the true gradients, not the scaled ones
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            if self.clip_mode == "norm":
                torch.nn.utils.clip_grad_norm_(params, self.clip_grad)
            else:
                torch.nn.utils.clip_grad_value_(params, self.clip_grad)
        if scaler is not None:
            scaler.step(opt)  # skipped when a gradient overflowed; the scale then shrinks
            scaler.update()
        else:
            opt.step()
        return logs

    def critic_step(self, loss_fn: LossFn, batch: object) -> dict[str, float]:
        """One update of the critic/discriminator."""
        assert self.critic_opt is not None
        return self._update(self.critic_opt, loss_fn, batch, self.scalers.get("critic"))

    def generator_step(self, loss_fn: LossFn, batch: object) -> dict[str, float]:
        """One update of the generator side, with the critic's parameters frozen."""
        with frozen(self.critic):
            return self._update(self.generator_opt, loss_fn, batch, self.scalers.get("generator"))

    @property
    def batches_per_step(self) -> int:
        """Batches one :meth:`step` draws when it has a critic function."""
        if self.n_critic == 0:
            return 1
        return 2 if self.share_critic_batch else self.n_critic + 1

    def step(self, batches: Iterator[object], critic_fn: LossFn | None, generator_fn: LossFn,
             critic_prepare: Callable[[object], object] | None = None) -> dict[str, float]:
        """``n_critic`` critic updates then one generator update, each drawing its own batch.

        With ``share_critic_batch`` the critic updates draw one batch between them, passed through
        ``critic_prepare`` once (no gradients, under the same autocast) — the place to compute the
        generator-side inputs of the critic that every update would otherwise recompute."""
        logs: dict[str, float] = {}
        if critic_fn is not None and self.n_critic > 0:
            if self.share_critic_batch:
                shared = next(batches)
                if critic_prepare is not None:
                    with torch.no_grad(), self._autocast():
                        shared = critic_prepare(shared)
                for _ in range(self.n_critic):
                    logs.update(self.critic_step(critic_fn, shared))
            else:
                for _ in range(self.n_critic):
                    logs.update(self.critic_step(critic_fn, next(batches)))
        logs.update(self.generator_step(generator_fn, next(batches)))
        return logs

    def state_dict(self) -> dict:
        state = {
            "generator_opt": self.generator_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict() if self.critic_opt is not None else None,
        }
        if self.scalers:
            state["grad_scalers"] = {k: s.state_dict() for k, s in self.scalers.items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator_opt.load_state_dict(state["generator_opt"])
        if self.critic_opt is not None and state.get("critic_opt") is not None:
            self.critic_opt.load_state_dict(state["critic_opt"])
        # A checkpoint from a run without fp16 has no scaler state: the scalers start afresh.
        for k, s in (state.get("grad_scalers") or {}).items():
            if k in self.scalers:
                self.scalers[k].load_state_dict(s)
