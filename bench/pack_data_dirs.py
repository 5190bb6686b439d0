"""Copy data dirs for a size-limited transfer (the device tool carries 64 MiB): the Kaldi tables as they are, the
features rewritten as one Kaldi-compressed archive per dir (kaldiio's compression method 2, Kaldi's
``compress=true`` speech-feature format: about a quarter of the bytes, values within a fraction of a percent of
each column's range), and every scp path written with a placeholder for the copy's directory so that
`--relocate` on the other machine points them at the copy wherever it lands.

    python bench/pack_data_dirs.py OUT DATA_DIR...          # OUT/<basename>/ for each DATA_DIR
    python bench/pack_data_dirs.py --relocate OUT            # on the other machine: absolute paths again
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import kaldiio

TABLES = ("wav.scp", "segments", "text", "utt2spk", "spk2utt", "utt2dur", "utt2num_frames", "spk2gender",
          "word_segments", "phones.ctm")
MARK = "@PACKED@/"  # stands for the absolute directory of the packed copy


def pack(out: Path, data_dir: Path) -> int:
    """Copy `data_dir` into out/<name>; returns the bytes written."""
    dst = out / data_dir.name
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in TABLES:
        if (data_dir / name).is_file():
            shutil.copy2(data_dir / name, dst / name)
    if (data_dir / "conf").is_dir():
        shutil.copytree(data_dir / "conf", dst / "conf")
    for scp, ark in (("feats.scp", "feats.ark"), ("cmvn.scp", "cmvn.ark")):
        if not (data_dir / scp).is_file():
            continue
        mats = kaldiio.load_scp(str(data_dir / scp))
        # CMVN statistics are sums (not features): kept exact.
        method = 2 if scp == "feats.scp" else None
        with kaldiio.WriteHelper(f"ark,scp:{dst / ark},{dst / scp}", compression_method=method) as w:
            for key in mats:
                w(key, mats[key])
        text = (dst / scp).read_text().replace(f"{dst.resolve()}/", MARK).replace(f"{dst}/", MARK)
        (dst / scp).write_text(text)
    return sum(f.stat().st_size for f in dst.rglob("*") if f.is_file())


def relocate(out: Path) -> None:
    """Point every packed scp under `out` at its directory's absolute path."""
    for scp in out.glob("*/*.scp"):
        scp.write_text(scp.read_text().replace(MARK, f"{scp.parent.resolve()}/"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("data_dirs", nargs="*", type=Path)
    p.add_argument("--relocate", action="store_true")
    args = p.parse_args()
    if args.relocate:
        relocate(args.out)
        return
    for d in args.data_dirs:
        print(f"{d} -> {args.out / d.name}: {pack(args.out, d) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
