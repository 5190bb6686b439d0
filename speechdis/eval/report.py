"""Evaluation reports: one JSON file for machines and one Markdown file for people, written atomically."""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from speechdis.fileio import atomic_open

__all__ = ["to_jsonable", "format_number", "format_table", "render_markdown", "write_report"]


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays, dataclasses, paths, tuples and sets converted;
    NaN and infinities become ``None`` (JSON has no such numbers)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_jsonable(v) for v in obj), key=str)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot put a {type(obj).__name__} into a JSON report")


def format_number(x: Any) -> str:
    """Readable text for a table cell: 4 decimals below 1, 3 below 100, 1 above; scientific when tiny."""
    if x is None:
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        a = abs(f)
        if a == 0:
            return "0"
        if a < 1e-3:
            return f"{f:.2e}"
        if a < 1:
            return f"{f:.4f}"
        if a < 100:
            return f"{f:.3f}"
        if a < 1e7:
            return f"{f:.1f}"
        return f"{f:.3e}"
    return str(x)


def _cell(x: Any) -> str:
    # A pipe or newline inside a cell would break the Markdown table.
    return format_number(x).replace("|", "\\|").replace("\n", " ")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table (padded so it also reads well in a terminal); numeric columns right-aligned.

    ``columns`` defaults to every key in first-seen order; missing cells are blank.
    """
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    columns = list(columns)
    if not columns:
        return ""
    cells = [[_cell(r[c]) if c in r else "" for c in columns] for r in rows]
    numeric = [
        any(c in r for r in rows) and all(_is_number(r[c]) or r[c] is None for r in rows if c in r)
        for c in columns
    ]
    widths = [max([len(str(c)), 3] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "| " + " | ".join(parts) + " |"

    header = line([str(c).replace("|", "\\|") for c in columns])
    sep = "| " + " | ".join(("-" * (w - 1) + ":") if num else "-" * w for w, num in zip(widths, numeric)) + " |"
    return "\n".join([header, sep] + [line(r) for r in cells])


def _scalar(x: Any) -> bool:
    return x is None or isinstance(x, (str, bool, int, float, np.generic))


def _section(value: Any) -> str:
    """Markdown for one top-level entry of a report (already JSON-able)."""
    if _scalar(value):
        return _cell(value)
    if isinstance(value, list) and value and all(isinstance(r, dict) and all(_scalar(v) for v in r.values())
                                                 for r in value):
        return format_table(value)
    if isinstance(value, dict):
        if all(_scalar(v) for v in value.values()):
            return format_table([{"metric": k, "value": v} for k, v in value.items()])
        if all(isinstance(v, dict) and all(_scalar(x) for x in v.values()) for v in value.values()):
            # e.g. {"dtw": {"MAP": ...}, "seq2seq": {"MAP": ...}}: one row per system.
            return format_table([{"": k, **v} for k, v in value.items()])
        parts = []
        for k, v in value.items():
            parts.append(f"**{k}**\n\n{_section(v)}")
        return "\n\n".join(parts)
    if isinstance(value, list) and all(_scalar(v) for v in value) and len(value) <= 20:
        return ", ".join(_cell(v) for v in value)
    return "```json\n" + json.dumps(value, indent=2) + "\n```"


def render_markdown(results: Mapping[str, Any], name: str) -> str:
    """The Markdown body of a report: top-level scalars in a summary table, then one section per entry."""
    data = to_jsonable(results)
    out = [f"# {name}", ""]
    scalars = {k: v for k, v in data.items() if _scalar(v)}
    if scalars:
        out += [format_table([{"": k, "value": v} for k, v in scalars.items()]), ""]
    for k, v in data.items():
        if k in scalars:
            continue
        out += [f"## {k}", "", _section(v), ""]
    return "\n".join(out)


def write_report(results: Mapping[str, Any], out_dir: str | os.PathLike, name: str) -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.json`` and ``<out_dir>/<name>.md`` atomically; returns both paths.

    Numbers are kept at full precision in the JSON (NaN/inf as null) and rounded in the Markdown.
    """
    if not name or os.sep in name or name in (".", ".."):
        raise ValueError(f"bad report name {name!r}")
    out = Path(out_dir)
    data = to_jsonable(results)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    with atomic_open(json_path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False, allow_nan=False)
        f.write("\n")
    with atomic_open(md_path, "w", encoding="utf-8") as f:
        f.write(render_markdown(data, name))
    return json_path, md_path
