"""A combined Markdown table of the image models' metrics (one ``<exp>/<model>/metrics.json`` per model)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from speechdis.errors import ConfigError
from speechdis.image.common import METRICS
from speechdis.image.registry import MODEL_NAMES, get_spec


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _read_metrics(f: Path) -> dict:
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{f}: unreadable metrics ({e})") from e


def _mean_std(values: list) -> str:
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and len(set(values)) > 1:
        a = np.asarray(values, float)
        return f"{a.mean():.4f} ± {a.std(ddof=1):.4f} (seeds: {', '.join(_fmt(float(v)) for v in values)})"
    return _fmt(values[0])


def metrics_table(exp_dir: str | os.PathLike) -> str:
    """Markdown: per model its headline metrics, steps and train time, plus the PNG pictures it wrote.

    A model's extra seeds live in ``<exp>/<model>/seed<k>/``; with them a metric is shown as mean ± sample
    standard deviation over all the model's seeds, followed by each seed's value.
    """
    exp = Path(exp_dir)
    files = sorted(exp.glob(f"*/{METRICS}"))
    if not files:
        raise ConfigError(f"{exp}: no */{METRICS} files (train some models into it first)")
    order = {n: i for i, n in enumerate(MODEL_NAMES)}
    runs = []
    for f in files:
        m = _read_metrics(f)
        extra = [_read_metrics(g) for g in sorted(f.parent.glob(f"seed*/{METRICS}"))]
        runs.append((order.get(m.get("model", ""), len(order)), f.parent, m, [m, *extra]))
    lines = ["| model | metric | value |", "|---|---|---|"]
    for _, d, m, seeds in sorted(runs, key=lambda r: (r[0], r[1].name)):
        name = m.get("model", d.name)
        label = name if d.name == name else f"{name} ({d.name})"
        keys = get_spec(name).headline if name in order else tuple(k for k in m if isinstance(m[k], float))
        if len(seeds) > 1:
            lines.append(f"| {label} | seeds | {', '.join(str(s.get('seed', '?')) for s in seeds)} |")
        for k in keys:
            if k in m:
                lines.append(f"| {label} | {k} | {_mean_std([s[k] for s in seeds if k in s])} |")
        lines.append(f"| {label} | steps / train seconds | {m.get('steps', '?')} / "
                     f"{float(m.get('train_seconds', 0)):.0f} |")
        pictures = sorted(p.name for p in d.glob("*.png"))
        if pictures:
            lines.append(f"| {label} | pictures | {', '.join(pictures)} |")
    return "\n".join(lines) + "\n"


# What the papers report on MNIST, for the paper-vs-speechdis table: (model, measure, paper figure, our metric,
# whether it is shown as an error (1 - value), whether as a percentage (else a 0-1 score), and what to show
# beside it).
PAPER_ROWS = (
    ("infogan", "unsupervised classification test error, 10-way code (Chen et al., 2016)", "5% (± 0.01)",
     "unsupervised_error", False, True,
     lambda m: f"Q's code on training images (no labels): MI {m['q_train_code_mi']:.3f} nats (max 2.303), "
     f"balance {m['q_train_code_balance']:.3f}" if "q_train_code_mi" in m else ""),
    ("triplegan", "test error with 100 labels (Li et al., 2017)", "0.91% (± 0.58)", "classifier_accuracy", True, True,
     lambda m: f"same 100 labels alone: {_pct(1 - m['baseline_accuracy'])}" if "baseline_accuracy" in m else ""),
    ("bigan", "1-NN test accuracy on E(x) (Donahue et al., 2017)", "97.39%", "knn1_accuracy_z", False, True,
     lambda m: f"recon MSE {m['recon_mse']:.4f} vs mean image {m['recon_mse_mean_image']:.4f}"
     if "recon_mse" in m else ""),
    ("dann", "MNIST → textured MNIST target accuracy (paper: → MNIST-M, Ganin & Lempitsky, 2015)", "76.66%",
     "dann_target_accuracy", False, True,
     lambda m: f"source only: {_pct(m.get('source_only_target_accuracy'))} (paper 52.25%)"),
    ("vaegan", "samples: MNIST classifier's confidence (no paper figure)", "–", "sample_confidence", False, False,
     lambda m: f"class entropy {m['sample_class_entropy']:.3f}; recon MSE {m['recon_mse']:.4f} vs mean image "
     f"{m['recon_mse_mean_image']:.4f}" if "sample_class_entropy" in m else ""),
)

# Label-free metrics that pick one restart among the seeds (highest value wins), shown beside the mean.
PICK_BY = {"infogan": "q_train_code_mi"}


def _pct(v: object) -> str:
    return f"{100 * float(v):.2f}%" if isinstance(v, (int, float)) else "–"


def paper_table(exp_dir: str | os.PathLike) -> str:
    """Markdown: the papers' MNIST figures beside ours (``<exp>/<model>/metrics.json`` of MNIST runs, and the
    mean ± std over ``<exp>/<model>/seed<k>/`` runs when there are any), with steps and train time."""
    exp = Path(exp_dir)
    lines = ["| model | measure | paper | speechdis (seed 0) | over seeds | compare with (seed 0) "
             "| steps / train time |", "|---|---|---|---|---|---|---|"]
    for name, measure, paper, key, as_error, percent, other in PAPER_ROWS:
        f = exp / name / METRICS
        if not f.is_file():
            lines.append(f"| {name} | {measure} | {paper} | not run | | | |")
            continue
        runs = [_read_metrics(f), *(_read_metrics(g) for g in sorted(f.parent.glob(f"seed*/{METRICS}")))]
        m = runs[0]
        if m.get("dataset", "mnist") != "mnist":
            raise ConfigError(f"{f}: not an MNIST run (dataset {m.get('dataset')!r})")
        values = [1 - r[key] if as_error else r[key] for r in runs if key in r]
        show = _pct if percent else (lambda v: f"{v:.3f}")
        spread = ""
        minutes = [float(r.get("train_seconds", 0)) / 60 for r in runs]
        time = f"{m.get('steps', '?')} / {minutes[0]:.1f} min"
        if len(values) > 1:
            a = np.asarray(values) * (100 if percent else 1)
            spread = f"{a.mean():.2f} ± {a.std(ddof=1):.2f} ({len(values)} seeds)"
            time += f" (seeds {min(minutes):.1f}-{max(minutes):.1f} min)"
            pick = PICK_BY.get(name)
            if pick and all(pick in r and key in r for r in runs):
                best = max(runs, key=lambda r: r[pick])
                spread += (f"; the restart {pick} picks (seed {best.get('seed', '?')}): "
                           f"{show(1 - best[key] if as_error else best[key])}")
        lines.append(f"| {name} | {measure} | {paper} | {show(values[0]) if values else '–'} | {spread} | "
                     f"{other(m)} | {time} |")
    return "\n".join(lines) + "\n"
