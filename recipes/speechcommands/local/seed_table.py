#!/usr/bin/env python3
"""Prints one table per evaluation dir (std.json, speaker.json, probes.json of `speechdis evaluate`):
one row per system, runs named ``NAME_seedN`` pooled into ``NAME`` as mean ± std over seeds.

    python recipes/speechcommands/local/seed_table.py recipes/speechcommands/exp/eval_test [--json OUT]

Columns: cross-speaker QbE MAP (archive = other speakers' segments) and plain QbE MAP of the content vector
(phonetic vector, the baseline's embedding, DTW, mfcc-stats), same-different AP (all pairs / pairs of
different speakers; DTW's over the queries its time budget finished), speaker EER of the speaker vector and of the
content vector, linear-probe accuracies (speaker from content, word from content, speaker from speaker vector).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

COLUMNS = [
    ("x-spk MAP", "higher"), ("MAP", "higher"), ("SD AP", "higher"), ("SD AP x-spk", "higher"),
    ("EER spk vec %", "lower"), ("EER content %", "higher"),
    ("spk probe content %", "lower"), ("word probe content %", "higher"), ("spk probe spk vec %", "higher"),
]


def _load(d: Path, name: str) -> dict:
    p = d / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else {}


def system_rows(eval_dir: Path) -> dict[str, dict[str, float]]:
    """Per system name (as evaluated), the table's figures that exist for it."""
    std, spk, probes = _load(eval_dir, "std"), _load(eval_dir, "speaker"), _load(eval_dir, "probes")
    rows: dict[str, dict[str, float]] = defaultdict(dict)
    for name, r in std.get("segment_qbe_cross_speaker", {}).items():
        rows[name]["x-spk MAP"] = r["MAP"]
    for name, r in std.get("segment_qbe", {}).items():
        rows[name]["MAP"] = r["MAP"]
    for name, r in std.get("same_different", {}).items():
        rows[name]["SD AP"] = r["AP"]
        rows[name]["SD AP x-spk"] = r["AP_diff_speaker"]
    for key, r in spk.get("verification", {}).items():
        name, vec = key.rsplit("/", 1)
        if name != "resemblyzer":  # a speaker encoder: its one vector is no content vector
            rows[name]["EER spk vec %" if vec == "speaker" else "EER content %"] = 100 * r["EER"]
        if name in ("mfcc-stats", "resemblyzer"):  # one vector, used for both
            rows[name]["EER spk vec %"] = 100 * r["EER"]
    for r in probes.get("probes", []):
        content = r["from"] in ("phonetic", "embedding")
        col = {("speaker", True): "spk probe content %", ("word", True): "word probe content %",
               ("speaker", False): "spk probe spk vec %"}.get((r["target"], content))
        if col:
            rows[r["model"]][col] = 100 * r["accuracy"]
    return dict(rows)


def pool_seeds(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, tuple[float, float, int]]]:
    """``NAME_seedN`` rows → ``NAME``: (mean, std, number of seeds) per column."""
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for name, r in rows.items():
        groups[re.sub(r"_seed\d+$", "", name)].append(r)
    out = {}
    for name, rs in groups.items():
        cols = {}
        for col, _ in COLUMNS:
            vals = [r[col] for r in rs if col in r]
            if vals:
                cols[col] = (float(np.mean(vals)), float(np.std(vals)), len(vals))
        out[name] = cols
    return out


def markdown(pooled: dict[str, dict[str, tuple[float, float, int]]], title: str) -> str:
    order = sorted(pooled, key=lambda n: (n not in ("dtw", "mfcc-stats"), n))
    columns = [c for c, _ in COLUMNS if any(c in v for v in pooled.values())]  # e.g. a speaker-only eval dir
    lines = [f"### {title}", "", "| system | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in order:
        cells = []
        for col in columns:
            if col not in pooled[name]:
                cells.append("–")
                continue
            m, s, n = pooled[name][col]
            digits = 3 if "MAP" in col or "AP" in col else 1
            cells.append(f"{m:.{digits}f} ± {s:.{digits}f}" if n > 1 else f"{m:.{digits}f}")
        n_seeds = max((v[2] for v in pooled[name].values()), default=1)
        lines.append(f"| {name}{f' ({n_seeds} seeds)' if n_seeds > 1 else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("eval_dir", type=Path)
    p.add_argument("--title", default=None)
    p.add_argument("--json", type=Path, default=None, help="also write the pooled figures here")
    a = p.parse_args(argv)
    rows = system_rows(a.eval_dir)
    if not rows:
        print(f"{a.eval_dir}: no std/speaker/probes reports", file=sys.stderr)
        return 1
    pooled = pool_seeds(rows)
    text = markdown(pooled, a.title or str(a.eval_dir))
    print(text)
    (a.eval_dir / "seed_table.md").write_text(text + "\n")
    if a.json:
        a.json.write_text(json.dumps(pooled, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
