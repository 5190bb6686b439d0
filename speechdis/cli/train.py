"""`speechdis train --config CONF --data DATA_DIR --out EXP_DIR [--valid DIR] [--resume [--force]]
[--set key=value]`."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a baseline or disentangled speech autoencoder",
                       description=__doc__)
    p.add_argument("--config", help="YAML training config (defaults when omitted)")
    p.add_argument("--data", required=True, help="training data dir (with feats.scp and word_segments)")
    p.add_argument("--valid", help="validation data dir (default: hold out data.valid_speakers speakers)")
    p.add_argument("--out", required=True, help="experiment dir for config, log, checkpoints, model.pt")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--force", action="store_true",
                   help="with --resume: continue even though the config or data dirs differ from the checkpoint's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.steps=500 (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from speechdis.config import load_config
    from speechdis.fileio import output_lock
    from speechdis.training.config import TrainConfig
    from speechdis.training.loop import train

    cfg = load_config(TrainConfig, args.config, args.set)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 reports
    bar = tqdm(total=cfg.train.steps, desc=f"train {cfg.model.kind}", unit="step", file=sys.stderr,
               dynamic_ncols=True, disable=None if main_rank else True)

    def show(rec: dict) -> None:
        if rec["split"] == "train":
            bar.n = rec["step"]
            bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in rec.items()
                             if k.startswith(("loss/", "critic/"))}, refresh=False)
            bar.refresh()
        else:
            bar.write("valid @%d: %s" % (rec["step"], "  ".join(
                f"{k}={v:.4f}" for k, v in rec.items() if k not in ("step", "split"))))

    # One writer per --out: a second train into it fails at once naming this one (under torchrun, rank 0 holds it).
    lock = output_lock(args.out, "speechdis train", directory=True) if main_rank else contextlib.nullcontext()
    with lock:
        result = train(cfg, args.data, args.out, valid_dir=args.valid, resume=args.resume, callback=show,
                       force=args.force)
    bar.close()
    if not main_rank:
        return 0
    rep = result.segments
    if rep.total_skipped():
        print(f"segments: {rep.kept} used, skipped {rep.too_short} too short, {rep.too_long} too long, "
              f"{rep.no_features} without features", file=sys.stderr)
    print(f"trained {cfg.model.kind} for {result.steps} steps → {result.out_dir / 'model.pt'}")
    return 0
