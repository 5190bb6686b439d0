"""`speechdis evaluate {std,speaker,probes,plots,all,report}`: evaluate trained models on a data dir.

Every sub-command takes --data DATA_DIR (with word_segments, and wav.scp or features) and --model NAME=PATH
(repeatable; PATH = an experiment dir, a model.pt, or an .npz of vectors keyed by segment id as
`speechdis extract` writes), and writes JSON + Markdown reports (and PNGs) to --out. The mfcc-stats
baseline (mean + std of each segment's raw MFCC frames, standardised) is evaluated beside the models
unless --no-mfcc-stats; `std` reports cross-speaker QbE (archive = other speakers) beside plain QbE.
A data dir without feats.scp gets its features computed from wav.scp with the first model's front end,
kept in OUT/data (a rerun reuses them). `std` also takes plain folders of audio instead of --data:
--archive DIR [--queries DIR] --labels filename|folder|FILE.tsv (see `speechdis evaluate std --help`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechdis.cli.argtypes import (
    finite_float,
    fraction,
    int_at_least,
    nonneg_float,
    positive_float,
    positive_int,
    seed_int,
)

FOLDERS_HELP = """folder mode (instead of --data): the audio files below --archive (wav/flac/ogg) are searched for the
files below --queries (default: every archive file is also a query, as in a data dir); their words come from
--labels:
  filename  the file name up to its first _ - . or space (yes_01.wav -> yes); --label-regex replaces the
            rule: a regex searched in the path below the folder without extension ('/' between folders),
            its group 'word' (or first group) the word, an optional group 'speaker' the speaker
  folder    the name of the folder holding the file (yes/0a7c2a8d_nohash_0.wav -> yes)
  FILE.tsv  lines path<TAB>word[<TAB>speaker] (the whole file) or path<TAB>word<TAB>start<TAB>end[<TAB>speaker]
            (seconds inside a long file); relative paths are below --queries / --archive; '#' comments
Files without a speaker are their own speaker. Whole-file words are energy-trimmed as the model trims (--trim /
--no-trim). An unlabelled file is an error (--skip-unlabelled: skipped, counted and listed). The data dir made
from the folders, with the model's features, is kept in OUT/data.
example: speechdis evaluate std --archive clips/ --queries examples/ --labels filename --model pkg=speechcommands --dtw
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command and its sub-commands."""
    from speechdis.eval.config import EVAL_DEFAULTS as D
    from speechdis.eval.systems import OUTSIDE_SYSTEMS

    p = subparsers.add_parser("evaluate", help="spoken term detection, speaker verification, probes, plots",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="evaluate_command", required=True,
                           metavar="{std,speaker,probes,plots,all,report}")

    def common(sp: argparse.ArgumentParser, baselines: bool = True, folders: bool = False) -> None:
        sp.add_argument("--data", required=not folders, metavar="DATA_DIR",
                        help="test data dir (word_segments + features or wav.scp)"
                             + (" (or the folder mode below)" if folders else ""))
        sp.add_argument("--model", dest="models", action="append", default=[], required=not baselines,
                        metavar="NAME=PATH", help="a system (repeatable): experiment dir, model.pt, or .npz of "
                                                  "vectors keyed by segment id; NAME labels its results")
        if baselines:
            sp.add_argument("--no-mfcc-stats", dest="mfcc_stats", action="store_false",
                            help="leave out the mfcc-stats baseline (MFCC mean+std vectors)")
        sp.add_argument("--out", default=None, metavar="DIR", help="output dir (default: eval_<data dir name>)")
        sp.add_argument("--min-frames", type=positive_int, default=D.min_frames,
                        help=f"shortest word segment used (frames, default {D.min_frames})")
        sp.add_argument("--device", default=D.device, help="auto | cpu | cuda | cuda:N")
        sp.add_argument("--batch-size", type=positive_int, default=D.batch_size, help="segments per embedding batch")
        sp.add_argument("--threads", type=positive_int, default=D.threads,
                        help=f"torch CPU threads for embedding (default {D.threads})")
        sp.add_argument("--allow-commands", action="store_true",
                        help="run the shell commands ('... |') the data dir's feats.scp/cmvn.scp name (default: "
                             "refuse them)")
        sp.add_argument("--seed", type=seed_int, default=D.seed,
                        help="seed of every random choice (trials, splits, t-SNE)")

    def std_opts(sp: argparse.ArgumentParser, dtw_default: bool) -> None:
        if dtw_default:
            sp.add_argument("--no-dtw", dest="dtw", action="store_false", help="skip the frame-level DTW baseline")
        else:
            sp.add_argument("--dtw", action="store_true", help="also run the frame-level DTW baseline")
        sp.add_argument("--dtw-budget", type=nonneg_float, default=D.dtw_budget, metavar="SECONDS",
                        help=f"safety cap: stop DTW after this long in all (default {D.dtw_budget:g}; 0 = no "
                             f"limit); which pairs it leaves depends on machine load, so a cut is reported")
        sp.add_argument("--dtw-max-pairs", type=positive_int, default=D.dtw_max_pairs, metavar="N",
                        help="reproducible DTW budget: at most N pairs for each DTW task, drawn with --seed: QbE "
                             "searches the whole archive for a sample of N / archive-size queries, same-different "
                             "scores every pair of a sample of the models' same-different segments (s(s-1)/2 <= N); "
                             "the other systems also report MAP_dtw_queries / AP_dtw_pairs on those (default: all)")
        sp.add_argument("--min-occurrences", type=int_at_least(2), default=D.min_occurrences, metavar="N",
                        help=f"queries: segments of words with >= N occurrences (default {D.min_occurrences}; "
                             f"folder mode with --queries: every query file, those whose word the archive lacks "
                             f"counted apart)")
        sp.add_argument("--max-queries-per-word", type=positive_int, default=D.max_queries_per_word, metavar="N",
                        help="at most N queries per word (random, seeded)")
        sp.add_argument("--max-same-diff", type=int_at_least(2), default=D.max_same_diff, metavar="N",
                        help=f"segments drawn for the same-different task (O(N^2) pairs; default {D.max_same_diff})")
        sp.add_argument("--windows", action="store_true",
                        help="utterance level: score sliding windows instead of word segments")
        sp.add_argument("--window", type=positive_float, default=D.window, metavar="SEC",
                        help=f"window length (default {D.window:g})")
        sp.add_argument("--hop", type=positive_float, default=D.hop, metavar="SEC",
                        help=f"window shift (default {D.hop:g})")

    s = sub.add_parser("std", help="spoken term detection (QbE MAP, P@10, P@R, same-different AP, DTW; ATWV)",
                       epilog=FOLDERS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(s, folders=True)
    f = s.add_argument_group("folder mode")
    f.add_argument("--archive", default=None, metavar="DIR", help="folder of audio files to search in")
    f.add_argument("--queries", default=None, metavar="DIR",
                   help="folder of query audio files (default: every archive file is a query too)")
    f.add_argument("--labels", default="filename", metavar="filename|folder|FILE.tsv",
                   help="where the words come from (default filename; see below)")
    f.add_argument("--label-regex", default=None, metavar="REGEX",
                   help="--labels filename/folder: the rule as a regex with a group 'word' (and 'speaker')")
    f.add_argument("--trim", action=argparse.BooleanOptionalAction, default=None,
                   help="energy-trim whole-file words (default: as the first model trims; none without a model)")
    f.add_argument("--skip-unlabelled", action="store_true",
                   help="skip (and count) files the labels do not cover instead of stopping")
    std_opts(s, dtw_default=False)
    s.add_argument("--atwv", action="store_true",
                   help="also score windowed search as detection: ATWV/MTWV (beta 999.9), P_miss/P_FA, one DET "
                        "figure, kwlist.xml + kwslist_<system>.xml + detections_<system>.tsv; frame-DTW detection "
                        "is the baseline row (within --dtw-budget); implies --windows")
    s.add_argument("--threshold", type=finite_float, default=D.threshold,
                   help=f"--atwv: YES decision at score >= this (cosine; DTW scores 1 - distance; default "
                        f"{D.threshold:g}); pick it on dev data, e.g. the dev set's MTWV threshold")
    s.add_argument("--reference", default=None, metavar="FILE",
                   help="--atwv: the reference occurrences, a CTM (.ctm) or word_segments file "
                        "(default: the data dir's word_segments)")
    s.set_defaults(func=_std)

    v = sub.add_parser("speaker", help="speaker verification: EER, minDCF, DET curves")
    common(v)
    v.add_argument("--p-target", type=fraction, default=D.p_target,
                   help=f"prior of the minDCF (default {D.p_target:g})")
    v.add_argument("--trials", type=positive_int, default=D.trials,
                   help=f"target and non-target trials each (default {D.trials})")
    v.add_argument("--system", dest="systems", action="append", default=[], choices=OUTSIDE_SYSTEMS,
                   help="an outside speaker encoder beside the models (repeatable): resemblyzer "
                        "(pip install 'speechdis[resemblyzer]')")
    v.set_defaults(func=_speaker)

    pr = sub.add_parser("probes", help="linear probes: speaker/word accuracy from phonetic/speaker vectors")
    common(pr)
    pr.add_argument("--test-size", type=fraction, default=D.test_size,
                    help=f"held-out fraction (default {D.test_size:g})")
    pr.set_defaults(func=_probes)

    pl = sub.add_parser("plots", help="t-SNE maps of the vectors and training-loss curves")
    common(pl, baselines=False)
    pl.add_argument("--tsne-points", type=int_at_least(2), default=D.tsne_points, help="segments in each t-SNE plot")
    pl.add_argument("--tsne-classes", type=positive_int, default=D.tsne_classes,
                    help="most frequent speakers/words shown")
    pl.set_defaults(func=_plots)

    a = sub.add_parser("all", help="std (with DTW) + speaker + probes + plots, and the final table")
    common(a)
    std_opts(a, dtw_default=True)
    a.add_argument("--p-target", type=fraction, default=D.p_target, help="prior of the minDCF")
    a.add_argument("--trials", type=positive_int, default=D.trials, help="target and non-target trials each")
    a.add_argument("--test-size", type=fraction, default=D.test_size, help="held-out fraction of the probes")
    a.add_argument("--tsne-points", type=int_at_least(2), default=D.tsne_points, help="segments in each t-SNE plot")
    a.add_argument("--tsne-classes", type=positive_int, default=D.tsne_classes,
                   help="most frequent speakers/words shown")
    a.add_argument("--no-plots", action="store_true", help="skip the t-SNE and DET plots")
    a.add_argument("--system", dest="systems", action="append", default=None, choices=OUTSIDE_SYSTEMS,
                   help="outside speaker encoders beside the models (repeatable; default: every one installed, "
                        "i.e. resemblyzer with speechdis[resemblyzer])")
    a.add_argument("--no-outside-systems", dest="systems", action="store_const", const=[],
                   help="leave out the outside speaker encoders")
    a.set_defaults(func=_all)

    r = sub.add_parser("report", help="print the final table of an `evaluate all` output dir")
    r.add_argument("out", metavar="DIR", help="output dir of `speechdis evaluate all`")
    r.set_defaults(func=_report)


# -------------------------------------------------------------------------------------------- helpers
def _out(args: argparse.Namespace) -> Path:
    source = args.data if args.data is not None else args.archive
    out = Path(args.out) if args.out else Path(f"eval_{Path(source).resolve().name}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _say(msg: str) -> None:
    print(f"[evaluate] {msg}", file=sys.stderr, flush=True)


def _std_options(args: argparse.Namespace):
    from speechdis.eval.runner import StdOptions

    return StdOptions.from_config(_eval_config(args), dtw=args.dtw)


def _eval_config(args: argparse.Namespace):
    """The :class:`EvalConfig` of the options given (those a command lacks keep their defaults)."""
    import dataclasses

    from speechdis.eval.config import EvalConfig

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(EvalConfig) if hasattr(args, f.name)}
    return EvalConfig(**given)


def _windows(args: argparse.Namespace) -> tuple[float, float] | None:
    if not (args.windows or getattr(args, "atwv", False)):
        return None
    return args.window, args.hop


def _load_sources(args: argparse.Namespace, specs):
    """The systems to embed with (models loaded once, .npz paths as they are) and the first model."""
    from speechdis.inference.model import load_speech_model

    sources, first = [], None
    for name, path in specs:
        if path.suffix == ".npz":
            sources.append((name, path))
            continue
        emb = load_speech_model(path, device=args.device, batch_size=args.batch_size, threads=args.threads)
        first = first or emb
        sources.append((name, emb))
    return sources, first


def _eval_data(args: argparse.Namespace, out: Path, model):
    """The evaluation data of --data (features computed when it has none) or of the folder mode."""
    from speechdis.audio.features import FeatureConfig
    from speechdis.errors import ConfigError
    from speechdis.eval.data import eval_features, load_eval_data

    archive = getattr(args, "archive", None)
    if (args.data is None) == (archive is None):
        raise ConfigError("give --data DATA_DIR or --archive DIR (folder mode), not both" if archive else
                          "give --data DATA_DIR, or --archive DIR for a folder of audio")
    if archive is None and getattr(args, "queries", None) is not None:
        raise ConfigError("--queries needs --archive (folder mode); a data dir's queries are its word segments")
    front = model.feature_config if model is not None else FeatureConfig()
    folders = None
    data_dir = args.data
    if archive is not None:
        from speechdis.audio.trim import TRIM_DB, TRIM_PAD
        from speechdis.eval.folders import folder_data_dir

        trim = model.trim if model is not None else None
        if args.trim is False:
            trim = None
        elif args.trim and not trim:
            trim = {"trim_db": TRIM_DB, "pad": TRIM_PAD}
        folders = folder_data_dir(archive, out / "data", args.queries, args.labels, args.label_regex, trim,
                                  args.skip_unlabelled)
        files = ", ".join(f"{n} {k}" for k, n in folders.files.items())
        _say(f"folders: {files} audio files, labels {folders.labels}"
             + (f"; skipped {len(folders.skipped)}" if folders.skipped else ""))
        for line in folders.skipped[:3]:
            _say(f"  skipped {line}")
        if folders.skipped:
            from speechdis.eval.folders import SKIPPED_FILES

            _say(f"  {'... ' if len(folders.skipped) > 3 else ''}all {len(folders.skipped)} listed in "
                 f"{folders.data_dir / SKIPPED_FILES}")
        data_dir = folders.data_dir
    if model is None:
        _say("no model given: features (if computed) use the default front end (39-dim MFCC, per-utterance CMVN)")
    d, cmvn, note = eval_features(data_dir, out / "data", front, allow_commands=args.allow_commands, progress=_say)
    data = load_eval_data(d, args.min_frames, allow_commands=args.allow_commands, cmvn=cmvn)
    if note:
        data.source["features"] = note
    if folders is not None:
        from speechdis.eval.folders import with_folder_roles

        data = with_folder_roles(data, folders)
    return data


def _prepare(args: argparse.Namespace, windows=None):
    from speechdis.errors import ConfigError
    from speechdis.eval.runner import embed_models, parse_model_specs

    mfcc_stats = getattr(args, "mfcc_stats", False)
    specs = parse_model_specs(args.models, allow_empty=mfcc_stats)
    if not specs and not mfcc_stats:
        raise ConfigError("nothing to evaluate: give --model NAME=PATH or keep the mfcc-stats baseline")
    out = _out(args)
    sources, first = _load_sources(args, specs)
    data = _eval_data(args, out, first)
    _say(f"{len(data)} segments, {len(set(data.utts))} utterances, {len(set(data.speakers))} speakers, "
         f"{len(set(data.words))} words" + (f" ({int(data.query_mask.sum())} query segments)"
                                            if data.query_mask is not None else ""))
    models = embed_models(sources, data, device=args.device, batch_size=args.batch_size, windows=windows,
                          threads=args.threads, mfcc_stats=mfcc_stats, progress=_say)
    for name in getattr(args, "systems", None) or []:
        from speechdis.eval.runner import outside_system

        _say(f"embedding {len(data)} segments with {name}")
        models.insert(int(mfcc_stats), outside_system(name, data, args.device))
    for m in models:
        for n in m.notes:
            _say(f"{m.name}: {n}")
    return out, data, models


def _print_report(out: Path, name: str) -> None:
    print(f"\n{(out / f'{name}.md').read_text(encoding='utf-8')}")
    print(f"reports: {out / f'{name}.json'}, {out / f'{name}.md'}")


# ------------------------------------------------------------------------------------------- commands
def _std(args: argparse.Namespace) -> int:
    from speechdis.eval.report import write_report
    from speechdis.eval.runner import run_std

    opt = _std_options(args)
    out, data, models = _prepare(args, _windows(args))
    write_report(run_std(data, models, opt, _say).to_dict(), out, "std")
    _print_report(out, "std")
    if args.atwv:
        _kws(args, out, data, models, opt)
    return 0


def _kws(args: argparse.Namespace, out: Path, data, models, opt) -> None:
    from speechdis.eval.detection import KWS_COLUMNS, KwsOptions, kws_table, run_kws, write_kws_files
    from speechdis.eval.report import format_table, write_report
    from speechdis.eval.tasks.std import std_queries

    queries = std_queries(data, opt)[0]
    kopt = KwsOptions(threshold=args.threshold, reference=Path(args.reference) if args.reference else None,
                      dtw_budget=opt.dtw_budget, seed=opt.seed)
    res, dets = run_kws(data, models, queries, kopt, _say)
    files = write_kws_files(res, dets, out)
    write_report(res, out, "kws")
    print(f"\nterm detection: {res['terms']} terms ({res['examples']} examples) in {res['speech_seconds']:.0f} s "
          f"of speech, YES at score >= {res['threshold']:g}, beta {res['beta']:g}")
    print(format_table(kws_table(res), KWS_COLUMNS))
    for name, why in res.get("skipped", {}).items():
        print(f"{name}: not scored ({why})")
    print(f"reports: {out / 'kws.json'}, {out / 'kws.md'}; {', '.join(f.name for f in files)}")


def _speaker(args: argparse.Namespace) -> int:
    from speechdis.eval.report import write_report
    from speechdis.eval.runner import run_speaker

    out, data, models = _prepare(args)
    write_report(run_speaker(data, models, out, n_trials=args.trials, p_target=args.p_target, seed=args.seed)
                 .to_dict(), out, "speaker")
    _print_report(out, "speaker")
    return 0


def _probes(args: argparse.Namespace) -> int:
    from speechdis.eval.report import write_report
    from speechdis.eval.runner import run_probes

    out, data, models = _prepare(args)
    res = run_probes(data, models, test_size=args.test_size, seed=args.seed)
    for s in res.skipped:
        _say(f"{s['target']} probe skipped ({s['models']}): {s['reason']}")
    write_report(res.to_dict(), out, "probes")
    _print_report(out, "probes")
    return 0


def _plots(args: argparse.Namespace) -> int:
    from speechdis.eval.runner import run_plots

    out, data, models = _prepare(args)
    files = run_plots(data, models, out, max_points=args.tsne_points, max_classes=args.tsne_classes,
                      seed=args.seed, progress=_say)
    for names in files.values():
        for f in names:
            print(out / f)
    return 0


def _all(args: argparse.Namespace) -> int:
    from speechdis.eval.runner import parse_model_specs, run_all

    specs = parse_model_specs(args.models, allow_empty=args.mfcc_stats)
    out = _out(args)
    sources, _ = _load_sources(args, specs)
    run_all(args.data, sources, out, _eval_config(args), dtw=args.dtw, windows=args.windows,
            plots=not args.no_plots, mfcc_stats=args.mfcc_stats, outside=_outside(args), progress=_say,
            allow_commands=args.allow_commands)
    return _report(argparse.Namespace(out=str(out)))


def _outside(args: argparse.Namespace) -> list[str]:
    """The outside systems asked for, or (by default) every one installed."""
    if args.systems is not None:
        return list(dict.fromkeys(args.systems))
    from speechdis.eval.resemblyzer_system import have_resemblyzer

    return ["resemblyzer"] if have_resemblyzer() else []


def _report(args: argparse.Namespace) -> int:
    import json

    from speechdis.errors import SpeechdisError
    from speechdis.eval.table import format_final_tables

    out = Path(args.out)
    path = out / "summary.json"
    if not path.is_file():
        raise SpeechdisError(f"{path}: no such file (run `speechdis evaluate all ... --out {out}` first)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise SpeechdisError(f"{path}: not a valid summary (corrupt JSON: {e}); rerun `speechdis evaluate all "
                             f"--out {out}`") from e
    final = summary.get("final") if isinstance(summary, dict) else None
    if not isinstance(final, list) or not all(isinstance(r, dict) for r in final):
        raise SpeechdisError(f"{path}: not a summary of `speechdis evaluate all` (no 'final' table); rerun it")
    d = summary.get("data") if isinstance(summary.get("data"), dict) else {}
    print(f"\n{d.get('data_dir', '?')}: {d.get('segments')} segments, {d.get('utterances')} utterances, "
          f"{d.get('speakers')} speakers, {d.get('words')} words; {d.get('queries')} queries")
    print(format_final_tables(final))
    if isinstance(summary.get("dtw_note"), str):
        print(f"\nnote: {summary['dtw_note']}")
    files = sorted(p.name for p in out.iterdir() if p.suffix in (".json", ".md", ".png"))
    print(f"\n{len(files)} report files in {out}: {', '.join(files)}")
    return 0
