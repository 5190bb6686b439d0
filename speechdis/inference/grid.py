"""Grid job arrays for extraction (Kaldi style): split K of N of the utterances, its ``.npz`` part with a
``.done`` marker, and :func:`combine_job_parts`, which checks every split and concatenates them in order.

Moved out of :mod:`speechdis.inference.extract` (which re-exports it).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from speechdis.errors import AudioError, ConfigError
from speechdis.fileio import atomic_open
from speechdis.inference.archive import EmbeddingSet, load_archive
from speechdis.inference.inputs import (
    Skipped,
    Utterance,
    collect_utterances,
)
from speechdis.inference.model import Embedder

__all__ = ["split_utterances", "job_part_paths", "save_job_part", "remove_job_parts", "combine_job_parts"]


# ------------------------------------------------------------------------------------ grid job arrays
def split_utterances(utts: list[Utterance], nj: int) -> list[list[Utterance]]:
    """The utterances cut into at most ``nj`` contiguous jobs of whole speakers (per utterance when there are
    fewer speakers than jobs; :func:`~speechdis.data.datadir.job_splits`), in input order."""
    from speechdis.data.datadir import job_splits

    if nj < 1:
        raise ConfigError(f"nj must be >= 1, got {nj}")
    keys = [str(i) for i in range(len(utts))]
    return [[utts[int(k)] for k in split] for split in job_splits(keys, [u.speaker for u in utts], nj)]


def job_part_paths(out: str | os.PathLike, nj: int, job: int) -> tuple[Path, Path]:
    """(npz, done marker) of split ``job`` of ``nj`` for ``--out out``: ``<out>.split<nj>.<job>.npz/.done``."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".npz" else out
    base = stem.with_name(f"{stem.name}.split{nj}.{job}")
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".done")


def _utts_hash(utts: list[Utterance]) -> str:
    return hashlib.sha1("\n".join(f"{u.utt}\t{u.source}" for u in utts).encode()).hexdigest()


def save_job_part(res: EmbeddingSet, embedder: Embedder, inputs: Sequence[str | os.PathLike],
                  out: str | os.PathLike, nj: int, job: int, options: dict | None = None, ids: str = "stem"
                  ) -> Path:
    """Write split ``job``'s result (from ``extract(..., nj=nj, job=job)``) and then its done marker: the
    utterances it covered, the model (sha256 of its file), the extraction ``options`` (segments, windows,
    ...), the part file's own sha256 and its skips. ``ids``: as given to ``extract``. Returns the npz path."""
    from speechdis.fileio import file_sha256

    npz, done = job_part_paths(out, nj, job)
    utts, _ = collect_utterances(embedder, inputs, ids)
    splits = split_utterances(utts, nj)
    part = splits[job - 1] if job <= len(splits) else []
    res.save_npz(npz)
    with atomic_open(done, "w", encoding="utf-8") as f:
        json.dump({"nj": nj, "job": job, "utts_hash": _utts_hash(part), "model_sha256": embedder.sha256,
                   "model": str(embedder.path), "options": _part_options(embedder, options),
                   "part_sha256": file_sha256(npz), "n_utterances": res.n_utterances,
                   "seconds": res.seconds, "skipped": [[s.item, s.reason] for s in res.skipped]}, f)
    return npz


def _part_options(embedder: Embedder, options: dict | None) -> dict:
    # JSON-plain, so a marker read back compares equal to what this run would write.
    return json.loads(json.dumps({**(options or {}), "vectors": embedder.out_keys}, default=str))


def _part_problem(rec: dict, npz: Path, part: list[Utterance], embedder: Embedder, options: dict) -> str | None:
    """Why a finished job's part cannot be combined into this run's output (None: it can)."""
    from speechdis.fileio import file_sha256

    if rec.get("utts_hash") != _utts_hash(part):
        return "made for other inputs"
    if not npz.is_file():
        return f"{npz.name} is missing"
    if "model_sha256" not in rec:
        return "made by an older speechdis that did not record its model"
    if rec["model_sha256"] != embedder.sha256:
        return f"made by another model ({rec.get('model', '?')}, not {embedder.path}: the files differ)"
    if options is not None and rec.get("options") != _part_options(embedder, options):
        return f"made with other options ({rec.get('options')} here {_part_options(embedder, options)})"
    if file_sha256(npz) != rec.get("part_sha256"):
        return f"{npz.name} is not the file the job wrote (changed, replaced or truncated since)"
    return None


def remove_job_parts(out: str | os.PathLike, nj: int) -> list[Path]:
    """Delete the parts and done markers of ``--nj nj`` jobs for ``--out out`` (after a successful combine)."""
    removed = []
    for k in range(1, nj + 1):
        for path in job_part_paths(out, nj, k):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def combine_job_parts(embedder: Embedder, inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
                      nj: int, options: dict | None = None, ids: str = "stem") -> EmbeddingSet:
    """The splits of ``extract(..., nj=nj, job=K)`` for K = 1..nj, concatenated in order (the same rows as one
    ``extract`` call). Raises :class:`~speechdis.data.featjobs.IncompleteJobsError` naming the jobs whose
    part is missing, or was made for other inputs, by another model (sha256 of the file) or with other
    ``options`` (as given to :func:`save_job_part`; None: not compared), or whose part file is not the one
    the job wrote (a copied-over or truncated npz);
    :class:`AudioError` when nothing at all was embedded. ``ids``: as given to ``extract``."""
    from speechdis.data.featjobs import IncompleteJobsError

    utts, _ = collect_utterances(embedder, inputs, ids)
    splits = split_utterances(utts, nj)
    missing, recs, problems = [], [], []
    for k in range(1, nj + 1):
        npz, done = job_part_paths(out, nj, k)
        part = splits[k - 1] if k <= len(splits) else []
        try:
            rec = json.loads(done.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            missing.append(k)
            continue
        problem = _part_problem(rec, npz, part, embedder, options) if isinstance(rec, dict) else "unreadable"
        if problem is None:
            recs.append((npz, rec))
        else:
            missing.append(k)
            problems.append(f"job {k} ({npz.name}): {problem}")
    if missing:
        npz0, _ = job_part_paths(out, nj, missing[0])
        why = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "") if problems else (
            f"no valid {npz0.name.replace(f'.{missing[0]}.', '.JOB.')} and .done for these inputs")
        raise IncompleteJobsError(
            f"--out {out}: cannot combine: job(s) {' '.join(map(str, missing))} of {nj} not complete ({why}); "
            f"rerun them with --nj {nj} --job K, then --combine", missing)
    sets = [(load_archive(npz, allow_empty=True), rec) for npz, rec in recs]
    skipped: list[Skipped] = []
    seen_notes: set[str] = set()
    for _, rec in sets:
        for item, reason in rec["skipped"]:
            if item == "(note)":  # every job notes the same thing about the inputs: once
                if reason in seen_notes:
                    continue
                seen_notes.add(reason)
            skipped.append(Skipped(item, reason))
    full = [es for es, _ in sets if len(es)]
    if not full:
        reasons = [s for s in skipped if s.item != "(note)"][:3]
        detail = "; ".join(f"{s.item}: {s.reason}" for s in reasons) or "no segments"
        raise AudioError(f"nothing could be embedded from {len(utts)} utterance(s): {detail}")
    cat = lambda attr: [x for es in full for x in getattr(es, attr)]  # noqa: E731
    return EmbeddingSet(
        ids=cat("ids"), utts=cat("utts"), words=cat("words"), speakers=cat("speakers"),
        starts=np.concatenate([es.starts for es in full]), ends=np.concatenate([es.ends for es in full]),
        vectors={k: np.concatenate([es.vectors[k] for es in full]) for k in full[0].vectors},
        kind=full[0].kind, model=full[0].model, model_sha256=full[0].model_sha256, skipped=skipped,
        n_utterances=sum(int(rec["n_utterances"]) for _, rec in sets), seconds=sum(rec["seconds"] for _, rec in sets))
