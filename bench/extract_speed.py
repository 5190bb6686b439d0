"""Extraction speed: real-time factor of embedding word-length segments with an (untrained) model of a config.

Synthetic 16 kHz utterances of ``--seconds`` each, cut into word-length segments (``--word`` seconds each);
for each utterance the model-ready features are computed (:meth:`Embedder.features`: MFCC + CMVN, as
``speechdis extract`` does for audio), then all segments are embedded in batches of ``--batch-size``
(:meth:`Embedder.embed_features`; ``speechdis extract`` batches up to 1,024 segments per call). Prints the
time of each stage and the real-time factor (audio seconds / wall seconds) of the two together, one process,
``--threads`` torch threads (default 1); ``--vectors phonetic`` runs only the phonetic encoder. Weights are
random: the speed of a trained model of the same config is the same.

With ``--workers 0,1,2`` it then also times ``extract()`` end to end (what ``speechdis extract --workers N``
runs) on the same utterances written as 16-bit wav files with a ``word_segments`` table: reading, features
(in N forked worker processes; 0 = in the main one), cutting and embedding, as one real-time factor per N.

    python bench/extract_speed.py [--config recipes/librispeech/conf/train_disentangled.yaml] [--utts 40]
        [--workers 0,1] [--threads 1] [--vectors phonetic]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="recipes/librispeech/conf/train_disentangled.yaml")
    ap.add_argument("--utts", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=12.0, help="length of each utterance")
    ap.add_argument("--word", type=float, default=0.35, help="length of each word segment")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the embedding (extract --threads)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto (the embedding's device)")
    ap.add_argument("--vectors", default="", help="compute only these vectors, e.g. phonetic (extract --vectors)")
    ap.add_argument("--set", action="append", default=[], help="config overrides, key=value")
    ap.add_argument("--workers", default="", help="comma-separated feature worker counts for the end-to-end "
                                                  "extract() timing (e.g. 0,1,2; default: not timed)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from speechdis.audio.features import FeatureConfig
    from speechdis.config import load_config
    from speechdis.inference.model import Embedder
    from speechdis.training.config import TrainConfig, resolve_device
    from speechdis.training.loop import build_modules

    cfg = load_config(TrainConfig, args.config, args.set)
    fcfg = FeatureConfig()
    if fcfg.dim != cfg.model.feat_dim:
        raise SystemExit(f"{args.config}: model takes {cfg.model.feat_dim}-dim features, default MFCC has {fcfg.dim}")
    device = resolve_device(args.device)
    model, _ = build_modules(cfg)
    model.to(device).eval()
    emb = Embedder(model=model, train_config=cfg, feature_config=fcfg, device=device,
                   path=Path("untrained"), batch_size=args.batch_size, threads=args.threads,
                   vectors=tuple(args.vectors.split(",")) if args.vectors else None)
    rng = np.random.default_rng(0)
    sr = fcfg.sample_rate
    waves = [0.1 * rng.standard_normal(int(args.seconds * sr)).astype(np.float32) for _ in range(args.utts)]
    spans = [(a, a + args.word) for a in np.arange(0.0, args.seconds - args.word - 0.05, args.word)]
    emb.embed_features([np.zeros((30, fcfg.dim), np.float32)])  # warm-up

    t0 = time.perf_counter()
    segs = []
    for k, w in enumerate(waves):
        segs += emb.cut(emb.features(w, sr, f"u{k}"), spans)
    t1 = time.perf_counter()
    emb.embed_features(segs)
    t2 = time.perf_counter()
    audio = args.utts * args.seconds
    feat_s, embed_s = t1 - t0, t2 - t1
    print(f"{args.config}: {cfg.model.kind}, {len(segs)} segments of {args.word}s from {args.utts} x "
          f"{args.seconds}s utterances ({audio:.0f}s of audio), batch {args.batch_size}, {args.threads} "
          f"torch thread(s), vectors {', '.join(emb.out_keys)}, device {device}")
    print(f"features (MFCC + CMVN)   {feat_s:7.2f} s   {audio / feat_s:8.0f}x real time")
    print(f"embedding (encoders)     {embed_s:7.2f} s   {audio / embed_s:8.0f}x real time  "
          f"({len(segs) / embed_s:,.0f} segments/s)")
    print(f"together                 {feat_s + embed_s:7.2f} s   {audio / (feat_s + embed_s):8.0f}x real time "
          f"(features {feat_s / (feat_s + embed_s):.0%} of the time)")
    if args.workers:
        end_to_end(emb, waves, spans, sr, [int(w) for w in args.workers.split(",")], audio)


def end_to_end(emb, waves: list[np.ndarray], spans: list[tuple[float, float]], sr: int, workers: list[int],
               audio: float) -> None:
    """Real-time factor of ``extract()`` on wav files + word_segments, per number of feature workers."""
    import tempfile

    import soundfile as sf

    from speechdis.inference.extract import extract

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        lines = []
        for k, w in enumerate(waves):
            sf.write(str(d / f"u{k:03d}.wav"), w, sr, subtype="PCM_16")
            lines += [f"u{k:03d}_{j:04d} u{k:03d} {a:.3f} {b:.3f} W" for j, (a, b) in enumerate(spans)]
        (d / "word_segments").write_text("\n".join(lines) + "\n")
        files = sorted(d.glob("*.wav"))
        for n in workers:
            t0 = time.perf_counter()
            res = extract(emb, files, word_segments=d / "word_segments", workers=n)
            wall = time.perf_counter() - t0
            print(f"extract(), --workers {n}   {wall:7.2f} s   {audio / wall:8.0f}x real time  "
                  f"({len(res)} segments, {len(res) / wall:,.0f} segments/s)")


if __name__ == "__main__":
    main()
