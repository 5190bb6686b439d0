"""The alternating adversarial update, written once for every model (speech and image).

A training step is ``n_critic`` updates of the critic/discriminator, each on its own batch, followed by one
update of the generator side (encoders, decoders, generators). ``n_critic = 0`` gives a single joint update,
which is what gradient-reversal training uses (the GRL does the min-max inside one backward pass).
Each side has its own optimiser, optional gradient-norm clipping and, on CUDA, optional bf16 autocast.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import torch
from torch import nn

LossFn = Callable[[object], "tuple[torch.Tensor, dict[str, float]]"]


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
        amp: bool = False,
        device: torch.device | str = "cpu",
    ) -> None:
        if n_critic > 0 and critic_opt is None:
            raise ValueError("n_critic > 0 needs a critic optimiser")
        if clip_mode not in ("norm", "value"):
            raise ValueError(f"clip_mode must be 'norm' or 'value', not {clip_mode!r}")
        self.generator_opt = generator_opt
        self.critic_opt = critic_opt
        self.critic = critic
        self.n_critic = n_critic
        self.clip_grad = clip_grad
        self.clip_mode = clip_mode
        self.device = torch.device(device)
        self.amp = amp and self.device.type == "cuda"

    def _autocast(self):
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _update(self, opt: torch.optim.Optimizer, loss_fn: LossFn, batch: object) -> dict[str, float]:
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            loss, logs = loss_fn(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss.item()} ({logs})")
        loss.backward()
        if self.clip_grad:
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            if self.clip_mode == "norm":
                torch.nn.utils.clip_grad_norm_(params, self.clip_grad)
            else:
                torch.nn.utils.clip_grad_value_(params, self.clip_grad)
        opt.step()
        return logs

    def critic_step(self, loss_fn: LossFn, batch: object) -> dict[str, float]:
        """One update of the critic/discriminator."""
        assert self.critic_opt is not None
        return self._update(self.critic_opt, loss_fn, batch)

    def generator_step(self, loss_fn: LossFn, batch: object) -> dict[str, float]:
        """One update of the generator side, with the critic's parameters frozen."""
        with frozen(self.critic):
            return self._update(self.generator_opt, loss_fn, batch)

    def step(self, batches: Iterator[object], critic_fn: LossFn | None, generator_fn: LossFn) -> dict[str, float]:
        """``n_critic`` critic updates then one generator update, each drawing its own batch."""
        logs: dict[str, float] = {}
        if critic_fn is not None:
            for _ in range(self.n_critic):
                logs.update(self.critic_step(critic_fn, next(batches)))
        logs.update(self.generator_step(generator_fn, next(batches)))
        return logs

    def state_dict(self) -> dict:
        return {
            "generator_opt": self.generator_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict() if self.critic_opt is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator_opt.load_state_dict(state["generator_opt"])
        if self.critic_opt is not None and state.get("critic_opt") is not None:
            self.critic_opt.load_state_dict(state["critic_opt"])
