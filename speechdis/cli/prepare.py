"""`speechdis prepare <corpus|tool>`: build and manipulate Kaldi data dirs.

Sub-commands: ``librispeech`` (a LibriSpeech-layout subset + word alignments -> data dir),
``speechcommands`` (Speech Commands -> speaker-disjoint train/dev/test data dirs + noise list),
``fsdd`` (Free Spoken Digit Dataset -> data dir), ``speechocean762`` (-> speaker-disjoint data dirs),
``combine`` (several data dirs -> one, ids kept unique),
``augment`` (noisy, telephone-band and speed-perturbed copies of the audio -> a data dir with the originals),
``lhotse`` (lhotse manifests with word alignments -> data dir), ``export-lhotse`` (data dir -> lhotse manifests),
``chunks`` (fixed-length chunks or whole utterances as word_segments, for speaker EER),
``split-speakers`` (speaker-disjoint train/test split), ``split`` (Kaldi split_data.sh --per-spk),
``validate`` and ``fix-data-dir``.
"""
from __future__ import annotations

import argparse

from speechdis.cli.argtypes import finite_float, fraction, nonneg_float, percent, positive_float, positive_int, seed_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prepare`` command and its sub-commands."""
    p = subparsers.add_parser("prepare", help="prepare Kaldi data dirs (librispeech, splits, validation)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="prepare_command", required=True, metavar="{librispeech,speechcommands,fsdd,"
                                                                            "speechocean762,combine,augment,lhotse,export-lhotse,chunks,split-speakers,"
                                                                            "split,validate,"
                                                                            "fix-data-dir}")

    ls = sub.add_parser("librispeech", help="LibriSpeech-layout corpus subset -> data dir with word_segments")
    ls.add_argument("--corpus", required=True, help="corpus root holding <subset>/<spk>/<chapter>/")
    ls.add_argument("--subset", required=True, help="e.g. dev-clean, train-clean-100, train-clean-mini")
    ls.add_argument("--alignments", default=None,
                    help="file or dir of word alignments (TextGrid, *.alignment.txt, CTM), searched "
                         "recursively; default: the subset dir itself")
    ls.add_argument("--alignment-format", default="auto", choices=["auto", "textgrid", "alignment-txt", "ctm"],
                    help="alignment file format (auto: from the file names)")
    ls.add_argument("--no-alignments", action="store_true", help="do not look for alignments")
    ls.add_argument("out_dir", help="output data dir")
    ls.set_defaults(func=_librispeech)

    sc = sub.add_parser("speechcommands", help="Speech Commands (release or test-set layout) -> "
                                               "OUT/{train,dev,test} + OUT/noise")
    sc.add_argument("corpus", metavar="CORPUS", help="folder holding <word>/<speaker>_nohash_<n>.wav")
    sc.add_argument("out", metavar="OUT", help="output folder")
    sc.add_argument("--dev-percent", type=percent, default=15.0,
                    help="speakers for dev when splitting by speaker hash (default 15)")
    sc.add_argument("--test-percent", type=percent, default=15.0,
                    help="speakers for test when splitting by speaker hash (default 15)")
    sc.add_argument("--no-lists", action="store_true",
                    help="ignore validation_list.txt/testing_list.txt; always split by speaker hash")
    _trim_options(sc)
    sc.set_defaults(func=_speechcommands)

    so = sub.add_parser("speechocean762", help="speechocean762 (Kaldi files + WAVE/) -> speaker-disjoint "
                                               "OUT/{train,dev,test} (no timings: run speechdis align next)")
    so.add_argument("corpus", metavar="CORPUS", help="corpus root holding train/ (and test/) Kaldi files and WAVE/")
    so.add_argument("out", metavar="OUT", help="output folder")
    so.add_argument("--dev-percent", type=percent, default=15.0, help="speakers for dev (by speaker hash)")
    so.add_argument("--test-percent", type=percent, default=15.0, help="speakers for test (by speaker hash)")
    so.set_defaults(func=_speechocean762)

    co = sub.add_parser("combine", help="merge data dirs of several corpora into OUT (ids kept unique, speakers "
                                        "kept apart; like Kaldi's combine_data.sh)")
    co.add_argument("out", metavar="OUT", help="output data dir")
    co.add_argument("dirs", nargs="+", metavar="DIR", help="input data dirs")
    co.add_argument("--names", default=None,
                    help="comma-separated id prefixes, one per DIR (default: the dirs' names, made unique)")
    co.add_argument("--prefix", choices=["auto", "always", "never"], default="auto",
                    help="prefix ids with the names: when ids collide (auto), always, or never (collisions are errors)")
    co.set_defaults(func=_combine)

    au = sub.add_parser("augment", help="waveform augmentation: DATA_DIR + noisy / telephone-band / speed-perturbed "
                                        "copies of its audio -> OUT (Kaldi's augment_data_dir.py)")
    au.add_argument("data_dir", metavar="DATA_DIR", help="input data dir")
    au.add_argument("out", metavar="OUT", help="output data dir (audio under OUT/wav/)")
    au.add_argument("--kinds", type=_names, default=["noise", "telephone"],
                    help="comma-separated copies: noise, telephone, speed (default noise,telephone)")
    au.add_argument("--noise", default=None, metavar="DIR_OR_WAV_SCP",
                    help="noise source for kind noise: a folder of .wav/.flac files or a wav.scp")
    au.add_argument("--snrs", type=_numbers, default=[20.0, 10.0, 5.0, 0.0],
                    help="comma-separated SNRs in dB, one drawn per recording (default 20,10,5,0)")
    au.add_argument("--speeds", type=_numbers, default=[0.9, 1.1],
                    help="comma-separated factors of kind speed (default 0.9,1.1)")
    au.add_argument("--seed", type=seed_int, default=0, help="seed of the per-recording draws (default 0)")
    au.add_argument("--no-original", action="store_true", help="OUT holds the copies only")
    au.add_argument("--format", choices=["flac", "wav"], default="flac", help="audio files written (default flac)")
    au.add_argument("--nj", type=positive_int, default=1,
                    help="number of jobs (splits by speaker); worker processes of this command unless --job")
    au.add_argument("--job", type=positive_int, default=None, metavar="K",
                    help="grid job array: write the audio of split K of --nj only; a later run without --job "
                         "writes the rest and the tables")
    au.add_argument("--force", action="store_true", help="recompute every copy (default: resume, skipping "
                                                         "files already written)")
    au.add_argument("--no-progress", action="store_true", help="no progress bar")
    au.set_defaults(func=_augment)

    fs = sub.add_parser("fsdd", help="Free Spoken Digit Dataset (recordings/) -> one data dir")
    fs.add_argument("corpus", metavar="CORPUS", help="FSDD root holding recordings/")
    fs.add_argument("out", metavar="OUT", help="output data dir")
    _trim_options(fs)
    fs.set_defaults(func=_fsdd)

    lh = sub.add_parser("lhotse", help="lhotse manifests (recordings + supervisions with word alignments, or "
                                       "cuts) -> data dir with word_segments (needs speechdis[lhotse])")
    lh.add_argument("manifests", nargs="+", metavar="MANIFEST",
                    help="RecordingSet/SupervisionSet/CutSet files, or dirs holding them")
    lh.add_argument("out", metavar="OUT", help="output data dir")
    lh.set_defaults(func=_lhotse)

    le = sub.add_parser("export-lhotse", help="data dir (with word_segments) -> lhotse recordings + supervisions "
                                              "manifests (needs speechdis[lhotse])")
    le.add_argument("data_dir", metavar="DATA_DIR", help="data dir to export")
    le.add_argument("out", metavar="OUT", help="output folder for <prefix>{recordings,supervisions}.jsonl.gz")
    le.add_argument("--prefix", default="", help="file name prefix, e.g. librispeech_")
    le.set_defaults(func=_export_lhotse)

    ch = sub.add_parser("chunks", help="DATA_DIR's tables + word_segments of consecutive fixed-length chunks of each "
                                       "utterance (or whole utterances), label <chunk>: speaker EER on sentences")
    ch.add_argument("data_dir", metavar="DATA_DIR", help="data dir to chunk (its tables are copied, features shared)")
    ch.add_argument("out", metavar="OUT", help="output data dir")
    size = ch.add_mutually_exclusive_group()
    size.add_argument("--seconds", type=positive_float, default=3.0, help="chunk length (default 3)")
    size.add_argument("--whole", action="store_true", help="one segment per utterance instead of chunks")
    ch.add_argument("--min-seconds", type=nonneg_float, default=None,
                    help="keep the last, shorter chunk (and an utterance at all) when at least this long "
                         "(default: half a chunk; 0 with --whole)")
    ch.set_defaults(func=_chunks)

    sp = sub.add_parser("split-speakers", help="speaker-disjoint train/test split of a data dir")
    sp.add_argument("data_dir", help="data dir to split")
    sp.add_argument("out_train", help="output data dir of the training speakers")
    sp.add_argument("out_test", help="output data dir of the test speakers")
    sp.add_argument("--test-fraction", type=fraction, default=0.2, help="fraction of speakers for test (default 0.2)")
    sp.add_argument("--seed", type=seed_int, default=0, help="seed of the speaker draw")
    sp.set_defaults(func=_split_speakers)

    sj = sub.add_parser("split", help="split into N per-speaker parts: DATA_DIR/splitN/{1..N}")
    sj.add_argument("data_dir", help="data dir to split")
    sj.add_argument("--nj", type=positive_int, required=True, help="number of parts")
    sj.set_defaults(func=_split)

    va = sub.add_parser("validate", help="check a data dir like Kaldi's validate_data_dir.sh (warns of shell-command "
                                         "entries)")
    va.add_argument("data_dir", help="data dir to check")
    va.set_defaults(func=_validate)

    fx = sub.add_parser("fix-data-dir", help="keep only utterances present in every table (backup in .backup/)")
    fx.add_argument("data_dir", help="data dir to fix in place")
    fx.set_defaults(func=_fix)


def _names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"must be a comma-separated list, got {text!r}")
    return names


def _numbers(text: str) -> list[float]:
    return [finite_float(t) for t in _names(text)]


def _trim_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trim-db", type=positive_float, default=35.0,
                   help="word segment: frames within this many dB of the loudest one (default 35)")
    p.add_argument("--pad", type=nonneg_float, default=0.03,
                   help="seconds added on both sides of the segment (default 0.03)")
    p.add_argument("--no-trim", action="store_true", help="word segment = the whole clip")


def _speechcommands(args: argparse.Namespace) -> int:
    from speechdis.data.corpora import prepare_speechcommands

    report = prepare_speechcommands(args.corpus, args.out, dev_percent=args.dev_percent,
                                    test_percent=args.test_percent, trim=not args.no_trim, trim_db=args.trim_db,
                                    pad=args.pad, use_lists=not args.no_lists)
    print(report.summary())
    return 0


def _speechocean762(args: argparse.Namespace) -> int:
    from speechdis.data.corpora import prepare_speechocean762

    print(prepare_speechocean762(args.corpus, args.out, dev_percent=args.dev_percent,
                                 test_percent=args.test_percent).summary())
    return 0


def _combine(args: argparse.Namespace) -> int:
    from speechdis.data.combine import combine_data_dirs

    names = args.names.split(",") if args.names else None
    print(combine_data_dirs(args.out, args.dirs, names=names, prefix=args.prefix).summary())
    return 0


def _augment(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from speechdis.data.augment_dir import augment_data_dir

    bar = tqdm(unit="file", desc="augment", disable=args.no_progress or None, file=sys.stderr)
    try:
        report = augment_data_dir(args.data_dir, args.out, args.kinds, noise=args.noise, snrs=args.snrs,
                                  speeds=args.speeds, seed=args.seed, keep_original=not args.no_original,
                                  fmt=args.format, nj=args.nj, job=args.job, force=args.force,
                                  progress=bar.update)
    finally:
        bar.close()
    print(report.summary())
    return 0


def _fsdd(args: argparse.Namespace) -> int:
    from speechdis.data.corpora import prepare_fsdd

    report = prepare_fsdd(args.corpus, args.out, trim=not args.no_trim, trim_db=args.trim_db, pad=args.pad)
    print(report.summary())
    return 0


def _librispeech(args: argparse.Namespace) -> int:
    from speechdis.data.corpora.librispeech import prepare_librispeech

    report = prepare_librispeech(args.corpus, args.subset, args.out_dir, alignments=args.alignments,
                                 alignment_format=args.alignment_format, use_alignments=not args.no_alignments)
    print(report.summary())
    return 0


def _lhotse(args: argparse.Namespace) -> int:
    from speechdis.data.lhotse_io import import_lhotse

    print(import_lhotse(args.manifests, args.out).summary())
    return 0


def _export_lhotse(args: argparse.Namespace) -> int:
    from speechdis.data.lhotse_io import export_lhotse

    for path in export_lhotse(args.data_dir, args.out, prefix=args.prefix):
        print(path)
    return 0


def _chunks(args: argparse.Namespace) -> int:
    from speechdis.data.chunks import prepare_chunks

    print(prepare_chunks(args.data_dir, args.out, args.seconds, min_seconds=args.min_seconds,
                         whole=args.whole).summary())
    return 0


def _split_speakers(args: argparse.Namespace) -> int:
    from speechdis.data.datadir import train_test_split_speakers

    train, test = train_test_split_speakers(args.data_dir, args.test_fraction, args.seed,
                                            out_train=args.out_train, out_test=args.out_test)
    print(f"train: {train.num_utts} utterances, {train.num_speakers} speakers -> {args.out_train}")
    print(f"test:  {test.num_utts} utterances, {test.num_speakers} speakers -> {args.out_test}")
    return 0


def _split(args: argparse.Namespace) -> int:
    from speechdis.data.datadir import split_by_speaker

    parts = split_by_speaker(args.data_dir, args.nj)
    for part in parts:
        print(f"{part.path}: {part.num_utts} utterances, {part.num_speakers} speakers")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from speechdis.data.validate import validate_data_dir

    warnings = validate_data_dir(args.data_dir)
    for w in warnings:
        print(f"WARNING: {w}")
    print(f"{args.data_dir}: OK")
    return 0


def _fix(args: argparse.Namespace) -> int:
    from speechdis.data.datadir import fix_data_dir

    removed = fix_data_dir(args.data_dir)
    print(f"{args.data_dir}: removed {len(removed)} utterance(s)"
          + (f": {', '.join(removed[:10])}{' ...' if len(removed) > 10 else ''}" if removed else ""))
    return 0
