"""Feature extraction for a Kaldi data dir (parallel, resumable): job planning, workers, combining.

The reader is :class:`speechdis.data.feats.FeatsReader` (re-exported here for older callers); matrices
are written by :func:`speechdis.data.ark.write_ark`.

:func:`make_features` splits the sorted utterances into ``nj`` jobs of whole speakers (Kaldi
``split_data.sh``; per utterance when there are fewer speakers than jobs: :func:`job_splits`); each
job runs in its own worker process and writes, in ``feat_dir`` (default ``<data_dir>/data``)::

    raw_<kind>_<name>.<j>.ark        feature matrices (kaldiio / Kaldi binary ark)
    raw_<kind>_<name>.<j>.scp        utt -> /abs/path/raw_<kind>_<name>.<j>.ark:offset
    raw_<kind>_<name>.<j>.stats.ark  per-utterance CMVN stats of this job
    raw_<kind>_<name>.<j>.done       JSON completion marker (config + job hash, ark size, skips)

(``<name>`` = data dir basename, so data dirs can share a feat dir as in Kaldi.) Every file is
written to a temporary name and renamed; the ``.done`` marker comes last, so a job with a valid
marker whose config, utterance list and inputs (size and mtime of every audio file, as the job read
them) match is complete and is skipped on a rerun (resume); a changed audio file redoes its job.

Then the jobs are combined into the data dir::

    feats.scp            utt -> ark:offset (absolute paths), written last
    utt2num_frames
    cmvn.ark, cmvn.scp   Kaldi CMVN stats keyed per speaker or per utterance (absent for cmvn: none)
    conf/feats.yaml      the resolved FeatureConfig (read back by FeatsReader)
    feats_skipped.txt    ``utt reason`` for utterances whose audio could not be used (absent if none)

On a grid (Kaldi job arrays) ``job=K`` computes split K of ``nj`` only, in this process, and leaves
the data dir alone; ``combine=True`` then merges the splits' scp/arks into the tables above, after
checking that every split is complete (:class:`IncompleteJobsError` names the missing job numbers).
Both give files byte-identical to one ``make_features(nj=N)`` call.

Bad audio (missing, corrupt, empty, too short) skips that utterance with a reason; it is fatal only
when every utterance fails.

Over 450 lines: job planning, the supervised worker pool and combining share the ``_Job`` record and its
completion markers; the reader and the ark writer are already separate (feats.py, ark.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import queue as queue_mod
import re
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from speechdis.audio.features import (
    FeatureConfig,
    cmvn_stats,
    compute_features,
    mel_filterbank,
    save_feature_config,
)
from speechdis.audio.io import WavEntryLoader, is_pipe_entry
from speechdis.config import to_dict
from speechdis.data.ark import write_ark
from speechdis.data.datadir import DataDir, job_splits
from speechdis.data.feats import FEATS_CONFIG, SKIPPED_FILE, FeatsReader
from speechdis.data.tables import (
    read_feats_scp,
    write_feats_scp,
    write_table,
    write_utt2num_frames,
)
from speechdis.errors import AudioError, ConfigError, DataDirError, SpeechdisError
from speechdis.fileio import atomic_open, remove_stale_tmp
from speechdis.procpool import kill_executor, mp_context, new_executor

__all__ = ["FeatsReport", "IncompleteJobsError", "make_features", "FeatsReader", "FEATS_CONFIG", "SKIPPED_FILE"]



class IncompleteJobsError(DataDirError):
    """A combine found splits without a valid completion marker; ``missing`` = their job numbers."""

    def __init__(self, message: str, missing: list[int]) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass
class FeatsReport:
    """Outcome of :func:`make_features`."""

    data_dir: Path
    feat_dir: Path
    config: FeatureConfig
    nj: int
    utts: int = 0  # utterances in the data dir
    done: int = 0  # utterances with features
    frames: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # utt -> reason
    jobs_run: list[int] = field(default_factory=list)
    jobs_resumed: list[int] = field(default_factory=list)  # complete from an earlier run, not redone
    job: int | None = None  # make_features(job=K): only split K was computed, nothing combined
    combined: bool = False  # make_features(combine=True): the splits of grid jobs merged, nothing computed

    def summary(self, max_items: int = 5) -> str:
        """Multi-line human-readable summary (the CLI prints it)."""
        if self.job is not None:
            state = ("nothing to do (fewer splits)" if self.job > self.nj else
                     "computed" if self.jobs_run else "already complete")
            line = (f"{self.config.kind} features, job {self.job} of {self.nj}: {state}; {self.done} utterance(s), "
                    f"{self.frames} frames in {self.feat_dir}")
            if self.skipped:
                line += f", {len(self.skipped)} skipped"
            return line + f" (combine with --combine once all {self.nj} jobs are done)"
        lines = [
            f"{self.config.kind} features (dim {self.config.dim}, cmvn {self.config.cmvn}) for "
            f"{self.done}/{self.utts} utterances, {self.frames} frames -> {self.data_dir}/feats.scp",
            f"jobs: {self.nj} combined (computed by grid jobs)" if self.combined else
            f"jobs: {len(self.jobs_run)} run, {len(self.jobs_resumed)} already complete (of {self.nj})",
        ]
        if self.skipped:
            lines.append(f"WARNING: {len(self.skipped)} utterance(s) skipped (listed in "
                         f"{self.data_dir / SKIPPED_FILE}):")
            for utt, why in list(self.skipped.items())[:max_items]:
                lines.append(f"  {utt}: {why}")
            if len(self.skipped) > max_items:
                lines.append(f"  ... (+{len(self.skipped) - max_items})")
            lines.append(f"  (feats.scp lacks them; 'speechdis prepare fix-data-dir {self.data_dir}' drops them "
                         f"from the data dir)")
        return "\n".join(lines)


@dataclass
class _Job:
    index: int
    ark: str
    scp: str
    stats: str
    done: str
    config: dict
    items: list[tuple[str, str, float | None, float | None]]  # utt, wav entry, start, end
    allow_upsample: bool = False  # audio below audio.io.MIN_SAMPLE_RATE is upsampled instead of skipped

    @property
    def config_hash(self) -> str:
        # allow_upsample only when set: markers written before it existed still match
        conf = {**self.config, "allow_upsample": True} if self.allow_upsample else self.config
        return hashlib.sha1(json.dumps(conf, sort_keys=True).encode()).hexdigest()

    def sources_hash(self) -> str:
        """The state of every input's audio now (:func:`_source_fingerprint`): a changed file changes it."""
        h = hashlib.sha1()
        for utt, entry, _, _ in self.items:
            h.update(f"{utt}\t{json.dumps(_source_fingerprint(entry))}\n".encode())
        return h.hexdigest()

    @property
    def items_hash(self) -> str:
        h = hashlib.sha1()
        for utt, entry, s, e in self.items:
            h.update(f"{utt}\t{entry}\t{s}\t{e}\n".encode())
        return h.hexdigest()


def _job_result(job: _Job, rerun_checks: bool = True) -> dict | None:
    """The job's completion record if its outputs are complete and match; else None. Without
    ``rerun_checks`` (a combine), a finished job counts as it is: even when every utterance failed or the
    audio of a skipped one changed since (which a rerun would redo)."""
    try:
        with open(job.done, encoding="utf-8") as f:
            rec = json.load(f)
        if rec.get("config_hash") != job.config_hash or rec.get("items_hash") != job.items_hash:
            return None
        if os.path.getsize(job.ark) != rec["ark_size"] or not os.path.exists(job.scp) \
                or not os.path.exists(job.stats):
            return None
        if not rerun_checks:
            return rec
        # Every input as it was when the job read it (size and mtime of each audio file, and of the files a
        # pipe command names): a replaced or edited file is recomputed, not kept stale. Markers written
        # before this was recorded cannot tell: redone.
        if rec.get("sources_hash") != job.sources_hash():
            return None
        # A job in which every utterance failed is retried: the cause (missing files, a broken
        # decoder) is more likely fixed than permanent.
        if rec["num_done"] == 0 and job.items:
            return None
        # Skips must not outlive their cause: a job is redone when the audio of a skipped utterance
        # changed since (restored, replaced), or cannot be checked (a pipe command).
        sources = rec.get("skip_sources", {})
        entries = {utt: entry for utt, entry, _, _ in job.items}
        for utt in rec["skipped"]:
            now = _source_fingerprint(entries.get(utt, ""), pipe_files=False)
            if utt not in sources or now == "pipe" or now != sources[utt]:
                return None
        return rec
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _source_fingerprint(entry: str, pipe_files: bool = True) -> list | str | None:
    """What identifies the current state of a wav.scp entry's audio: (size, mtime) of a file, None when
    it does not exist. A command (``... |``) gives ``["pipe", files]``: (path, size, mtime) of each of its
    words that is an existing file (``sox /x/a.flac -t wav - |``: /x/a.flac); with ``pipe_files=False``
    just ``"pipe"`` (its inputs unknown: for a skipped utterance, never considered unchanged)."""
    entry = entry.strip()
    if is_pipe_entry(entry):
        if not pipe_files:
            return "pipe"
        import shlex

        try:
            words = shlex.split(entry[:-1])
        except ValueError:  # unbalanced quotes: the shell will say so when it runs
            words = entry[:-1].split()
        return ["pipe", [[w, *_file_state(w)] for w in words if os.path.isfile(w)]]
    return _file_state(entry)


def _file_state(path: str) -> list | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


_PROGRESS_QUEUE = None


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when its parent does (killed, crashed): an orphan would keep
    writing files and then block forever on a pipe nobody reads."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent_pid:  # the parent died before prctl took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):  # pragma: no cover - no usable libc
            pass

    def watch() -> None:  # pragma: no cover - fallback where prctl is unavailable
        import time

        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _init_worker(q, parent_pid: int) -> None:
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = q
    _die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the parent reports it and stops the workers, which
    # would otherwise each print a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # nj workers each running a multi-threaded BLAS would oversubscribe the cores.
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - optional (comes with scikit-learn)
        pass


def _queue_tick(n: int) -> None:
    if _PROGRESS_QUEUE is not None:
        _PROGRESS_QUEUE.put(n)


def _run_job(job: _Job, tick: Callable[[int], None] | None = None) -> dict:
    """Compute one job's features; returns its completion record (also written to ``job.done``)."""
    from speechdis.config import from_dict

    cfg = from_dict(FeatureConfig, job.config)
    sources = job.sources_hash()  # before reading: a file changed while the job runs is redone next time
    loader = WavEntryLoader(cfg.sample_rate, min_duration=cfg.min_duration, allow_upsample=job.allow_upsample)
    skipped: dict[str, str] = {}
    frames: dict[str, int] = {}
    stats: dict[str, np.ndarray] = {}

    def features() -> Iterator[tuple[str, np.ndarray]]:
        for utt, entry, start, end in job.items:
            try:
                wave = loader.load(entry, start=start, end=end)
                # Seeded per utterance so dithered features do not depend on the job split.
                rng = np.random.default_rng(int(hashlib.sha1(utt.encode()).hexdigest()[:8], 16))
                mat = compute_features(wave, cfg, rng=rng)
                if not np.isfinite(mat).all():
                    bad = int(np.flatnonzero(~np.isfinite(mat).all(axis=1))[0])
                    raise AudioError(f"features have NaN or infinite values (frame {bad} of {mat.shape[0]})")
            except SpeechdisError as e:
                skipped[utt] = str(e)
            except Exception as e:  # noqa: BLE001 - one bad file must not kill the job; reported
                skipped[utt] = f"{type(e).__name__}: {e}"
            else:
                frames[utt] = int(mat.shape[0])
                stats[utt] = cmvn_stats(mat)
                yield utt, mat
            if tick is not None:
                tick(1)

    scp = write_ark(job.ark, features(), job.ark)  # atomic: temp file beside it, renamed on success
    write_ark(job.stats, iter(stats.items()), job.stats)
    write_feats_scp(job.scp, scp)
    rec = {
        "config_hash": job.config_hash,
        "items_hash": job.items_hash,
        "ark_size": os.path.getsize(job.ark),
        "num_done": len(scp),
        "utt2num_frames": frames,
        "skipped": skipped,
        "skip_sources": {u: _source_fingerprint(e, pipe_files=False) for u, e, _, _ in job.items if u in skipped},
        "sources_hash": sources,
    }
    with atomic_open(job.done, "w", encoding="utf-8") as f:
        json.dump(rec, f)
    return rec


_JOB_END = None  # sentinel a worker queues after its last tick (even when the job fails)


def _run_job_in_worker(job: _Job) -> dict:
    try:
        return _run_job(job, _queue_tick)
    finally:
        if _PROGRESS_QUEUE is not None:
            _PROGRESS_QUEUE.put(_JOB_END)


def make_features(
    data_dir: str | os.PathLike,
    cfg: FeatureConfig | None = None,
    nj: int = 1,
    feat_dir: str | os.PathLike | None = None,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
    job: int | None = None,
    combine: bool = False,
    allow_upsample: bool = False,
) -> FeatsReport:
    """Compute features for every utterance of ``data_dir`` with ``nj`` worker processes.

    See the module docstring for the files written. ``progress(n)`` is called as utterances finish
    (``n`` = how many more); complete jobs from an earlier identical run are not redone. ``nj=1``
    runs in this process; ``force`` recomputes every job. Raises AudioError when no utterance could
    be processed.

    Job arrays: ``job=K`` (1..nj) computes split K only, here, and writes nothing into the data dir
    (a K beyond the number of splits, when there are fewer utterances than jobs, does nothing);
    ``combine=True`` computes nothing and merges the splits, raising :class:`IncompleteJobsError`
    when one is not complete.

    Resume: a job is complete when its marker matches the config, the utterance list and the state of
    every input (size and mtime of each audio file, and of the files a wav.scp command names), so a
    changed audio file is recomputed. ``allow_upsample``: upsample audio below 4 kHz instead of skipping it
    (:func:`~speechdis.audio.io.check_upsampling`).
    """
    data_dir = Path(data_dir).resolve()
    cfg = (cfg or FeatureConfig()).resolved()
    if nj < 1:
        raise ConfigError(f"nj must be >= 1, got {nj}")
    if job is not None and combine:
        raise ConfigError("job and combine exclude each other (run the jobs, then combine)")
    if job is not None and not 1 <= job <= nj:
        raise ConfigError(f"job must be in 1..{nj} (nj), got {job}")
    d = DataDir.load(data_dir)
    if not d.wav_scp:
        raise DataDirError(f"{data_dir}/wav.scp: missing or empty (needed to compute features)")
    feat_dir = Path(feat_dir).resolve() if feat_dir is not None else data_dir / "data"
    feat_dir.mkdir(parents=True, exist_ok=True)
    name = data_dir.name
    utts = d.utts
    items = [(u, *d.audio_source(u)) for u in utts]
    # Utterances (or recordings without segments) that utt2spk lacks get no features; say so.
    listed = d.segments if d.segments else d.wav_scp
    unlisted = {u: "listed in " + ("segments" if d.segments else "wav.scp") + " but not in utt2spk (no speaker)"
                for u in sorted(set(listed) - set(d.utt2spk))}
    # Leftovers of killed writes (arks, stats, tables) from an earlier run; a grid job touches only its
    # own (the other jobs may be writing theirs right now), a combine only the data dir's.
    if not combine:
        index = str(job) if job is not None else r"\d+"
        job_tmp = re.compile(rf"^\.raw_[A-Za-z0-9]+_{re.escape(name)}\.{index}\.(ark|scp|stats\.ark|done)\..+\.tmp$")
        for p in feat_dir.glob(".raw_*.tmp"):
            if job_tmp.match(p.name):
                p.unlink(missing_ok=True)
    if job is None:
        remove_stale_tmp(data_dir, "feats.scp", "utt2num_frames", "cmvn.ark", "cmvn.scp", SKIPPED_FILE)
        remove_stale_tmp(data_dir / "conf", Path(FEATS_CONFIG).name)
    splits = job_splits(utts, [d.utt2spk[u] for u in utts], nj)
    nj_eff = max(1, len(splits))
    by_utt = {it[0]: it for it in items}
    cfg_dict = to_dict(cfg)
    jobs = []
    for j, split in enumerate(splits, 1):
        chunk = [by_utt[u] for u in split]
        base = feat_dir / f"raw_{cfg.kind}_{name}.{j}"
        jobs.append(_Job(j, f"{base}.ark", f"{base}.scp", f"{base}.stats.ark", f"{base}.done", cfg_dict, chunk,
                         allow_upsample))

    report = FeatsReport(data_dir=data_dir, feat_dir=feat_dir, config=cfg, nj=nj_eff,
                         utts=len(items) + len(unlisted), job=job, combined=combine)
    if job is not None:
        return _run_one(jobs[job - 1] if job <= len(jobs) else None, data_dir, report, progress, force)
    results: dict[int, dict] = {}
    pending = []
    for jb in jobs:
        rec = None if force and not combine else _job_result(jb, rerun_checks=not combine)
        if rec is not None:
            results[jb.index] = rec
            report.jobs_resumed.append(jb.index)
            if progress is not None:
                progress(len(jb.items))
        else:
            pending.append(jb)
    if combine and pending:
        missing = [jb.index for jb in pending]
        raise IncompleteJobsError(
            f"{data_dir}: cannot combine: job(s) {' '.join(map(str, missing))} of {nj_eff} not complete (no valid "
            f"{Path(pending[0].done).name.replace(f'.{missing[0]}.', '.JOB.')} in {feat_dir}); rerun "
            f"them with --nj {nj} --job K, then --combine", missing)

    if pending:
        # Jobs about to run overwrite arks that the current feats.scp may point into: drop the index (and
        # the config it pairs with) first, so an interrupted rerun leaves no features rather than a mix.
        _invalidate_index(data_dir)
    if len(pending) == 1 or (pending and nj_eff == 1):
        for jb in pending:
            results[jb.index] = _run_job(jb, progress)
    elif pending:
        mel_filterbank(cfg)  # import librosa and build the filters once; forked workers inherit them
        _run_parallel(pending, results, progress)
    report.jobs_run = [j.index for j in pending]
    report.skipped.update(unlisted)
    _combine(d, data_dir, jobs, results, cfg, report)
    return report


def _run_one(job: _Job | None, data_dir: Path, report: FeatsReport, progress: Callable[[int], None] | None,
             force: bool) -> FeatsReport:
    """One grid job (``make_features(job=K)``): split K computed here unless already complete."""
    if job is None:  # more jobs than utterances: this one has none
        return report
    rec = None if force else _job_result(job)
    if rec is None:
        _invalidate_index(data_dir)  # this job overwrites an ark that feats.scp may point into
        rec = _run_job(job, progress)
        report.jobs_run = [job.index]
    else:
        report.jobs_resumed = [job.index]
        if progress is not None:
            progress(len(job.items))
    report.done = rec["num_done"]
    report.frames = sum(rec["utt2num_frames"].values())
    report.skipped = dict(sorted(rec["skipped"].items()))
    return report


def _invalidate_index(data_dir: Path) -> None:
    for rel in ("feats.scp", "utt2num_frames", "cmvn.scp", "cmvn.ark", FEATS_CONFIG):
        (data_dir / rel).unlink(missing_ok=True)


def _run_parallel(pending: list[_Job], results: dict[int, dict], progress: Callable[[int], None] | None) -> None:
    # fork where available (speechdis.procpool). Workers only run numpy/soundfile code, none of the parent's
    # threads (tqdm monitor, torch pools) matter. A killed worker fails its job's future (BrokenProcessPool),
    # reported below with the job number: never a hang.
    ctx = mp_context()
    q = ctx.Queue()
    errors: list[str] = []
    ex = new_executor(len(pending), ctx, initializer=_init_worker, initargs=(q, os.getpid()))
    try:
        futures = {ex.submit(_run_job_in_worker, job): job for job in pending}
        remaining = set(futures)

        ended = 0

        def drain(block: bool = False) -> None:
            # Ticks travel through a pipe and may arrive after the job's future is done; at the end,
            # wait for every job's sentinel so no tick is lost.
            nonlocal ended
            while True:
                try:
                    n = q.get(timeout=10.0) if block and ended < len(pending) else q.get_nowait()
                except queue_mod.Empty:
                    return
                if n is _JOB_END:
                    ended += 1
                elif progress is not None:
                    progress(n)

        while remaining:
            done, remaining = wait(remaining, timeout=0.2, return_when=FIRST_COMPLETED)
            drain()
            for fut in done:
                job = futures[fut]
                try:
                    results[job.index] = fut.result()
                except Exception as e:  # noqa: BLE001 - reported below with the job number
                    errors.append(f"job {job.index} ({job.ark}): {type(e).__name__}: {e}")
        drain(block=True)
    except BaseException:
        # Interrupted (Ctrl-C) or failed in the parent: stop the workers now rather than waiting for
        # their jobs; finished jobs keep their .done markers and resume on the next run.
        kill_executor(ex)
        raise
    else:
        ex.shutdown(wait=True)
    q.close()
    if errors:
        raise DataDirError("feature extraction failed (finished jobs are kept; rerun to resume):\n  "
                           + "\n  ".join(errors))


def _combine(d: DataDir, data_dir: Path, jobs: list[_Job], results: dict[int, dict], cfg: FeatureConfig,
             report: FeatsReport) -> None:
    import kaldiio

    feats_scp = data_dir / "feats.scp"
    # Remove first: until the new feats.scp is written, no stale one pairs with the new config.
    if feats_scp.exists():
        feats_scp.unlink()
    scp: dict[str, str] = {}
    frames: dict[str, int] = {}
    for job in jobs:
        rec = results[job.index]
        scp.update(read_feats_scp(job.scp) if rec["num_done"] else {})
        frames.update(rec["utt2num_frames"])
        report.skipped.update(rec["skipped"])
    report.skipped = {u: report.skipped[u] for u in sorted(report.skipped)}
    report.done = len(scp)
    report.frames = sum(frames.values())
    skipped_path = data_dir / SKIPPED_FILE
    if report.skipped:
        write_table(skipped_path, report.skipped)
    elif skipped_path.exists():
        skipped_path.unlink()
    if not scp:
        first = "; ".join(f"{u}: {r}" for u, r in list(report.skipped.items())[:3])
        raise AudioError(f"{data_dir}: all {report.utts} utterance(s) failed (see {skipped_path}); {first}")

    write_utt2num_frames(data_dir / "utt2num_frames", frames)
    cmvn_ark, cmvn_scp = data_dir / "cmvn.ark", data_dir / "cmvn.scp"
    if cfg.cmvn == "none":
        for p in (cmvn_ark, cmvn_scp):
            if p.exists():
                p.unlink()
    else:
        per_utt: dict[str, np.ndarray] = {}
        for job in jobs:
            if results[job.index]["num_done"]:
                per_utt.update(kaldiio.load_ark(job.stats))
        if cfg.cmvn == "utterance":
            table = {u: per_utt[u] for u in sorted(per_utt)}
        else:
            table: dict[str, np.ndarray] = {}
            for u in sorted(per_utt):
                spk = d.utt2spk[u]
                table[spk] = table[spk] + per_utt[u] if spk in table else per_utt[u].copy()
            table = {s: table[s] for s in sorted(table)}
        write_feats_scp(cmvn_scp, write_ark(str(cmvn_ark), iter(table.items()), str(cmvn_ark)))
    save_feature_config(cfg, data_dir / FEATS_CONFIG)
    write_feats_scp(feats_scp, scp)
