"""`speechdis image`: train, evaluate and tabulate the image-domain models.

  speechdis image list
  speechdis image train MODEL --out DIR [--steps N] [--seed S] [--set key=value ...] [--init DIR]
                        [--dataset mnist --data-dir DIR] [--checkpoint-every N] [--resume] [--stop-after N]
  speechdis image evaluate MODEL_DIR [--out DIR]
  speechdis image table EXP_DIR [--out metrics.md] [--paper]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from speechdis.cli.argtypes import nonneg_int, positive_int, seed_int
from speechdis.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this subcommand and its options to the CLI's subparsers."""
    p = subparsers.add_parser("image", help="image-domain models (InfoGAN, VAE-GAN, BiGAN, DANN, ...)",
                              description=__doc__)
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads (default 1: these small models lose badly to thread contention "
                        "on shared machines; run several models in parallel instead)")
    sub = p.add_subparsers(dest="image_command", required=True)

    sub.add_parser("list", help="list the models").set_defaults(func=_list)

    t = sub.add_parser("train", help="train a model, then write pictures and metrics.json")
    t.add_argument("model", help="model name (see `speechdis image list`)")
    t.add_argument("--out", required=True, help="output directory (checkpoint, pictures, metrics.json)")
    t.add_argument("--steps", type=positive_int, default=None, help="training steps (default: the model's own)")
    t.add_argument("--seed", type=seed_int, default=0, help="seed of the weights and the data")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set three_class=true")
    t.add_argument("--dataset", default=None,
                   help="data set for models that offer several (infogan, triplegan, bigan, dann, vaegan: "
                        "mnist); default: the model's quick offline data")
    t.add_argument("--data-dir", default=None, metavar="DIR",
                   help="directory of the data set's files (mnist: the four original idx .gz files)")
    t.add_argument("--init", default=None, metavar="DIR",
                   help="initialise from a trained model directory (for `edit`: a vaegan directory)")
    t.add_argument("--checkpoint-every", type=nonneg_int, default=1000, metavar="N",
                   help="write a resumable training checkpoint (out/checkpoints/) every N steps (default 1000; 0: "
                        "only at the end of each training phase); removed once the run is complete")
    t.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --out from its checkpoint (same command otherwise)")
    t.add_argument("--stop-after", type=positive_int, default=None, metavar="N",
                   help="stop after N steps, leaving a checkpoint for --resume (time-sliced jobs)")
    t.add_argument("--device", default="cpu",
                   help="where to train: cpu (default), cuda, cuda:N or auto (models that can: infogan); the "
                        "saved model and its evaluation are on the CPU either way")
    t.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="re-evaluate a trained model directory")
    e.add_argument("model_dir", help="a directory written by `speechdis image train`")
    e.add_argument("--out", default=None, help="where to write pictures and metrics.json (default: model_dir)")
    e.set_defaults(func=_evaluate)

    tb = sub.add_parser("table", help="combine <exp>/<model>/metrics.json files into a Markdown table")
    tb.add_argument("exp_dir", help="directory holding <model>/metrics.json")
    tb.add_argument("--out", default=None, help="also write the table to this file")
    tb.add_argument("--paper", action="store_true",
                    help="the MNIST table: the papers' figures beside ours (EXP holds MNIST runs)")
    tb.set_defaults(func=_table)


def _setup(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)


def _parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _list(args: argparse.Namespace) -> int:
    from speechdis.image.registry import MODEL_NAMES, get_spec

    for name in MODEL_NAMES:
        print(f"{name:12s} {get_spec(name).description}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from speechdis.fileio import output_lock
    from speechdis.image.registry import train_model

    _setup(args)
    overrides = _parse_sets(args.set)
    if args.dataset is not None:
        overrides["dataset"] = args.dataset
    if args.data_dir is not None:
        overrides["data_dir"] = os.path.abspath(args.data_dir)  # model.pt must find it from anywhere
    with output_lock(args.out, "speechdis image train", directory=True):
        metrics = train_model(args.model, args.out, steps=args.steps, seed=args.seed, overrides=overrides,
                              init_dir=args.init, resume=args.resume, checkpoint_every=args.checkpoint_every,
                              stop_after=args.stop_after, device=args.device)
    if metrics is None:
        print(f"stopped after {args.stop_after} steps; continue with --resume", file=sys.stderr)
        return 0
    _print_headline(metrics)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from speechdis.fileio import output_lock
    from speechdis.image.registry import evaluate_model

    _setup(args)
    with output_lock(args.out or args.model_dir, "speechdis image evaluate", directory=True):
        _print_headline(evaluate_model(args.model_dir, args.out))
    return 0


def _table(args: argparse.Namespace) -> int:
    from speechdis.fileio import atomic_open
    from speechdis.image.report import metrics_table, paper_table

    text = paper_table(args.exp_dir) if args.paper else metrics_table(args.exp_dir)
    if args.out:
        with atomic_open(args.out, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    return 0


def _print_headline(metrics: dict) -> None:
    from speechdis.image.registry import get_spec

    keys = get_spec(metrics["model"]).headline
    shown = {k: metrics[k] for k in keys if k in metrics}
    print(json.dumps({"model": metrics["model"], **shown}, default=float))
