"""Waveform augmentation of a data dir into a new one (Kaldi's ``steps/data/augment_data_dir.py``,
``utils/perturb_data_dir_speed.sh`` and ``utils/copy_data_dir.sh --utt-suffix``).

:func:`augment_data_dir` writes, for every recording of ``data_dir`` (every utterance when there is no
``segments``) and every asked kind, one perturbed copy of the audio under ``OUT/wav/<copy>/<recording>.<fmt>``
(FLAC or WAV, 16-bit, at the recording's own rate; written atomically) and a data dir ``OUT`` that holds the
originals (their ``wav.scp`` lines as they were; left out with ``keep_original=False``) and the copies:

==============  =======================================  ==========================  ========================
kind            audio (:mod:`speechdis.audio.perturb`)    utterance / recording id    speaker, times
==============  =======================================  ==========================  ========================
``noise``       a random excerpt of a random noise file  ``UTT-noise`` / ``REC-noise`` unchanged
                (looped when shorter) at an SNR drawn
                from ``snrs`` (powers over the whole
                recording)
``telephone``   the 8 kHz telephone band (300-3400 Hz)   ``UTT-tel`` / ``REC-tel``      unchanged
``speed``       one copy per factor of ``speeds``         ``sp0.9-UTT`` / ``sp0.9-REC``  ``sp0.9-SPK`` (a new
                (resampled: pitch and formants move)                                   speaker, as in Kaldi);
                                                                                       times x 1/factor
==============  =======================================  ==========================  ========================

Every table the input has is carried with its ids mapped: ``wav.scp``, ``segments``, ``text``, ``utt2spk``
(``spk2utt`` derived), ``spk2gender``, ``word_segments`` (segment ids mapped like utterance ids)
and ``phones.ctm``, and ``conf/trim.yaml``; ``utt2dur`` is written for every utterance, taken where the input
lacks it from ``utt2num_frames``, ``segments`` or the audio headers
(:func:`~speechdis.data.chunks.utterance_durations`; a combined dir may have it for some corpora only).
Features are not carried: run ``speechdis features OUT``; a rerun into an OUT that has them keeps them when
nothing changed (resume) and removes them, saying so, when its utterances or audio changed.
Each kind perturbs the original (no noise on top of the telephone copy).

Randomness: the draws of a recording (noise file, SNR, offset) come from a generator seeded with
``(seed, sha256(recording id))``, a pure function of the two, so reruns and parallel jobs write identical
files. Noise source: a folder (its ``*.wav`` and ``*.flac`` files, recursively) or a ``wav.scp``; noise
files are resampled to each recording's rate; files quieter than :data:`QUIET_DB` dBFS RMS are left out
(scaled to an SNR of 0 dB their 16-bit rounding would become the noise) and counted in the report.
Clipping: a copy whose peak would exceed :data:`~speechdis.audio.perturb.PEAK` is scaled down as a whole
(its SNR is unchanged) and counted. A digitally silent recording gets its noise copy without noise (counted).

Resume and jobs: a copy whose file exists is skipped (files are renamed into place only when complete), so
an interrupted run resumes; ``OUT/conf/augment.yaml`` records the settings and a rerun with other settings
is refused unless ``force`` (recompute everything). ``job=K`` of ``nj`` writes the audio of split K only
(recordings cut into speaker-contiguous jobs by :func:`~speechdis.data.datadir.job_splits`) and no tables;
a run without ``job`` writes whatever is missing (``nj`` worker processes) and then the tables.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from speechdis.audio.io import is_pipe_entry
from speechdis.data.align import PHONES_CTM
from speechdis.data.alignments import read_ctm, write_ctm_lines
from speechdis.data.chunks import utterance_durations
from speechdis.data.datadir import DataDir, job_splits
from speechdis.data.tables import Segment, WordSegment, format_time
from speechdis.data.validate import validate_data_dir
from speechdis.errors import AudioError, ConfigError, DataDirError
from speechdis.fileio import atomic_open, output_lock, remove_stale_tmp

__all__ = ["KINDS", "QUIET_DB", "AugmentReport", "Copy", "augment_data_dir", "read_noise_source", "copies_of"]

log = logging.getLogger(__name__)

KINDS = ("noise", "telephone", "speed")
QUIET_DB = -70.0
SETTINGS_FILE = "conf/augment.yaml"
_TRIM_RECORD = "conf/trim.yaml"
_FORMATS = {"flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16")}


@dataclass(frozen=True)
class Copy:
    """One perturbed copy of every recording: its kind, speed factor (``speed`` only) and id mapping."""

    kind: str
    factor: float = 1.0

    @property
    def name(self) -> str:
        """``noise``, ``telephone`` or ``sp<factor>``: the folder under ``OUT/wav/`` and the id tag."""
        return f"sp{self.factor:g}" if self.kind == "speed" else self.kind

    def utt(self, x: str) -> str:
        """An utterance, recording or word-segment id of the copy."""
        if self.kind == "speed":
            return f"{self.name}-{x}"
        return f"{x}-{'tel' if self.kind == 'telephone' else 'noise'}"

    def spk(self, s: str) -> str:
        """A speaker of the copy: a new speaker for a speed copy (Kaldi), the same person otherwise."""
        return f"{self.name}-{s}" if self.kind == "speed" else s

    def time(self, t: float) -> float:
        """A time of the copy (seconds): scaled by 1/factor; -1 (segments' end of file) stays -1."""
        return t if t < 0 or self.kind != "speed" else t / self.factor


def copies_of(kinds: Sequence[str], speeds: Sequence[float] = (0.9, 1.1)) -> list[Copy]:
    """The copies ``kinds`` ask for (one per factor for ``speed``), checked; ConfigError names a bad value."""
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ConfigError(f"augment kinds: {bad[0] if bad else 'none'!r} is not one of {', '.join(KINDS)}")
    out: list[Copy] = []
    for kind in dict.fromkeys(kinds):
        if kind != "speed":
            out.append(Copy(kind))
            continue
        if not speeds:
            raise ConfigError("augment speeds: none given for kind speed")
        for f in dict.fromkeys(speeds):
            if not (math.isfinite(f) and 0.5 <= f <= 2.0) or f == 1.0:
                raise ConfigError(f"augment speeds: {f!r} must be in [0.5, 2] and not 1 (1 is the original)")
            out.append(Copy("speed", float(f)))
    return out


@dataclass
class AugmentReport:
    """What :func:`augment_data_dir` did."""

    out: Path
    copies: list[str]
    recordings: int
    job: int | None = None
    written: int = 0
    done_before: int = 0
    clipped: int = 0
    silent: int = 0
    noise_files: int = 0
    quiet_noise: list[str] = field(default_factory=list)
    utterances: int = 0
    speakers: int = 0
    warnings: list[str] = field(default_factory=list)
    durations: dict[str, int] = field(default_factory=dict)  # utt2dur written from: {source: utterances}
    features_dropped: bool = False

    def summary(self) -> str:
        """Human-readable lines."""
        what = f"job {self.job}: " if self.job is not None else ""
        lines = [f"augment {what}{self.recordings} recordings x {', '.join(self.copies)} -> {self.out}",
                 f"  audio files: {self.written} written, {self.done_before} already done (skipped), "
                 f"{self.clipped} scaled down to avoid clipping (SNR kept)"]
        if self.silent:
            lines.append(f"  {self.silent} silent recording(s): noise copy written without noise")
        if self.noise_files:
            lines.append(f"  noise: {self.noise_files} files used"
                         + (f", {len(self.quiet_noise)} left out as quieter than {QUIET_DB:g} dBFS "
                            f"(e.g. {self.quiet_noise[0]})" if self.quiet_noise else ""))
        if self.job is None:
            lines.append(f"  data dir: {self.utterances} utterances, {self.speakers} speakers "
                         f"(features not carried: run speechdis features {self.out})")
            if self.features_dropped:
                lines.append(f"  features of an earlier run removed (utterances or audio changed): run speechdis "
                             f"features {self.out} again")
            if set(self.durations) - {"utt2dur"}:
                lines.append("  utt2dur of the input's utterances from: "
                             + ", ".join(f"{src} {n}" for src, n in self.durations.items()))
        else:
            lines.append("  tables not written (a run without --job writes them)")
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Noise

def read_noise_source(source: str | os.PathLike) -> list[tuple[str, str]]:
    """``[(name, path)]`` of a noise folder (``*.wav``/``*.flac``, recursively; names = relative paths) or a
    ``wav.scp`` (names = its ids; plain files only), sorted by name. DataDirError when empty or missing."""
    src = Path(source)
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.suffix.lower() in (".wav", ".flac") and p.is_file())
        out = [(p.relative_to(src).as_posix(), str(p.resolve())) for p in files]
        if not out:
            raise DataDirError(f"{src}: noise source holds no .wav or .flac files")
        return out
    if not src.is_file():
        raise DataDirError(f"{src}: noise source is neither a folder nor a wav.scp file")
    from speechdis.data.tables import read_wav_scp

    table = read_wav_scp(src)
    if not table:
        raise DataDirError(f"{src}: noise wav.scp is empty")
    for i, (k, v) in enumerate(table.items(), 1):
        if is_pipe_entry(v):
            raise DataDirError(f"{src}:{i}: '{k}' is a shell command; noise entries must be audio files")
    base = src.parent
    return sorted((k, str(Path(v) if Path(v).is_absolute() else (base / v).resolve())) for k, v in table.items())


@lru_cache(maxsize=64)  # noise files of a minute each: 64 x 4 MB per worker at 16 kHz
def _noise_wave(path: str, sr: int) -> np.ndarray:
    from speechdis.audio.io import load_audio

    return load_audio(path, sr)


def _usable_noise(pool: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """(files loud enough, names of those quieter than QUIET_DB); AudioError names an unreadable file."""
    from speechdis.audio.io import load_audio
    from speechdis.audio.perturb import signal_power

    keep: list[tuple[str, str]] = []
    quiet: list[str] = []
    floor = 10.0 ** (QUIET_DB / 10.0)
    for name, path in pool:
        try:
            power = signal_power(load_audio(path, None))
        except AudioError as e:
            raise AudioError(f"noise file {e}") from e
        if power > floor:
            keep.append((name, path))
        else:
            quiet.append(name)
    return keep, quiet


def _rng(seed: int, rec: str) -> np.random.Generator:
    digest = hashlib.sha256(rec.encode("utf-8")).digest()
    return np.random.default_rng([seed, *np.frombuffer(digest[:16], dtype=np.uint32).tolist()])


# --------------------------------------------------------------------------------------------
# One copy of one recording (runs in worker processes)

@dataclass(frozen=True)
class _Task:
    rec: str
    entry: str
    copy: Copy
    path: str


@dataclass(frozen=True)
class _Settings:
    seed: int
    snrs: tuple[float, ...]
    noise: tuple[tuple[str, str], ...]
    fmt: str
    force: bool


_STATE: dict = {}  # set by the parent before forking workers: {"tasks": [...], "settings": _Settings}


def _perturb(task: _Task, s: _Settings) -> tuple[np.ndarray, int, bool]:
    """(perturbed wave, rate, recording was silent)."""
    from speechdis.audio import perturb
    from speechdis.audio.io import audio_info, load_audio

    sr = audio_info(task.entry)[0]
    wave = load_audio(task.entry, None)
    kind = task.copy.kind
    if kind == "telephone":
        return perturb.telephone_band(wave, sr), sr, False
    if kind == "speed":
        return perturb.speed_perturb_wave(wave, sr, task.copy.factor), sr, False
    rng = _rng(s.seed, task.rec)
    name, path = s.noise[int(rng.integers(len(s.noise)))]
    snr = s.snrs[int(rng.integers(len(s.snrs)))]
    u = float(rng.random())
    noise = _noise_wave(path, sr)
    excerpt = perturb.noise_excerpt(noise, wave.size, int(u * noise.size))
    if perturb.signal_power(excerpt) == 0.0:  # a loud file can still have a digitally silent stretch
        excerpt = perturb.noise_excerpt(noise, wave.size, int(np.argmax(noise != 0)))
    log.debug("%s: noise %s at %g dB", task.rec, name, snr)
    return perturb.add_noise(wave, excerpt, snr), sr, perturb.signal_power(wave) == 0.0


def _run_task(i: int) -> tuple[str, bool, bool]:
    """Write copy ``i`` of the shared task list: (status 'written'|'done', clipped, silent)."""
    import soundfile as sf

    from speechdis.audio.perturb import fit_peak

    task: _Task = _STATE["tasks"][i]
    s: _Settings = _STATE["settings"]
    path = Path(task.path)
    if path.exists() and not s.force:
        return "done", False, False
    wave, sr, silent = _perturb(task, s)
    wave, clipped = fit_peak(wave)
    fmt, subtype = _FORMATS[s.fmt]
    with atomic_open(path, "wb") as fh:
        sf.write(fh, wave, sr, format=fmt, subtype=subtype)
    return "written", clipped, silent


# --------------------------------------------------------------------------------------------
# The data dir

def _recordings(d: DataDir) -> dict[str, str]:
    """{recording: speaker of its first utterance}: utterances themselves without ``segments``."""
    if not d.segments:
        return {u: d.utt2spk[u] for u in sorted(d.utt2spk)}
    out: dict[str, str] = {}
    for u in sorted(d.segments):
        out.setdefault(d.segments[u].recording, d.utt2spk[u])
    return dict(sorted(out.items()))


def _check_ids(d: DataDir, recs: Sequence[str], path: Path) -> None:
    for r in recs:
        if "/" in r or r.startswith("."):
            raise DataDirError(f"{path}/wav.scp: recording id '{r}' cannot name a file (has '/' or starts "
                               f"with '.')")
        entry = d.wav_scp.get(r)
        if entry is None:
            raise DataDirError(f"{path}/wav.scp: no entry for recording '{r}'")
        if is_pipe_entry(entry):
            raise DataDirError(f"{path}/wav.scp: '{r}' is a shell command ({entry!r}); augmenting needs audio "
                               f"files (decode them first)")


def _settings_record(data_dir: Path, copies: list[Copy], s: _Settings, noise_source: str | None) -> dict:
    record: dict = {"source": str(data_dir.resolve()), "format": s.fmt, "copies": [c.name for c in copies]}
    if s.noise:
        record["noise"] = {"seed": s.seed, "snrs": list(s.snrs), "source": noise_source, "files": len(s.noise),
                           "sha256": hashlib.sha256("\n".join(f"{n} {p}" for n, p in s.noise).encode()).hexdigest()}
    return record


def _check_settings(out: Path, record: dict, force: bool) -> None:
    """Refuse an output whose files were made with other settings (unless ``force``); record the new ones."""
    import yaml

    path = out / SETTINGS_FILE
    old = yaml.safe_load(path.read_text()) or {} if path.exists() else {}
    if old and not force:
        for key in ("source", "format"):
            if old.get(key) != record[key]:
                raise DataDirError(f"{path}: {out} was augmented with other settings ({key}: {old.get(key)!r}, "
                                   f"now {record[key]!r}); use another output or --force to recompute")
        for key, value in record.get("noise", {}).items():
            was = (old.get("noise") or {}).get(key, value)
            if was != value and key != "source":
                raise DataDirError(f"{path}: {out} was augmented with other noise settings ({key}: {was!r}, "
                                   f"now {value!r}); use another output or --force to recompute")
    merged = {**old, **record, "copies": sorted(set(old.get("copies") or []) | set(record["copies"]))}
    if merged != old:
        with atomic_open(path) as fh:
            yaml.safe_dump(merged, fh, sort_keys=False)


def _mapped(d: DataDir, src: Path, copies: list[Copy], wav_of: dict[tuple[str, str], str],
            keep_original: bool) -> tuple[DataDir, list[str]]:
    """The output tables (and phones.ctm lines): originals (if kept) + every copy with ids mapped."""
    res = DataDir()
    ctm = read_ctm(src / PHONES_CTM) if (src / PHONES_CTM).exists() else {}
    ctm_lines: list[str] = []
    ident = Copy("original")
    for c in ([ident] if keep_original else []) + copies:
        orig = c is ident
        fu = (lambda x: x) if orig else c.utt
        fs = (lambda x: x) if orig else c.spk
        ft = (lambda t: t) if orig else c.time
        res.utt2spk.update({fu(u): fs(s) for u, s in d.utt2spk.items()})
        res.text.update({fu(u): t for u, t in d.text.items()})
        res.utt2dur.update({fu(u): ft(v) for u, v in d.utt2dur.items()})
        res.spk2gender.update({fs(s): g for s, g in d.spk2gender.items()})
        if orig:
            res.wav_scp.update(d.wav_scp)
        else:
            res.wav_scp.update({fu(r): wav_of[(c.name, r)] for r in (
                {s.recording for s in d.segments.values()} if d.segments else d.utt2spk)})
        res.segments.update({fu(u): Segment(fu(s.recording), ft(s.start), ft(s.end)) for u, s in d.segments.items()})
        res.word_segments += [WordSegment(fu(w.seg_id), fu(w.utt), ft(w.start), ft(w.end), w.word)
                              for w in d.word_segments]
        for utt, phones in ctm.items():
            ctm_lines += [f"{fu(utt)} 1 {format_time(ft(a.start))} {format_time(ft(a.end) - ft(a.start))} {a.word}"
                          for a in phones]
    return res, ctm_lines


def augment_data_dir(data_dir: str | os.PathLike, out: str | os.PathLike, kinds: Sequence[str], *,
                     noise: str | os.PathLike | None = None, snrs: Sequence[float] = (20.0, 10.0, 5.0, 0.0),
                     speeds: Sequence[float] = (0.9, 1.1), seed: int = 0, keep_original: bool = True,
                     fmt: str = "flac", nj: int = 1, job: int | None = None, force: bool = False,
                     progress: Callable[[int], None] | None = None) -> AugmentReport:
    """Augment ``data_dir`` into ``out`` (see the module doc); returns the report.

    ``kinds``: some of :data:`KINDS`; ``noise``: folder or wav.scp (needed by ``noise``, refused otherwise);
    ``snrs``: dB values drawn per recording; ``speeds``: factors of ``speed``; ``fmt``: ``flac`` or ``wav``;
    ``progress(n)`` is called as copies finish.
    """
    src, out = Path(data_dir), Path(out)
    copies = copies_of(kinds, speeds)
    if fmt not in _FORMATS:
        raise ConfigError(f"augment format: {fmt!r} is not one of {', '.join(_FORMATS)}")
    if src.resolve() == out.resolve():
        raise DataDirError(f"augment: output {out} is the input data dir")
    wants_noise = any(c.kind == "noise" for c in copies)
    if wants_noise and noise is None:
        raise ConfigError("augment: kind noise needs a noise source (--noise DIR_OR_WAV_SCP)")
    if noise is not None and not wants_noise:
        raise ConfigError("augment: a noise source was given but the kinds have no noise")
    if wants_noise and not snrs:
        raise ConfigError("augment snrs: none given for kind noise")
    bad = [x for x in snrs if not math.isfinite(x)]
    if bad:
        raise ConfigError(f"augment snrs: {bad[0]!r} is not a finite number of dB")
    validate_data_dir(src, ignore=("utt2dur",))  # rewritten below: an input with a partial one still works
    d = DataDir.load(src)
    recs = _recordings(d)
    _check_ids(d, list(recs), src)
    d.utt2dur, report_sources = utterance_durations(d)
    report = AugmentReport(out, [c.name for c in copies], len(recs), job=job, durations=report_sources)
    pool: list[tuple[str, str]] = []
    if wants_noise:
        pool, report.quiet_noise = _usable_noise(read_noise_source(noise))
        if not pool:
            raise DataDirError(f"{noise}: every noise file is quieter than {QUIET_DB:g} dBFS "
                               f"({len(report.quiet_noise)} left out): no usable noise")
        report.noise_files = len(pool)
    settings = _Settings(seed, tuple(float(x) for x in snrs) if wants_noise else (), tuple(pool), fmt, force)
    splits = job_splits(list(recs), list(recs.values()), nj)
    if job is not None and not 1 <= job <= len(splits):
        raise ConfigError(f"augment: --job {job} is not in 1..{len(splits)} (splits of the recordings)")
    mine = splits[job - 1] if job is not None else list(recs)
    wav_of = {(c.name, r): str((out / "wav" / c.name / f"{r}.{fmt}").resolve()) for c in copies for r in recs}
    tasks = [_Task(r, d.wav_scp[r], c, wav_of[(c.name, r)]) for r in mine for c in copies]
    what = "speechdis prepare augment" + (f" --job {job}" if job is not None else "")
    with output_lock(out, what, directory=True, shared=job is not None):
        _check_settings(out, _settings_record(src, copies, settings, None if noise is None else str(noise)), force)
        if job is None:
            for c in copies:
                remove_stale_tmp(out / "wav" / c.name, f"*.{fmt}")
        _run_tasks(tasks, settings, nj if job is None else 1, report, progress)
        if job is not None:
            return report
        res, ctm_lines = _mapped(d, src, copies, wav_of, keep_original)
        report.features_dropped = _keep_features(out, res, force)
        res.save(out)
        write_ctm_lines(out / PHONES_CTM, ctm_lines)
        if (src / _TRIM_RECORD).exists():
            shutil.copyfile(src / _TRIM_RECORD, out / _TRIM_RECORD)
        report.utterances, report.speakers = res.num_utts, res.num_speakers
        report.warnings = validate_data_dir(out)
    return report


def _keep_features(out: Path, res: DataDir, force: bool) -> bool:
    """Carry the features of an earlier ``speechdis features OUT`` into ``res`` when they still describe it (a
    rerun that changes no utterance and no audio); True when OUT had features that no longer fit (dropped)."""
    if not (out / "utt2spk").exists() or not (out / "feats.scp").exists():
        return False
    old = DataDir.load(out)
    if force or (old.utt2spk, old.wav_scp, old.segments) != (res.utt2spk, res.wav_scp, res.segments):
        return True
    res.feats_scp, res.cmvn_scp, res.utt2num_frames = old.feats_scp, old.cmvn_scp, old.utt2num_frames
    return False


def _run_tasks(tasks: list[_Task], settings: _Settings, workers: int, report: AugmentReport,
               progress: Callable[[int], None] | None) -> None:
    from speechdis.procpool import mp_context, ordered_map

    _STATE.update(tasks=tasks, settings=settings)
    try:
        ctx = mp_context(require_fork=True)
        workers = min(workers, len(tasks))
        if workers > 1 and ctx is not None:
            results = ordered_map(_run_task, len(tasks), workers, ctx=ctx,
                                  name=lambda i: f"recording '{tasks[i].rec}' ({tasks[i].copy.name})")
        else:
            results = (_run_task(i) for i in range(len(tasks)))
        for status, clipped, silent in results:
            if status == "written":
                report.written += 1
            else:
                report.done_before += 1
            report.clipped += clipped
            report.silent += silent
            if progress is not None:
                progress(1)
    finally:
        _STATE.clear()
