"""`speechdis search --archive ARCHIVE QUERY...`: the archive segments nearest to each query (cosine).

ARCHIVE: vectors written by `speechdis extract` (an .npz, or a <prefix>.<kind>.scp / .ark). Each QUERY is
an audio file (embedded whole by the model that made the archive: the one it records, or --model, which
must be that model), an .npz of extracted vectors (every segment in it is a query), or the id of an archive
segment (that segment itself is left out of its results). Output: a TSV, one line per hit: query, rank,
id, score, word, utt, start, end.

Detection: overlapping windows of one utterance (an archive of `extract --window`) are one occurrence, so
the hits of a query are merged per utterance (non-maximum suppression: the best window is the hit, with
its time span; windows overlapping it are dropped) unless --no-merge. --threshold T leaves out hits
scoring below T. --detections FILE writes the hits as a detection list (TSV: term, file, start, duration,
score, decision YES/NO at the threshold; term = the query's name, file = the utterance), --kwslist FILE
the same as NIST/Kaldi kwslist XML (F4DE KWSEval scores it) and --kwlist FILE the queries as kwlist XML;
these keep the hits below the threshold, as NO decisions.

An .scp archive is read as plain files: an entry that is a shell command ('... |', which Kaldi tools would
run) is refused unless --allow-commands.

Search is exact (blocked matrix products) by default below 2 million vectors; --index flat/ivf/hnsw uses
the optional faiss package (pip install 'speechdis[faiss]'); ivf and hnsw are approximate.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechdis.cli.argtypes import finite_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``search`` command."""
    from speechdis.eval.search import INDEX_KINDS

    p = subparsers.add_parser("search", help="nearest archive segments of spoken queries (QbE search)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("queries", nargs="+", metavar="QUERY", help="audio file, .npz of vectors, or archive segment id")
    p.add_argument("--archive", required=True, metavar="FILE", help="vectors of `speechdis extract` (.npz/.scp/.ark)")
    p.add_argument("--model", metavar="EXP_DIR",
                   help="model that embeds audio queries; must be the archive's (default: the model file the "
                        "archive records)")
    p.add_argument("--vector", default=None, help="vector kind to search (default: phonetic / embedding)")
    p.add_argument("-k", "--k", type=positive_int, default=10, help="hits per query")
    p.add_argument("--index", default="auto", choices=INDEX_KINDS,
                   help="auto: exact below 2M vectors, else faiss ivf when installed")
    p.add_argument("--nprobe", type=positive_int, default=None, help="IVF cells visited (default max(32, nlist/16))")
    p.add_argument("--no-merge", dest="merge", action="store_false",
                   help="keep every window hit (default: overlapping hits in one utterance merged into the best)")
    p.add_argument("--threshold", type=finite_float, default=None, metavar="T",
                   help="leave out hits scoring below T (cosine); the YES/NO decision of --detections/--kwslist")
    p.add_argument("--detections", default=None, metavar="FILE",
                   help="detection list TSV: term, file, start, duration, score, decision")
    p.add_argument("--kwslist", default=None, metavar="FILE", help="the detections as NIST/Kaldi kwslist XML")
    p.add_argument("--kwlist", default=None, metavar="FILE", help="the queries as NIST/Kaldi kwlist XML")
    p.add_argument("--out", default=None, metavar="FILE", help="TSV output (default: stdout)")
    p.add_argument("--allow-commands", action="store_true",
                   help="run the shell commands ('... |') an .scp archive names (default: refuse them)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (embedding audio queries)")
    p.set_defaults(func=_run)


def _queries(args: argparse.Namespace, archive, vector: str) -> tuple[list[str], "np.ndarray", list[int]]:  # noqa: F821
    """Names, vectors and (for archive segment ids) archive rows of the queries, as ``vector`` vectors."""
    import numpy as np

    from speechdis.errors import ConfigError
    from speechdis.eval.search import pick_vector
    from speechdis.inference.archive import load_archive
    from speechdis.inference.inputs import AUDIO_EXTENSIONS

    where = {a: i for i, a in enumerate(archive.ids)}
    names: list[str] = []
    vecs: list[np.ndarray] = []
    own: list[int] = []  # archive index of the query itself (-1: none)
    model = None
    for q in args.queries:
        p = Path(q)
        if p.is_file() and p.suffix == ".npz":
            es = load_archive(p)
            v = pick_vector(list(es.vectors), vector, str(p))
            names += es.ids
            vecs += list(np.asarray(es.vectors[v], dtype=np.float32))
            own += [-1] * len(es.ids)
        elif p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS:
            if model is None:
                model = _query_model(args, archive, p)
                if vector not in model.keys:
                    raise ConfigError(f"the model makes {', '.join(model.keys)} vectors, the archive holds "
                                      f"{vector}")
            names.append(p.stem)
            vecs.append(model.embed_file(p)[vector][0])
            own.append(-1)
        elif q in where:
            names.append(q)
            vecs.append(archive.vectors[vector][where[q]])
            own.append(where[q])
        else:
            raise ConfigError(f"query {q!r} is neither an audio file, an .npz, nor a segment id of the archive")
    return names, np.stack(vecs), own


def _query_model(args: argparse.Namespace, archive, query: Path):
    """The model that embeds audio queries: --model, which must be the archive's (same file content), or by
    default the model file the archive records."""
    from speechdis.errors import ConfigError
    from speechdis.fileio import file_sha256
    from speechdis.inference.model import load_speech_model

    recorded = Path(archive.model) if archive.model else None
    if args.model is None:
        if recorded is None or not recorded.is_file():
            where = f" (it records {recorded}, which is not there)" if recorded else ""
            raise ConfigError(f"query {query} is audio: give --model, the model that made the archive{where}")
        model = load_speech_model(recorded, device=args.device)
        print(f"[search] embedding audio queries with the archive's model {recorded}", file=sys.stderr)
    else:
        model = load_speech_model(args.model, device=args.device)
    made_by = archive.model_sha256 or (file_sha256(recorded) if recorded and recorded.is_file() else "")
    if made_by and model.sha256 != made_by:
        raise ConfigError(f"--model {args.model} is not the model that made {args.archive} ({archive.model}; the "
                          f"files differ): its vectors would not be comparable; leave out --model to use the "
                          f"archive's")
    return model


def _tsv_line(fields: list[str]) -> str:
    """One TSV line; a field holding a tab or line break would shift or split the columns, so it is refused."""
    from speechdis.errors import ConfigError

    for f in fields:
        if any(c in f for c in "\t\n\r"):
            raise ConfigError(f"{f!r} holds a tab or line break and cannot be written as a TSV field (rename it)")
    return "\t".join(fields)


def _run(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from speechdis.errors import ConfigError
    from speechdis.eval.search import build_index, pick_vector
    from speechdis.fileio import atomic_open
    from speechdis.inference.archive import load_archive

    archive = load_archive(args.archive, allow_commands=args.allow_commands)
    vector = pick_vector(list(archive.vectors), args.vector, args.archive)
    names, qv, own = _queries(args, archive, vector)
    mat = archive.vectors[vector]
    if qv.shape[1] != mat.shape[1]:
        raise ConfigError(f"queries have {qv.shape[1]}-dim vectors, the archive {mat.shape[1]}-dim")
    t0 = time.perf_counter()
    opts = {"nprobe": args.nprobe} if args.index in ("ivf", "auto") and args.nprobe else {}
    index = build_index(mat, args.index, **opts)
    t1 = time.perf_counter()
    merge = args.merge and _has_times(archive)
    # Merging drops windows of the same occurrence: fetch more so that k distinct hits remain.
    fetch = min(len(archive), max(20 * (args.k + 1), 200)) if merge else args.k + 1  # +1: a segment query
    scores, hits = index.search(qv, fetch)
    t2 = time.perf_counter()
    lines = ["query\trank\tid\tscore\tword\tutt\tstart\tend"]
    detections = []
    for qi, name in enumerate(names):
        keep = [(float(s), int(j)) for s, j in zip(scores[qi], hits[qi]) if j >= 0 and j != own[qi]]
        if merge:
            keep = _merge(keep, archive)
        for rank, (s, j) in enumerate(keep[:args.k], start=1):
            st, en = archive.starts[j], archive.ends[j]
            if not (np.isnan(st) or np.isnan(en)):
                from speechdis.eval.kws import Detection

                detections.append(Detection(name, archive.utts[j] or archive.ids[j], float(st), float(en), s))
            if args.threshold is not None and s < args.threshold:
                continue
            lines.append(_tsv_line([name, str(rank), archive.ids[j], f"{s:.4f}", archive.words[j], archive.utts[j],
                                    "" if np.isnan(st) else f"{st:.3f}", "" if np.isnan(en) else f"{en:.3f}"]))
    text = "\n".join(lines) + "\n"
    if args.out:
        with atomic_open(Path(args.out), "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    _write_detection_files(args, names, detections)
    print(f"[search] {len(names)} queries x {len(archive)} {vector} vectors, {index.kind} index "
          f"(built {t1 - t0:.2f}s), searched in {t2 - t1:.2f}s"
          + (f", window hits merged into {len(lines) - 1} hits" if merge else ""), file=sys.stderr)
    return 0


def _has_times(archive) -> bool:
    """Whether hits can be merged: every vector has an utterance and a finite time span."""
    import numpy as np

    return bool(len(archive) and all(archive.utts) and np.isfinite(archive.starts).all()
                and np.isfinite(archive.ends).all())


def _merge(hits: list[tuple[float, int]], archive) -> list[tuple[float, int]]:
    """Non-maximum suppression of one query's hits within each utterance; best first."""
    import numpy as np

    from speechdis.eval.kws import merge_hits

    by_utt: dict[str, list[tuple[float, int]]] = {}
    for s, j in hits:
        by_utt.setdefault(archive.utts[j], []).append((s, j))
    out = []
    for group in by_utt.values():
        idx = np.array([j for _, j in group])
        for k in merge_hits(archive.starts[idx], archive.ends[idx], np.array([s for s, _ in group])):
            out.append(group[k])
    return sorted(out, key=lambda x: (-x[0], x[1]))


def _write_detection_files(args: argparse.Namespace, names: list[str], detections: list) -> None:
    from speechdis.errors import ConfigError
    from speechdis.eval.kws import write_detections, write_kwlist, write_kwslist

    if not (args.detections or args.kwslist or args.kwlist):
        return
    if (args.detections or args.kwslist) and not detections:
        raise ConfigError(f"{args.archive}: no time spans in the archive, so no detections "
                          f"(extract it with --window/--hop, word segments or a CTM)")
    thr = float("-inf") if args.threshold is None else args.threshold
    if args.detections:
        write_detections(detections, thr, args.detections)
    if args.kwslist:
        write_kwslist(detections, thr, args.kwslist, terms=list(dict.fromkeys(names)))
    if args.kwlist:
        write_kwlist({n: n for n in dict.fromkeys(names)}, args.kwlist)
