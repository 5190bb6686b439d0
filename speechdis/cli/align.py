"""`speechdis align DATA_DIR`: forced alignment (PocketSphinx) of text + audio -> word_segments + phones.ctm."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechdis.cli.argtypes import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``align`` command."""
    p = subparsers.add_parser("align", help="forced alignment: text + audio -> word_segments + phones.ctm "
                                            "(needs speechdis[align])",
                              description=__doc__.splitlines()[0])
    p.add_argument("data_dir", help="data dir with text and wav.scp (and segments)")
    p.add_argument("--lexicon", default=None,
                   help="extra pronunciations 'WORD PH1 PH2 ...' (CMU phones) for words CMUdict lacks")
    p.add_argument("--nj", type=positive_int, default=1,
                   help="number of jobs (splits by speaker); worker processes of this command unless --job")
    p.add_argument("--job", type=positive_int, default=None, metavar="K",
                   help="grid job array: align split K of --nj only; a later run without --job merges the splits")
    p.add_argument("--keep-word-segments", action="store_true",
                   help="write only phones.ctm (+ failure/OOV lists); leave an existing word_segments as it is")
    p.add_argument("--force", action="store_true", help="recompute all jobs (default: resume, skipping complete ones)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from speechdis.data.align import align_data_dir
    from speechdis.data.tables import read_utt2spk

    u2s = Path(args.data_dir) / "utt2spk"
    total = len(read_utt2spk(u2s)) if u2s.exists() and args.job is None else None
    bar = tqdm(total=total, unit="utt", desc="align", disable=args.no_progress or None, file=sys.stderr)
    try:
        report = align_data_dir(args.data_dir, nj=args.nj, job=args.job, lexicon=args.lexicon, force=args.force,
                                keep_word_segments=args.keep_word_segments, progress=bar.update)
    finally:
        bar.close()
    print(report.summary())
    return 0
