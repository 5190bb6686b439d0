"""The training loop of the speech autoencoders (baseline and disentangled), in pieces: :func:`init_distributed`,
:func:`load_data`, :func:`build_run` (a :class:`Run`: modules, objective, trainer, step), :func:`resume_run`
(``AlternatingTrainer.load_state_dict``), :func:`train_one_step`, :func:`validate`, :func:`save_best`
(``checkpoints/best.pt`` beside the latest), :func:`save` (rotating checkpoints), :func:`save_final`
(``model.pt``); :func:`train` puts them together.

Everything the loop reports goes through ``callback(record)`` and the JSON-lines log ``train_log.jsonl``;
nothing is printed here. The config tree is :mod:`speechdis.training.config`, checkpoint I/O
:mod:`speechdis.training.checkpoint`.

Over 450 lines: the training loop's pieces (build, step, validate, save, resume checks) share one run state;
the resume comparison is the part to move out next.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from speechdis.adversarial import AlternatingTrainer
from speechdis.audio.features import FeatureConfig, save_feature_config
from speechdis.audio.trim import read_trim_record
from speechdis.config import from_dict, save_config, to_dict
from speechdis.data.augment import batch_rng, speed_perturb
from speechdis.data.segments import (
    PairBatchSampler,
    SegmentFilterReport,
    WordSegmentDataset,
    collate_segments,
    load_segments,
)
from speechdis.errors import ConfigError, DataDirError, ModelError
from speechdis.fileio import atomic_open, remove_stale_tmp
from speechdis.speech.losses import masked_mse, sample_group_pairs, sample_pairs
from speechdis.speech.models import SpeakerPairClassifier, build_model
from speechdis.speech.objective import SpeechObjective
from speechdis.speech.phones import ARPABET, load_pronunciations, phone_table
from speechdis.speech.registry import speech_spec
from speechdis.speech.words import word_class_table
from speechdis.training.checkpoint import load_checkpoint, save_model, set_rng_state, write_checkpoint
from speechdis.training.config import TrainConfig, resolve_device
from speechdis.training.probe import linear_probe

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    final: dict[str, float]
    valid: dict[str, float]
    segments: SegmentFilterReport


# ----------------------------------------------------------------------------------------------- set-up
def _distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0"))


def _critic_needed(cfg: TrainConfig) -> bool:
    return speech_spec(cfg.model.kind).critic and cfg.loss.adv_mode != "none"


def _disentangled(cfg: TrainConfig) -> bool:
    """Separate phonetic and speaker vectors (the heads on v_s / v_p apply): the kind's spec says."""
    return speech_spec(cfg.model.kind).disentangled


def build_modules(cfg: TrainConfig) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """The autoencoder and (when adversarial) the speaker pair classifier."""
    model = build_model(cfg.model)
    critic = SpeakerPairClassifier(cfg.model.phonetic_dim, cfg.model.critic_hidden) if _critic_needed(cfg) else None
    return model, critic


def build_trainer(cfg: TrainConfig, model: torch.nn.Module, critic: torch.nn.Module | None,
                  device: torch.device, freeze_critic: bool = True) -> AlternatingTrainer:
    """Optimisers and the alternating trainer for ``cfg.loss.adv_mode``.

    wgan/bce: the critic has its own optimiser and ``n_critic`` steps per autoencoder step (on one shared
    batch with ``loss.critic_batches: shared``), and is frozen
    during the autoencoder step (``freeze_critic``; off under DDP, which expects the same parameters to
    get gradients in every step). grl: one joint update, the critic sits in the generator optimiser and is
    never frozen, since that step is the only one in which it learns.
    """
    o = cfg.optim
    alternating = critic is not None and cfg.loss.adv_mode in ("wgan", "bce")
    gen_params = list(model.parameters())
    if critic is not None and not alternating:
        gen_params += list(critic.parameters())
    gen_opt = torch.optim.Adam(gen_params, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=o.critic_lr, betas=o.betas) if alternating else None
    return AlternatingTrainer(
        gen_opt, critic_opt, critic=critic if (alternating and freeze_critic) else None,
        n_critic=cfg.loss.n_critic if alternating else 0,
        clip_grad=o.clip_grad or None, clip_mode=o.clip_mode, amp=cfg.train.amp, device=device,
        share_critic_batch=cfg.loss.critic_batches == "shared")


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _unwrap(m: torch.nn.Module | None) -> torch.nn.Module | None:
    return m.module if isinstance(m, torch.nn.parallel.DistributedDataParallel) else m


# ----------------------------------------------------------------------------------------- validation
@torch.no_grad()
def validate(model: torch.nn.Module, critic: torch.nn.Module | None, dataset: WordSegmentDataset,
             device: torch.device, batch_size: int = 128, seed: int = 0, critic_group_size: int = 1
             ) -> dict[str, float]:
    """Reconstruction loss and the speaker-probe accuracy of the content vector (phonetic vector or
    baseline embedding) on held-out speakers; for the disentangled model also how well same/different
    speaker pairs are told apart by D_s on phonetic vectors (want → 0.5) and by speaker-vector distance
    (want → 1.0), as ROC AUC over balanced pairs (accuracy too for a BCE classifier). D_s sees pairs of
    group means when it was trained on them (``critic_group_size`` > 1)."""
    from sklearn.metrics import roc_auc_score

    spec = speech_spec(model.cfg.kind)
    model.eval()
    vecs: dict[str, list[torch.Tensor]] = {}
    rec_sum, frames = 0.0, 0
    speakers = []
    for start in range(0, len(dataset), batch_size):
        batch = _to(collate_segments([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]),
                    device)
        out = model(batch["feats"], batch["lengths"])
        n = int(batch["lengths"].sum())
        rec_sum += masked_mse(out["reconstruction"], out.get("target", batch["feats"]), batch["lengths"]).item() * n
        frames += n
        for k in spec.vectors:
            vecs.setdefault(k, []).append(out[k].float().cpu())
        speakers.append(batch["speaker"].cpu())
    model.train()
    res = {"rec": rec_sum / max(frames, 1)}
    spk = torch.cat(speakers)
    # Speaker identity linearly decodable from the content vector (lower is better disentangled): the
    # same probe as the evaluation's, on held-out speakers, so settings can be chosen without test data.
    try:
        content = vecs[spec.roles["phonetic"]]
        probe = linear_probe(torch.cat(content).numpy(), spk.tolist(), seed=seed)
        res["spk_probe_content"], res["spk_probe_chance"] = probe.accuracy, probe.chance
    except ValueError:  # too few speakers or segments for a split
        pass
    if not spec.disentangled:
        return res
    g = torch.Generator().manual_seed(seed)
    try:
        i, j, same = sample_pairs(spk, 4000, 0.5, generator=g)
    except ValueError:
        return res
    same_np = same.numpy()
    v_s = torch.cat(vecs[spec.roles["speaker"]])
    res["spk_auc_speaker"] = float(roc_auc_score(same_np, -(v_s[i] - v_s[j]).pow(2).sum(-1).numpy()))
    v_p = torch.cat(vecs[spec.roles["phonetic"]])
    res["spk_auc_phonetic_dist"] = float(roc_auc_score(same_np, -(v_p[i] - v_p[j]).pow(2).sum(-1).numpy()))
    if critic is not None:
        a, b = v_p[i], v_p[j]
        if critic_group_size > 1:
            try:
                gi, gj, same = sample_group_pairs(spk, 4000, critic_group_size, 0.5, generator=g)
            except ValueError:
                return res
            same_np = same.numpy()
            a, b = v_p[gi].mean(1), v_p[gj].mean(1)
        critic.eval()
        scores = torch.cat([critic(a[k:k + 1024].to(device), b[k:k + 1024].to(device)).float().cpu()
                            for k in range(0, len(a), 1024)])
        critic.train()
        res["critic_auc_phonetic"] = float(roc_auc_score(same_np, scores.numpy()))
        res["critic_acc_phonetic"] = float(((scores > 0).float() == same).float().mean())
    return res


# ----------------------------------------------------------------------------------------------- pieces
@dataclass
class Run:
    """One training run's live state: config, placement, modules, objective, trainer, step, best score."""

    cfg: TrainConfig
    device: torch.device
    rank: int
    world: int
    model: torch.nn.Module  # DDP-wrapped under torchrun (see wrap_ddp); _unwrap() for the bare module
    critic: torch.nn.Module | None
    objective: SpeechObjective
    trainer: AlternatingTrainer
    features: FeatureConfig | None  # the front end, stored in every checkpoint and model.pt
    step: int = 0
    best: float | None = None  # lowest validation reconstruction loss so far (checkpoints/best.pt)
    input_trim: dict | None = None  # the training data dir's trim record (audio.trim), stored in model.pt

    @property
    def main(self) -> bool:
        """Whether this process is rank 0 (writes logs and checkpoints)."""
        return self.rank == 0

    @property
    def batches_per_step(self) -> int:
        """Batches one optimisation step consumes (critic updates included)."""
        return self.trainer.batches_per_step


def init_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins torchrun's process group when there is one."""
    rank, world, local_rank = _distributed()
    device = resolve_device(cfg.train.device, local_rank)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    return rank, world, device


def load_data(cfg: TrainConfig, data_dir: str | os.PathLike, valid_dir: str | os.PathLike | None = None
              ) -> tuple[WordSegmentDataset, WordSegmentDataset | None, FeatureConfig | None, SegmentFilterReport]:
    """Training segments, held-out validation segments (None when there are none), the features' config and
    the report of skipped segments."""
    train_segs, valid_segs, reader, seg_report, feat_dim = load_segments(
        data_dir, valid_dir=valid_dir, valid_speakers=cfg.data.valid_speakers, seed=cfg.train.seed,
        min_frames=cfg.data.min_frames, max_frames=cfg.data.max_frames, cmvn=cfg.data.cmvn)
    if feat_dim != cfg.model.feat_dim:
        raise ConfigError(f"model.feat_dim is {cfg.model.feat_dim} but the features in {data_dir} have "
                          f"{feat_dim} dimensions")
    train_ds = WordSegmentDataset(train_segs, reader, cfg.data.crop_frames, preload=cfg.data.preload,
                                  storage_dtype=cfg.data.storage_dtype,
                                  context_frames=cfg.data.speaker_context if _disentangled(cfg) else 0)
    valid_ds = WordSegmentDataset(valid_segs[: cfg.data.max_valid_segments], reader, cfg.data.crop_frames,
                                  speaker_index={s: k for k, s in enumerate(sorted({x.speaker for x in valid_segs}))}
                                  ) if valid_segs else None
    return train_ds, valid_ds, reader_config(reader), seg_report


def build_run(cfg: TrainConfig, train_ds: WordSegmentDataset, features: FeatureConfig | None,
              device: torch.device, rank: int = 0, world: int = 1) -> Run:
    """Seeded modules on ``device``, the objective and the trainer, at step 0."""
    torch.manual_seed(cfg.train.seed)
    np.random.seed(cfg.train.seed)
    if cfg.loss.speaker_ce_weight > 0 and _disentangled(cfg):
        cfg.model.speaker_classes = len(train_ds.speaker_index)
    phones = None
    if cfg.loss.ctc_weight > 0 and _disentangled(cfg):
        phones = phone_table(train_ds.word_index, load_pronunciations(cfg.loss.ctc_lexicon))
        cfg.model.phone_classes = len(ARPABET) + 1  # + the CTC blank
    word_classes = None
    if cfg.loss.word_ce_weight > 0 and _disentangled(cfg):
        word_classes, cfg.model.word_classes = word_class_table(train_ds.word_ids, len(train_ds.word_index),
                                                                cfg.loss.word_min_count)
    model, critic = build_modules(cfg)
    if cfg.model.input_norm == "global":
        model.set_input_stats(*(torch.from_numpy(a) for a in train_ds.feature_stats(seed=cfg.train.seed)))
    model.to(device)
    if critic is not None:
        critic.to(device)
    obj = SpeechObjective(model, critic, cfg.loss, _disentangled(cfg), cfg.train.steps)
    obj.phones, obj.word_classes = phones, word_classes
    trainer = build_trainer(cfg, model, critic, device, freeze_critic=world == 1)
    return Run(cfg, device, rank, world, model, critic, obj, trainer, features)


def resume_run(run: Run, state: dict, path: Path) -> None:
    """Load a training checkpoint's weights, optimiser states (``AlternatingTrainer.load_state_dict``), step
    and best score into ``run`` (before :func:`wrap_ddp`)."""
    try:
        run.model.load_state_dict(state["model"])
        if run.critic is not None:
            run.critic.load_state_dict(state["critic"])
        run.trainer.load_state_dict(state)
        run.step = int(state["step"])
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"--resume --force: {path} does not fit this config ({first}); "
                         f"start a new --out instead") from e
    run.best = state.get("best_valid_rec")


def wrap_ddp(run: Run) -> None:
    """Under torchrun: wrap the model (and critic) in DistributedDataParallel, for the objective too."""
    if run.world <= 1:
        return
    dev = run.device

    def ddp(m: torch.nn.Module) -> torch.nn.Module:
        return torch.nn.parallel.DistributedDataParallel(m, device_ids=[dev.index] if dev.type == "cuda" else None)

    run.model = run.objective.model = ddp(run.model)
    if run.critic is not None:
        run.critic = run.objective.critic = ddp(run.critic)


def batch_stream(run: Run, train_ds: WordSegmentDataset):
    """The endless batch iterator, positioned at ``run.step`` (batch k is a pure function of seed and k)."""
    cfg = run.cfg
    sampler = PairBatchSampler(train_ds.speaker_ids, cfg.data.speakers_per_batch, cfg.data.segments_per_speaker,
                               seed=cfg.train.seed, start=run.step * run.batches_per_step, rank=run.rank,
                               word_ids=train_ds.word_ids, word_pairs=cfg.data.word_pairs)
    loader = torch.utils.data.DataLoader(
        train_ds, batch_sampler=sampler, collate_fn=collate_segments, num_workers=cfg.data.num_workers,
        pin_memory=run.device.type == "cuda", persistent_workers=cfg.data.num_workers > 0,
        generator=torch.Generator().manual_seed(cfg.train.seed))
    return _augmented((_to(b, run.device) for b in loader), run, sampler.start)


def _augmented(batches, run: Run, first: int):
    """Training batches with ``data.speed_perturb`` applied (batch k's factors seeded by seed, rank and k)."""
    factors, crop = run.cfg.data.speed_perturb, run.cfg.data.crop_frames
    if not factors:
        yield from batches
        return
    for k, batch in enumerate(batches, start=first):
        rng = batch_rng(run.cfg.train.seed, run.rank, k)
        batch["feats"], batch["lengths"] = speed_perturb(batch["feats"], batch["lengths"], factors, rng, crop)
        yield batch


def train_one_step(run: Run, batches) -> dict[str, float]:
    """``n_critic`` critic updates and one autoencoder update; advances ``run.step``; returns the logs."""
    run.objective.step = run.step
    critic_fn = run.objective.critic_loss if run.trainer.critic_opt is not None else None
    logs = run.trainer.step(batches, critic_fn, run.objective.generator_loss, run.objective.critic_prepare)
    run.step += 1
    return logs


def validate_run(run: Run, valid_ds: WordSegmentDataset) -> dict[str, float]:
    """:func:`validate` on the run's bare modules."""
    return validate(_unwrap(run.model), _unwrap(run.critic), valid_ds, run.device, seed=run.cfg.train.seed,
                    critic_group_size=run.cfg.loss.critic_group_size)


def save_best(run: Run, out: Path, valid: dict[str, float]) -> bool:
    """Keep ``checkpoints/best.pt`` (a model file, with its validation scores) when the validation
    reconstruction loss is the lowest so far; returns whether it was."""
    rec = valid.get("rec")
    if rec is None or (run.best is not None and rec >= run.best):
        return False
    run.best = rec
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    save_model(out / "checkpoints" / "best.pt", run.cfg, run.features, _unwrap(run.model), run.step,
               extra={"valid": dict(valid), "input_trim": run.input_trim})
    return True


def save(run: Run, out: Path, extra: dict | None = None) -> None:
    """A resumable checkpoint (``checkpoints/ckpt-<step>.pt`` and ``latest.pt``, the newest
    ``train.keep_checkpoints`` kept), carrying the best score so far."""
    write_checkpoint(out / "checkpoints", run.step, run.cfg, run.features, _unwrap(run.model), _unwrap(run.critic),
                     run.trainer, run.cfg.train.keep_checkpoints,
                     extra={**(extra or {}), "best_valid_rec": run.best})


def save_final(run: Run, out: Path) -> None:
    """The deployable ``model.pt``."""
    save_model(out / "model.pt", run.cfg, run.features, _unwrap(run.model), run.step,
               extra={"input_trim": run.input_trim})


# ---------------------------------------------------------------------------------------------- train
def train(
    cfg: TrainConfig,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    valid_dir: str | os.PathLike | None = None,
    resume: bool = False,
    callback: Callable[[dict], None] | None = None,
    stop_after: int | None = None,
    force: bool = False,
) -> TrainResult:
    """Trains ``cfg.model.kind`` on the word segments of ``data_dir`` and writes to ``out_dir``:
    ``config.yaml`` (resolved), ``train_log.jsonl``, ``checkpoints/`` (``latest.pt``, the newest ``ckpt-*.pt``,
    and ``best.pt``: the model with the lowest validation reconstruction loss), ``model.pt`` (final weights).

    ``resume`` continues from the latest checkpoint exactly as an uninterrupted run would (same batches,
    same random state). ``stop_after`` ends the run after that many steps without finishing it (tests,
    time-sliced jobs); the checkpoint written there lets ``resume`` carry on. ``resume`` refuses a config or
    data dir other than the checkpoint's (one line naming the differences) unless ``force``.
    """
    out = Path(out_dir)
    if not Path(data_dir).is_dir():
        raise DataDirError(f"--data {data_dir}: no such data dir")
    if valid_dir is not None and not Path(valid_dir).is_dir():
        raise DataDirError(f"--valid {valid_dir}: no such data dir")
    data_ids = {"train_data": str(Path(data_dir).resolve()),
                "valid_data": str(Path(valid_dir).resolve()) if valid_dir is not None else None}
    rank, world, device = init_distributed(cfg)
    ckpt_dir = out / "checkpoints"
    latest = ckpt_dir / "latest.pt"
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if not resume and latest.exists():
            raise ModelError(f"{out} already holds a training run; use --resume to continue it or a new --out")
        # Temporary files of writes killed in an earlier run (checkpoints are tens of MB).
        remove_stale_tmp(ckpt_dir, "ckpt-*.pt", "latest.pt", "best.pt")
        remove_stale_tmp(out, "model.pt", "config.yaml", "feats.yaml", "train_log.jsonl")
    state = None
    if resume:
        if not latest.exists():
            raise ModelError(f"--resume: no checkpoint in {ckpt_dir}")
        state = load_checkpoint(latest, device)
        diffs = resume_differences(cfg, data_ids, state)
        if diffs and not force:
            raise ConfigError(f"--resume: {latest} was trained with another setup ({'; '.join(diffs)}); "
                              f"use the same config and data, a new --out, or --force")

    train_ds, valid_ds, features, seg_report = load_data(cfg, data_dir, valid_dir)
    run = build_run(cfg, train_ds, features, device, rank, world)
    run.input_trim = read_trim_record(data_dir)
    if state is not None:
        resume_run(run, state, latest)
    wrap_ddp(run)
    batches = batch_stream(run, train_ds)
    if state is not None:
        set_rng_state(state["rng"])  # after the loader started: its start must not shift the stream

    log_path = out / "train_log.jsonl"
    if run.main:
        save_config(cfg, out / "config.yaml", header="resolved training config (speechdis train)")
        if features is not None:
            save_feature_config(features, out / "feats.yaml")  # a readable copy; model.pt is what counts
        else:
            log.warning("%s has no conf/feats.yaml (features made outside speechdis): the model will not know its "
                        "front end; put the matching feats.yaml beside model.pt to embed raw audio with it", data_dir)
        _truncate_log(log_path, run.step)

    def report(rec: dict) -> None:
        _append_log(log_path, rec)
        if callback:
            callback(rec)

    t0, seen, last_valid = time.time(), 0, {}
    logs: dict[str, float] = {}
    end = cfg.train.steps if stop_after is None else min(cfg.train.steps, run.step + stop_after)
    while run.step < end:
        logs = train_one_step(run, batches)
        step = run.step
        seen += cfg.batch_size * run.batches_per_step
        if not run.main:
            continue
        if step % cfg.train.log_every == 0 or step == end:
            report({"step": step, "split": "train", **{k: round(v, 6) for k, v in logs.items()},
                    "segments_per_s": round(seen / max(time.time() - t0, 1e-9), 2)})
        if valid_ds is not None and (step % cfg.train.valid_every == 0 or step == cfg.train.steps):
            last_valid = validate_run(run, valid_ds)
            save_best(run, out, last_valid)
            report({"step": step, "split": "valid", **{k: round(v, 6) for k, v in last_valid.items()}})
        if step % cfg.train.ckpt_every == 0 or step == end:
            save(run, out, extra=data_ids)
    if run.main and run.step >= cfg.train.steps:
        save_final(run, out)
    if world > 1:
        torch.distributed.barrier()
    return TrainResult(out, run.step, logs, last_valid, seg_report)


# Settings a resumed run may change: they do not alter what is trained (only how long, how often it reports,
# where it runs).
RESUMABLE_CHANGES = frozenset({
    "train.steps", "train.log_every", "train.valid_every", "train.ckpt_every", "train.keep_checkpoints",
    "train.device", "train.amp", "data.num_workers", "data.preload", "data.storage_dtype",
    "data.max_valid_segments",
    "model.speaker_classes",  # derived from the training data, which is compared on its own
    "model.word_classes",
})


def _flatten(d: dict, prefix: str = "") -> dict:
    flat = {}
    for k, v in d.items():
        if isinstance(v, dict):
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return flat


def resume_differences(cfg: TrainConfig, data_ids: dict, state: dict) -> list[str]:
    """What differs between this run's config / data dirs and those stored in a training checkpoint
    (``key: stored → now``), ignoring :data:`RESUMABLE_CHANGES`."""
    try:
        stored = to_dict(from_dict(TrainConfig, state["config"]))
    except (KeyError, TypeError, ConfigError) as e:
        return [f"its config cannot be read ({e})"]
    old, new = _flatten(stored), _flatten(to_dict(cfg))
    diffs = [f"{k}: {old.get(k, '(unset)')!r} → {new.get(k, '(unset)')!r}" for k in sorted(set(old) | set(new))
             if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k)]
    for key, flag in (("train_data", "--data"), ("valid_data", "--valid")):
        if key in state and state[key] != data_ids[key]:
            diffs.append(f"{flag}: {state[key]} → {data_ids[key]}")
    return diffs


def reader_config(reader) -> FeatureConfig | None:
    """The feature config a (possibly multi-dir) reader's features were made with (None: unknown)."""
    return getattr(reader, "config", None)


def _append_log(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """On resume, drop log lines past the checkpoint so the log reads like one uninterrupted run."""
    if not path.exists():
        return
    keep = []
    for ln in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(ln)
        except ValueError:  # a line half-written when the run was killed
            continue
        if isinstance(rec, dict) and rec.get("step", 0) <= step:
            keep.append(ln)
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("".join(k + "\n" for k in keep))


__all__ = ["TrainResult", "Run", "train", "init_distributed", "load_data", "build_run", "resume_run", "wrap_ddp",
           "batch_stream", "train_one_step", "validate", "validate_run", "save_best", "save", "save_final",
           "build_modules", "build_trainer", "resolve_device", "reader_config", "resume_differences"]
