"""Data loading at scale: N word segments (10^5, 10^6) through table parsing, dataset construction and batching.

Builds a synthetic data dir in a temporary folder: ~35 words per utterance, 20-100 frames per word, 39-dim
features, 8 utterances per speaker (``word_segments``, ``utt2spk``, ``utt2num_frames``; with ``--ark`` also a
Kaldi ``feats.ark/scp``, else features are generated per utterance on the fly, seeded, so a 10^6-segment run
needs no 10 GB archive on disk). Then measures, one stage after another:

* load + validation: reading the three tables and locating every segment in its frames (``segments_from_table``);
* construction: ``WordSegmentDataset(..., preload=True)`` (every segment cropped to 70 frames and held in RAM),
  with its peak RSS against the feature bytes it holds;
* time to first batch, and steady batches/s (segments/s) of ``PairBatchSampler`` + batch assembly on one
  core (batch 64 = 8 speakers x 8 segments, as the reference config), through ``DataLoader``'s path
  (``__getitems__`` + ``collate_segments``) and through the per-item path (``collate_segments([ds[i] ...])``).

    python bench/data_scale.py --segments 100000 [--dtype float16] [--ark]

Each run is one process, so its peak RSS is its own; run one size per process.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time
import zlib
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

DIM = 39


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def utt_features(utt: str, frames: int) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(utt.encode())).standard_normal((frames, DIM), dtype=np.float32)


def build(root: Path, n_segments: int, seed: int, ark: bool) -> dict[str, int]:
    """Write the synthetic tables (and features with ``ark``); returns utt -> frames."""
    rng = np.random.default_rng(seed)
    utt2frames: dict[str, int] = {}
    ws, u2s = [], []
    n = u = 0
    while n < n_segments:
        spk = f"spk{u // 8:05d}"
        utt = f"{spk}-utt{u:07d}"
        words = min(int(rng.integers(25, 46)), n_segments - n)
        lens = rng.integers(20, 101, words)
        gaps = rng.integers(0, 15, words)
        t = 5
        for k in range(words):
            t += int(gaps[k])
            # times of frames [t, t + len): centres (i * 10 + 12.5 ms) inside [start, end)
            end = (t + int(lens[k])) * 0.01
            ws.append(f"{utt}-w{k:03d} {utt} {t * 0.01:.2f} {end:.2f} WORD{int(rng.integers(0, 5000))}")
            t += int(lens[k])
        utt2frames[utt] = t + 5
        u2s.append(f"{utt} {spk}")
        n += words
        u += 1
    (root / "word_segments").write_text("\n".join(ws) + "\n")
    (root / "utt2spk").write_text("\n".join(u2s) + "\n")
    (root / "utt2num_frames").write_text("".join(f"{k} {v}\n" for k, v in utt2frames.items()))
    if ark:
        import kaldiio

        with kaldiio.WriteHelper(f"ark,scp:{root / 'feats.ark'},{root / 'feats.scp'}") as w:
            for utt, frames in utt2frames.items():
                w(utt, utt_features(utt, frames))
    return utt2frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segments", type=int, default=100_000)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="preloaded storage")
    ap.add_argument("--ark", action="store_true", help="write and read a real feats.ark (N x ~60 x 156 bytes)")
    ap.add_argument("--batches", type=int, default=300, help="batches timed for the steady rate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--segments-module", default=None, help=argparse.SUPPRESS)  # compare another segments.py
    args = ap.parse_args()
    torch.set_num_threads(1)

    if args.segments_module:
        spec = importlib.util.spec_from_file_location("alt_segments", args.segments_module)
        seg = importlib.util.module_from_spec(spec)
        sys.modules["alt_segments"] = seg  # dataclasses look their module up
        spec.loader.exec_module(seg)
    else:
        import speechdis.data.segments as seg
    from speechdis.audio.features import FeatureConfig
    from speechdis.data.tables import read_utt2num_frames, read_utt2spk, read_word_segments

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        utt2frames = build(root, args.segments, args.seed, args.ark)
        print(f"synthetic data dir: {args.segments:,} segments, {len(utt2frames):,} utterances "
              f"({time.perf_counter() - t0:.1f}s to write{', with feats.ark' if args.ark else ''})")

        t0 = time.perf_counter()
        rows = read_word_segments(root / "word_segments")
        segs, report = seg.segments_from_table(rows, read_utt2spk(root / "utt2spk"),
                                               read_utt2num_frames(root / "utt2num_frames"), FeatureConfig(), 3)
        del rows
        t_load = time.perf_counter() - t0
        read_time = [0.0]
        if args.ark:
            import kaldiio

            scp = kaldiio.load_scp(str(root / "feats.scp"))
            source = scp.__getitem__
        else:
            def source(utt: str) -> np.ndarray:
                return utt_features(utt, utt2frames[utt])

        def reader(utt: str) -> np.ndarray:
            t = time.perf_counter()
            mat = source(utt)
            read_time[0] += time.perf_counter() - t
            return mat

        base = rss_bytes()
        t0 = time.perf_counter()
        kwargs = {"storage_dtype": args.dtype} if args.dtype != "float32" else {}
        ds = seg.WordSegmentDataset(segs, reader, crop_frames=70, preload=True, **kwargs)
        t_build = time.perf_counter() - t0
        held = getattr(ds, "feature_bytes", None)
        if held is None:  # a per-segment-array dataset
            held = sum(a.nbytes for a in ds._preloaded)
        peak = peak_rss_bytes()

        sampler = seg.PairBatchSampler(ds.speaker_ids, 8, 8, seed=args.seed)
        getitems = getattr(ds, "__getitems__", None)

        def batch_fast(k: int):
            idx = sampler.batch(k)
            return seg.collate_segments(getitems(idx) if getitems else [ds[i] for i in idx])

        def batch_items(k: int):
            return seg.collate_segments([ds[i] for i in sampler.batch(k)])

        t0 = time.perf_counter()
        batch_fast(0)
        t_first = time.perf_counter() - t0
        rates = {}
        for name, fn in (("DataLoader path (__getitems__)", batch_fast), ("per-item path", batch_items)):
            t0 = time.perf_counter()
            for k in range(1, args.batches + 1):
                fn(k)
            rates[name] = args.batches * 64 / (time.perf_counter() - t0)

    gib = 2 ** 30
    print(f"load + validation (tables, segments located)   {t_load:8.2f} s   ({report.kept:,} kept)")
    what = "reading the ark" if args.ark else "generating the synthetic features"
    print(f"dataset construction (preload, {args.dtype})      {t_build:8.2f} s   "
          f"({t_build - read_time[0]:.2f} s without {what})")
    print(f"feature bytes held                             {held / gib:8.2f} GiB")
    print(f"peak RSS                                       {peak / gib:8.2f} GiB   "
          f"({peak / held:.2f}x the features; {(peak - base) / held:.2f}x counting from before construction)")
    print(f"time to first batch                            {t_first * 1000:8.1f} ms")
    for name, r in rates.items():
        print(f"steady batches, one core, {name:<31} {r:10,.0f} segments/s ({r / 64:,.0f} batches/s)")


if __name__ == "__main__":
    main()
