"""Training throughput (segments/s): the full training step beside a bare forward+backward of the same model.

For each model (baseline, disentangled with each adversary mode) and each batch size, two figures:

* full: ``AlternatingTrainer.step`` as ``speechdis train`` runs it — batches drawn by ``PairBatchSampler``,
  assembled by the dataset (``__getitems__`` + ``collate_segments``), pinned and copied with
  ``non_blocking`` on CUDA, the critic steps (each on its own batch, or with ``--critic-batches shared``
  all on one batch embedded once), the whole objective, clipping, AMP;
* bare: the same autoencoder's forward + masked reconstruction loss + backward + a plain Adam step on batches
  already on the device (no sampler, no critic, no speaker or adversarial terms).

Segments/s counts every segment a step consumes (fresh critic steps draw their own batches). The ratio compares
autoencoder updates per second, full / bare: for the baseline the trainer's overhead over the bare
encoder-decoder (issue 11 target on a GPU: ≥ 0.8); for the disentangled model it also holds the critic steps
and the speaker and adversarial terms, work the bare step does not do. The two sides are timed in alternating
rounds (``--rounds``, ``--steps`` each), and the figures are medians over rounds, so a change in the
machine's load moves both sides of a ratio. Synthetic segments (random frames, lengths 20–70)
measure the model, not the disk. Batch B is B/8 speakers x 8 segments (the reference config's batch 64 is 8 x 8).

    python bench/train_speed.py [--config recipes/mini/conf/train_disentangled.yaml] [--steps 10] [--rounds 3]
        [--device auto] [--batch-sizes 64,256,1024] [--adv-modes wgan,bce,grl] [--critic-batches fresh,shared]
        [--amp none|bf16|fp16] [--threads N] [--set key=value ...]

On a GPU box, the reference LibriSpeech config:

    python bench/train_speed.py --device cuda --config recipes/librispeech/conf/train_disentangled.yaml \\
        --batch-sizes 64,256,1024 --amp bf16 --steps 20 --rounds 5
"""
from __future__ import annotations

import argparse
import itertools
import time
from typing import Callable

import numpy as np
import torch

from speechdis.config import load_config
from speechdis.data.segments import FrameSegment, PairBatchSampler, WordSegmentDataset, collate_segments
from speechdis.speech.losses import masked_mse
from speechdis.speech.objective import SpeechObjective
from speechdis.training.config import TrainConfig, resolve_device
from speechdis.training.loop import build_modules, build_trainer

WARMUP = 3  # steps before timing (allocator, cuDNN autotuning, first autocast casts)


def _dataset(cfg: TrainConfig) -> WordSegmentDataset:
    rng = np.random.default_rng(0)
    n_spk = max(32, 2 * cfg.data.speakers_per_batch)
    per_spk = max(40, 2 * cfg.data.segments_per_speaker)
    feats = {f"s{s}_{k}": rng.standard_normal((80, cfg.model.feat_dim)).astype(np.float32)
             for s in range(n_spk) for k in range(per_spk)}
    segs = [FrameSegment(u, u, u.split("_")[0], "w", 0, int(rng.integers(20, 71))) for u in feats]
    return WordSegmentDataset(segs, feats, cfg.data.crop_frames, preload=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(ds: WordSegmentDataset, cfg: TrainConfig, device: torch.device):
    """The training loop's batch path: sampler, vectorised assembly, pinned non-blocking copies on CUDA."""
    sampler = PairBatchSampler(ds.speaker_ids, cfg.data.speakers_per_batch, cfg.data.segments_per_speaker)
    pin = device.type == "cuda"
    for idx in iter(sampler):
        batch = collate_segments(ds.__getitems__(idx))
        yield {k: (v.pin_memory() if pin else v).to(device, non_blocking=True) for k, v in batch.items()}


def full_step(cfg: TrainConfig, ds: WordSegmentDataset, device: torch.device
              ) -> tuple[Callable[[], None], int]:
    """(One full training step, segments it consumes)."""
    torch.manual_seed(0)
    model, critic = build_modules(cfg)
    model.to(device)
    if critic is not None:
        critic.to(device)
    obj = SpeechObjective(model, critic, cfg.loss, cfg.model.kind == "disentangled", 1000)
    trainer = build_trainer(cfg, model, critic, device)
    fns = (obj.critic_loss if trainer.critic_opt is not None else None, obj.generator_loss, obj.critic_prepare)
    batches = _batches(ds, cfg, device)
    return (lambda: trainer.step(batches, *fns)), cfg.batch_size * trainer.batches_per_step


def bare_step(cfg: TrainConfig, ds: WordSegmentDataset, device: torch.device) -> Callable[[], None]:
    """Forward + reconstruction loss + backward + Adam step of the same autoencoder, on batches already on
    the device."""
    torch.manual_seed(0)
    model, _ = build_modules(cfg)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas)
    fixed = itertools.cycle(list(itertools.islice(_batches(ds, cfg, device), 4)))
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.train.amp)
    scaler = torch.amp.GradScaler(device.type) if cfg.train.amp == "fp16" else None

    def step() -> None:
        batch = next(fixed)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = model(batch["feats"], batch["lengths"])
            loss = masked_mse(out["reconstruction"], out["target"], batch["lengths"])
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    return step


def steps_per_second(step: Callable[[], None], steps: int, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - t0)


def measure(cfg: TrainConfig, ds: WordSegmentDataset, steps: int, rounds: int, device: torch.device
            ) -> tuple[float, float, float, int]:
    """(Full steps/s, bare steps/s, median full/bare ratio, segments per full step), timed in ``rounds``
    alternating rounds of ``steps`` steps each, so that a change in the machine's load hits both sides."""
    full, per_step = full_step(cfg, ds, device)
    bare = bare_step(cfg, ds, device)
    for _ in range(WARMUP):
        full()
        bare()
    f, b = [], []
    for _ in range(rounds):
        f.append(steps_per_second(full, steps, device))
        b.append(steps_per_second(bare, steps, device))
    return float(np.median(f)), float(np.median(b)), float(np.median(np.divide(f, b))), per_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="recipes/mini/conf/train_disentangled.yaml")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per round and side (after warm-up)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating full / bare rounds; figures are medians, the ratio the median of rounds")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-sizes", default="64", help="comma-separated, multiples of 8 (B/8 speakers x 8)")
    ap.add_argument("--amp", default=None, choices=["none", "bf16", "fp16"], help="train.amp (default: config's)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's; 1 on a shared machine, where idle-spinning "
                         "threads of small RNN ops wait on busy cores)")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--adv-modes", default="wgan,bce,grl", help="adversary modes of the disentangled model to time")
    ap.add_argument("--critic-batches", default="fresh,shared",
                    help="loss.critic_batches values to time for the wgan/bce modes")
    args = ap.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    if any(b % 8 or b < 16 for b in sizes):
        ap.error("--batch-sizes: each a multiple of 8, at least 16 (two speakers per batch)")
    sets = list(args.set) + ([f"train.amp={args.amp}"] if args.amp else [])
    runs = [("baseline", ["model.kind=baseline"])]
    for m in filter(None, args.adv_modes.split(",")):
        shares = [c for c in args.critic_batches.split(",") if c] if m in ("wgan", "bce") else ["fresh"]
        runs += [(f"disentangled ({m}" + (", shared critic batch)" if c == "shared" else ")"),
                  ["model.kind=disentangled", f"loss.adv_mode={m}", f"loss.critic_batches={c}"]) for c in shares]
    print(f"device: {device} ({torch.get_num_threads()} threads)  config: {args.config}  timed steps: {args.steps}")
    print("| model | batch | amp | full step: segments/s (segments/step) | bare fwd+bwd: segments/s | "
          "autoencoder updates/s, full / bare |\n|---|---|---|---|---|---|", flush=True)
    for b in sizes:
        batch = [f"data.speakers_per_batch={b // 8}", "data.segments_per_speaker=8"]
        for name, extra in runs:
            cfg = load_config(TrainConfig, args.config, sets + extra + batch)
            ds = _dataset(cfg)
            full, bare, ratio, per_step = measure(cfg, ds, args.steps, args.rounds, device)
            print(f"| {name} | {b} | {cfg.train.amp} | {full * per_step:,.0f} ({per_step}) | {bare * b:,.0f} | "
                  f"{ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
