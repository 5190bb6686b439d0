"""Training throughput (segments/s) of the baseline and the disentangled model at the recipe's batch size.

Synthetic segments (random 39-dim frames, lengths 20–70) so the figure measures the model, not the disk.
Counts every segment the step consumes (the disentangled model's critic steps draw their own batches).

    python bench/train_speed.py [--config recipes/mini/conf/train_disentangled.yaml] [--steps 30] [--device auto]
        [--adv-modes wgan,bce,grl]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from speechdis.config import load_config
from speechdis.data.segments import FrameSegment, PairBatchSampler, WordSegmentDataset, collate_segments
from speechdis.speech.objective import SpeechObjective
from speechdis.training.config import TrainConfig, resolve_device
from speechdis.training.loop import build_modules, build_trainer


def measure(cfg: TrainConfig, steps: int, device: torch.device) -> tuple[float, int]:
    """(steps/s, segments consumed per step)."""
    torch.manual_seed(0)
    n_spk, per_spk = 32, 40
    rng = np.random.default_rng(0)
    feats = {f"s{s}_{k}": rng.standard_normal((80, cfg.model.feat_dim)).astype(np.float32)
             for s in range(n_spk) for k in range(per_spk)}
    segs = [FrameSegment(u, u, u.split("_")[0], "w", 0, int(rng.integers(20, 71))) for u in feats]
    ds = WordSegmentDataset(segs, feats, cfg.data.crop_frames, preload=True)
    model, critic = build_modules(cfg)
    model.to(device)
    if critic is not None:
        critic.to(device)
    obj = SpeechObjective(model, critic, cfg.loss, cfg.model.kind == "disentangled", steps)
    trainer = build_trainer(cfg, model, critic, device)
    adversarial = trainer.critic_opt is not None
    sampler = PairBatchSampler(ds.speaker_ids, cfg.data.speakers_per_batch, cfg.data.segments_per_speaker)
    batches = ({k: v.to(device) for k, v in collate_segments([ds[i] for i in b]).items()} for b in iter(sampler))
    fns = (obj.critic_loss if adversarial else None, obj.generator_loss)
    for _ in range(3):  # warm-up (allocator, cuDNN autotuning)
        trainer.step(batches, *fns)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.step(batches, *fns)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0), cfg.batch_size * (trainer.n_critic + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="recipes/mini/conf/train_disentangled.yaml")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--adv-modes", default="wgan,bce,grl", help="adversary modes of the disentangled model to time")
    args = ap.parse_args()
    device = resolve_device(args.device)
    runs = [("baseline", ["model.kind=baseline"])]
    runs += [(f"disentangled ({m})", ["model.kind=disentangled", f"loss.adv_mode={m}"])
             for m in args.adv_modes.split(",") if m]
    rows = []
    for name, sets in runs:
        cfg = load_config(TrainConfig, args.config, args.set + sets)
        rows.append((name, cfg.batch_size, *measure(cfg, args.steps, device)))
    print(f"device: {device} ({torch.get_num_threads()} threads)  config: {args.config}")
    print("| model | batch | segments/step | steps/s | segments/s | step time vs baseline |\n|---|---|---|---|---|---|")
    for name, bs, sps, per_step in rows:
        print(f"| {name} | {bs} | {per_step} | {sps:.2f} | {sps * per_step:.0f} | {rows[0][2] / sps:.2f} |")


if __name__ == "__main__":
    main()
