"""A combined Markdown table of the image models' metrics (one ``<exp>/<model>/metrics.json`` per model)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from speechdis.errors import ConfigError
from speechdis.image.common import METRICS
from speechdis.image.registry import MODEL_NAMES, get_spec


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def metrics_table(exp_dir: str | os.PathLike) -> str:
    """Markdown: per model its headline metrics, steps and train time, plus the PNG pictures it wrote."""
    exp = Path(exp_dir)
    files = sorted(exp.glob(f"*/{METRICS}"))
    if not files:
        raise ConfigError(f"{exp}: no */{METRICS} files (train some models into it first)")
    order = {n: i for i, n in enumerate(MODEL_NAMES)}
    runs = []
    for f in files:
        try:
            m = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{f}: unreadable metrics ({e})") from e
        runs.append((order.get(m.get("model", ""), len(order)), f.parent, m))
    lines = ["| model | metric | value |", "|---|---|---|"]
    for _, d, m in sorted(runs, key=lambda r: (r[0], r[1].name)):
        name = m.get("model", d.name)
        label = name if d.name == name else f"{name} ({d.name})"
        keys = get_spec(name).headline if name in order else tuple(k for k in m if isinstance(m[k], float))
        for k in keys:
            if k in m:
                lines.append(f"| {label} | {k} | {_fmt(m[k])} |")
        lines.append(f"| {label} | steps / train seconds | {m.get('steps', '?')} / "
                     f"{float(m.get('train_seconds', 0)):.0f} |")
        pictures = sorted(p.name for p in d.glob("*.png"))
        if pictures:
            lines.append(f"| {label} | pictures | {', '.join(pictures)} |")
    return "\n".join(lines) + "\n"
