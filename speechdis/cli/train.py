"""`speechdis train --config CONF --data DATA_DIR --out EXP_DIR [--valid DIR] [--resume [--force]]
[--set key=value]`."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    """Add this subcommand and its options to the CLI's subparsers."""
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


def progress_line(name: str, step: int, total: int, elapsed: float, steps_done: int) -> str:
    """``[name] step x/N (p%), ETA h:mm:ss`` (ETA from this run's pace; ``?`` before any step is timed)."""
    pct = 100.0 * step / max(total, 1)
    if steps_done > 0 and elapsed > 0:
        left = max(total - step, 0) * elapsed / steps_done
        eta = f"{int(left // 3600)}:{int(left % 3600 // 60):02d}:{int(left % 60):02d}"
    else:
        eta = "?"
    return f"[{name}] step {step}/{total} ({pct:.0f}%), ETA {eta}"


def run(args: argparse.Namespace) -> int:
    """Run the subcommand on parsed arguments; returns the exit status."""
    from tqdm import tqdm

    from speechdis.config import load_config
    from speechdis.fileio import output_lock
    from speechdis.training.config import TrainConfig
    from speechdis.training.loop import train

    cfg = load_config(TrainConfig, args.config, args.set)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 reports
    # The run's name on every line: recipes train several models at once into one console.
    name, total = os.path.basename(os.path.normpath(args.out)), cfg.train.steps
    bar = tqdm(total=total, desc=f"train {name}", unit="step", file=sys.stderr,
               dynamic_ncols=True, disable=None if main_rank else True)
    clock = {"t0": None, "step0": 0, "last": 0.0}

    def show(rec: dict) -> None:
        now = time.monotonic()
        if clock["t0"] is None:
            clock.update(t0=now, step0=rec["step"], last=now)
        if rec["split"] == "train":
            bar.n = rec["step"]
            losses = {k.split("/")[-1]: f"{v:.3g}" for k, v in rec.items() if k.startswith(("loss/", "critic/"))}
            bar.set_postfix(losses, refresh=False)
            bar.refresh()
            # Without a terminal (logs, recipes) the bar is off: a line every 30 s and at the end instead.
            if bar.disable and main_rank and (now - clock["last"] >= 30 or rec["step"] >= total):
                clock["last"] = now
                print(progress_line(name, rec["step"], total, now - clock["t0"], rec["step"] - clock["step0"])
                      + "  " + "  ".join(f"{k}={v}" for k, v in losses.items()), file=sys.stderr, flush=True)
        else:
            bar.write("[%s] valid step %d/%d: %s" % (name, rec["step"], total, "  ".join(
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
