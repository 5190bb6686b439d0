"""`speechdis features DATA_DIR`: MFCC/fbank features + CMVN stats for a data dir, in parallel jobs."""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Iterator

from speechdis.cli.argtypes import positive_int

COMMANDS_NOTE = ("A wav.scp entry ending in '|' is a shell command (a Kaldi extended filename): this command runs it "
                 "and reads the audio from its output, as Kaldi does. Only use data dirs you trust; `speechdis "
                 "prepare validate DATA_DIR` lists such entries.")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``features`` command."""
    p = subparsers.add_parser("features", help="compute features (feats.scp, cmvn) for a data dir",
                              description=__doc__.splitlines()[0], epilog=COMMANDS_NOTE)
    p.add_argument("data_dir", help="data dir with wav.scp (and segments)")
    p.add_argument("--nj", type=positive_int, default=1,
                   help="number of jobs (splits by speaker); worker processes of this command unless --job")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--job", type=positive_int, default=None, metavar="K",
                      help="grid job array: compute split K of --nj only (1..NJ), leave the data dir alone")
    grid.add_argument("--combine", action="store_true",
                      help="grid job array: merge the --nj splits into feats.scp/cmvn; fails naming the missing jobs")
    p.add_argument("--config", default=None, help="feature config YAML (e.g. conf/mfcc.yaml); default: 39-dim MFCC")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set cmvn=speaker")
    p.add_argument("--feat-dir", default=None, help="where the ark files go (default: DATA_DIR/data)")
    p.add_argument("--force", action="store_true",
                   help="recompute all jobs (default: resume, skipping jobs whose config, utterances and audio files "
                        "(size, mtime) are unchanged)")
    p.add_argument("--allow-upsample", action="store_true",
                   help="upsample audio below 4 kHz (default: skip it as a damaged header, like Kaldi)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


@contextlib.contextmanager
def _output_lock(args: argparse.Namespace) -> Iterator[None]:
    """The data dir locked for this run; a grid job shares its lock with the other jobs and holds its own."""
    from speechdis.fileio import output_lock

    what = "speechdis features" + (f" --job {args.job}" if args.job is not None else "")
    with contextlib.ExitStack() as stack:
        if Path(args.data_dir).is_dir():  # else make_features says what is wrong (the lock must not create it)
            stack.enter_context(output_lock(args.data_dir, what, directory=True, shared=args.job is not None))
            if args.job is not None:
                stack.enter_context(output_lock(Path(args.data_dir) / f".job{args.job}", what, directory=False))
        yield


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from speechdis.audio.features import load_feature_config
    from speechdis.data.featjobs import make_features
    from speechdis.data.tables import read_utt2spk

    cfg = load_feature_config(args.config, args.overrides)
    total = None
    u2s = Path(args.data_dir) / "utt2spk"
    if u2s.exists() and args.job is None:
        total = len(read_utt2spk(u2s))
    bar = tqdm(total=total, unit="utt", desc="features", disable=args.no_progress or None, file=sys.stderr)
    try:
        with _output_lock(args):
            report = make_features(args.data_dir, cfg, nj=args.nj, feat_dir=args.feat_dir, progress=bar.update,
                                   force=args.force, job=args.job, combine=args.combine,
                                   allow_upsample=args.allow_upsample)
    finally:
        bar.close()
    print(report.summary())
    return 0
