"""Peak memory (RSS) of `speechdis extract` on one long file (issue 22 item 9: a 60-minute wav must stay <= 500 MB).

    python bench/long_file_memory.py [--minutes 60] [--model speechcommands] [--whole]

Writes a synthetic 16 kHz 16-bit wav of that length to /tmp (in blocks), runs `speechdis extract --model MODEL
FILE --out /tmp/....npz` in a child process and prints the child's peak RSS (``resource.getrusage`` of the
children), its run time, and for scale the peak of a child that only imports speechdis and loads the model.
``--whole`` measures the whole-file path instead (load_audio + Embedder.features: what extract did before
block streaming). Not a test (minutes of CPU); the figures go in the notes.
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000


def write_long_wav(path: Path, minutes: float) -> None:
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for _ in range(int(minutes * 6)):  # 10 s blocks: pitch changing every 0.25 s, plus noise
            t = np.arange(10 * RATE) / RATE
            f0 = np.repeat(rng.uniform(90, 260, 40), RATE // 4)
            w = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / RATE) + 0.02 * rng.standard_normal(t.size)
            f.write(w.astype(np.float32))


def peak_of(code: str) -> tuple[float, float]:
    """(peak RSS MB, seconds) of ``python -c code`` in a fresh child (children's rusage is per waited child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.time()
    subprocess.run([sys.executable, "-c", code], check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak < before:  # ru_maxrss of children is the max over all waited children: never smaller
        peak = before
    return peak / 1024, time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--model", default="speechcommands")
    ap.add_argument("--whole", action="store_true", help="the whole-file feature path (before streaming)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="speechdis-longfile-"))
    wav = tmp / f"long{args.minutes:g}min.wav"
    write_long_wav(wav, args.minutes)
    print(f"{wav}: {wav.stat().st_size / 1e6:.0f} MB on disk, {args.minutes:g} min")
    # The model-only child first: ru_maxrss of children is a running max, so the smaller figure goes first.
    base, _ = peak_of(f"import speechdis; speechdis.load_model({args.model!r}, device='cpu')")
    print(f"import + load_model only: peak RSS {base:.0f} MB")
    if args.whole:
        code = (f"import speechdis; from speechdis.audio.io import load_audio; m = speechdis.load_model("
                f"{args.model!r}, device='cpu'); c = m.feature_config; "
                f"f = m.features(load_audio({str(wav)!r}, c.sample_rate), c.sample_rate); "
                f"v = m.embed_features([f]); print(f.shape)")
    else:
        code = (f"import sys; from speechdis.cli import main; sys.exit(main(['extract', '--model', {args.model!r}, "
                f"{str(wav)!r}, '--out', {str(tmp / 'out.npz')!r}, '--device', 'cpu']))")
    peak, sec = peak_of(code)
    print(f"{'whole-file features' if args.whole else 'speechdis extract'} of {args.minutes:g} min: "
          f"peak RSS {peak:.0f} MB, {sec:.0f} s")
    wav.unlink()


if __name__ == "__main__":
    main()
