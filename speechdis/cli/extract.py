"""`speechdis extract --model EXP_DIR INPUT... --out FILE`: phonetic/speaker vectors of spoken segments.

INPUT: audio files, directories (searched recursively for wav/flac/ogg) or Kaldi data dirs (wav.scp;
feats.scp used when it matches the model's features). A whole file is one segment unless
--word-segments, --ctm or --window/--hop say otherwise (a data dir's own word_segments are used by
default). Output: OUT.npz and/or OUT.<kind>.ark/.scp (kind = phonetic, speaker; embedding for the
baseline).

A segment or file longer than the model's training length (1 s for speechcommands) is embedded as windows of
that length every half window, pooled with --pool (default mean), never cut to its first second. --per file
gives one vector per file (its segments pooled with --pool), --per speaker one per speaker (the mean of its
files' vectors, spk2utt-style; needs speakers: data dir inputs). --ids relpath names audio files by their
path below the input directory without extension (spk1/day2/utt), for nested layouts with repeated names.

Data dirs may hold shell commands: a wav.scp or feats.scp entry ending in '|' (a Kaldi extended filename)
is run, as Kaldi does, to read its audio/features; `speechdis prepare validate DATA_DIR` lists them.

Grid job arrays: --nj N --job K embeds split K of N (whole speakers) into OUT.splitN.K.npz; --nj N --combine
(same inputs) checks every split is there and writes OUT.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator

from speechdis.cli.argtypes import nonneg_int, positive_float, positive_int
from speechdis.pretrained import PRETRAINED


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``extract`` command."""
    p = subparsers.add_parser("extract", help="embed audio files / data dirs with a trained model",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="EXP_DIR",
                   help="experiment dir of `speechdis train`, a model.pt, or a packaged model name "
                        f"({', '.join(PRETRAINED)})")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file, directory or Kaldi data dir")
    p.add_argument("--out", required=True, metavar="FILE", help="output file (.npz) or prefix for ark/scp")
    p.add_argument("--format", default="npz", choices=["npz", "ark", "both"], help="output format (default npz)")
    seg = p.add_mutually_exclusive_group()
    seg.add_argument("--word-segments", metavar="FILE", help="Kaldi word_segments: seg-id utt start end WORD "
                                                              "(utt = file stem for audio files)")
    seg.add_argument("--ctm", metavar="FILE", help="CTM word alignment: utt channel start duration WORD")
    seg.add_argument("--window", type=positive_float, metavar="SEC",
                     help="sliding windows of SEC seconds (needs --hop)")
    p.add_argument("--hop", type=positive_float, metavar="SEC", help="window shift in seconds (with --window)")
    p.add_argument("--pool", default="mean", choices=["mean", "max"],
                   help="pooling of the windows of a segment longer than the model's crop, and of a file's "
                        "segments with --per file (default mean)")
    p.add_argument("--per", default="segment", choices=["segment", "file", "speaker"],
                   help="one vector per segment (default), per file, or per speaker (mean of its files)")
    p.add_argument("--ids", default="stem", choices=["stem", "relpath"],
                   help="ids of audio files: file stem (default; made unique with parent dirs on collision) "
                        "or always the path below the input directory without extension")
    p.add_argument("--min-frames", type=positive_int, default=3, help="skip segments shorter than this (default 3)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="segments per embedding batch")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--vectors", metavar="KIND[,KIND]",
                   help="compute only these vectors, e.g. phonetic (runs only the phonetic encoder: half the "
                        "encoder work of the disentangled model; default: all the model makes)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--workers", type=nonneg_int, default=0, metavar="N",
                   help="processes reading audio and computing features while the main one embeds (default 0: "
                        "all in the main process); e.g. 1 on 2 cores")
    p.add_argument("--nj", type=positive_int, default=1,
                   help="number of splits for --job / --combine (grid job arrays)")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--job", type=positive_int, default=None, metavar="K",
                      help="embed split K of --nj only (1..NJ) into OUT.splitNJ.K.npz")
    grid.add_argument("--combine", action="store_true",
                      help="merge the --nj splits into OUT; fails naming the missing jobs")
    p.add_argument("--trim", action=argparse.BooleanOptionalAction, default=None,
                   help="energy-trim audio files embedded whole, as `prepare` trims clips (default: as the model's "
                        "training clips were, recorded in the model file: on for the packaged speechcommands "
                        "models); --no-trim never")
    p.add_argument("--backend", action=argparse.BooleanOptionalAction, default=True,
                   help="apply the speaker back end stored in the model file (`speechdis backend`: centring, LDA, "
                        "length norm; the packaged english model has one, fitted on sentences); --no-backend: the "
                        "raw speaker vectors")
    p.add_argument("--allow-upsample", action="store_true",
                   help="upsample audio below 4 kHz (default: skip it as a damaged header, like Kaldi)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from speechdis.errors import ConfigError
    from speechdis.inference.extract import check_output_dir, output_paths

    if (args.window is None) != (args.hop is None):
        raise ConfigError("--window and --hop go together")
    if args.per == "speaker":  # before the work: only data dirs with utt2spk name speakers
        from pathlib import Path

        plain = [x for x in args.inputs if not (Path(x) / "utt2spk").is_file()]
        if plain:
            raise ConfigError(f"--per speaker needs speakers: {plain[0]} is not a data dir with utt2spk "
                              f"(audio files carry no speaker)")
    if args.job is not None and not 1 <= args.job <= args.nj:
        raise ConfigError(f"--job must be in 1..{args.nj} (--nj), got {args.job}")
    npz, ark = output_paths(args.out, args.format)
    check_output_dir(npz if npz is not None else ark)  # before the work, not after it
    with _output_lock(args, npz.with_suffix("") if npz is not None else ark):  # the stem: every format
        return _embed(args, npz, ark)


@contextlib.contextmanager
def _output_lock(args: argparse.Namespace, out) -> Iterator[None]:
    """OUT locked for this run (a second extract into it fails at once); a grid job shares OUT's lock with
    the other jobs and holds its own part's, so --combine cannot run while a job is writing."""
    from speechdis.fileio import output_lock
    from speechdis.inference.extract import job_part_paths

    what = "speechdis extract" + (f" --job {args.job}" if args.job is not None else "")
    with contextlib.ExitStack() as stack:
        stack.enter_context(output_lock(out, what, directory=False, shared=args.job is not None))
        if args.job is not None:
            stack.enter_context(output_lock(job_part_paths(args.out, args.nj, args.job)[0], what,
                                            directory=False))
        yield


def _embed(args: argparse.Namespace, npz, ark) -> int:
    from tqdm import tqdm

    from speechdis.inference.extract import extract
    from speechdis.inference.model import load_speech_model

    vectors = [v for v in args.vectors.split(",") if v] if args.vectors else None
    model = load_speech_model(args.model, device=args.device, batch_size=args.batch_size, threads=args.threads,
                              vectors=vectors, pool=args.pool, trim=args.trim, backend=args.backend)
    model.allow_upsample = args.allow_upsample
    if args.combine:
        from speechdis.inference.extract import combine_job_parts, remove_job_parts

        _write(combine_job_parts(model, args.inputs, args.out, args.nj, options=_options(args), ids=args.ids),
               npz, ark, args)
        remove_job_parts(args.out, args.nj)  # written: the parts and their markers are not needed any more
        return 0
    bar = tqdm(unit="utt", desc="extract", disable=args.no_progress or None, file=sys.stderr)

    def start(total: int) -> None:
        bar.total = total
        bar.refresh()

    try:
        res = extract(model, args.inputs, word_segments=args.word_segments, ctm=args.ctm, window=args.window,
                      hop=args.hop, min_frames=args.min_frames, progress=bar.update, on_start=start,
                      nj=args.nj, job=args.job, workers=args.workers, ids=args.ids)
    finally:
        bar.close()
    if args.job is not None:
        from speechdis.inference.extract import save_job_part

        # Parts hold segment rows; --per groups them when --combine writes OUT.
        part = save_job_part(res, model, args.inputs, args.out, args.nj, args.job, options=_options(args),
                             ids=args.ids)
        print(f"job {args.job} of {args.nj}: {res.summary()} -> {part} (combine with --combine once all are done)")
        return 0
    _write(res, npz, ark, args)
    return 0


def _options(args: argparse.Namespace) -> dict:
    """What a grid job's part depends on besides the inputs and the model: --combine compares it."""
    return {"word_segments": args.word_segments, "ctm": args.ctm, "window": args.window, "hop": args.hop,
            "min_frames": args.min_frames, "pool": args.pool, "ids": args.ids, "backend": args.backend}


def _write(res, npz, ark, args: argparse.Namespace) -> None:
    from speechdis.inference.extract import describe_skipped
    from speechdis.inference.grouping import group_vectors

    segments = res.summary()
    res = group_vectors(res, args.per, args.pool)  # before writing: a speaker without speakers fails here
    written = []
    if npz is not None:
        written.append(res.save_npz(npz))
    if ark is not None:
        written += res.save_ark(ark)
    for line in describe_skipped(res.skipped):
        print(line, file=sys.stderr)
    print(f"embedded {segments}" + (f"; {len(res)} vector(s), one per {args.per}" if args.per != "segment" else ""))
    for w in written:
        print(f"  -> {w}")
