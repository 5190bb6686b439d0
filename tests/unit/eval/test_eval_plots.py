"""Plots write real PNG files; the training-log reader tolerates only a truncated last line."""
import json

import numpy as np
import pytest

from speechdis.errors import SpeechdisError
from speechdis.eval.plots import loss_curves_png, read_jsonl_log, tsne_png

PNG = b"\x89PNG\r\n\x1a\n"


def test_tsne_png_few_and_many_classes(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 20)
    x = rng.normal(size=(60, 8)) + 4 * np.eye(3, 8)[np.repeat([0, 1, 2], 20)]  # three clusters
    p = tsne_png(x, labels, tmp_path / "few.png", title="three", threads=1)
    assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
    many = [f"w{i}" for i in range(60)]  # more classes than a legend can hold
    p = tsne_png(x, many, tmp_path / "many.png", max_points=40, seed=1, threads=1)
    assert p.read_bytes()[:8] == PNG
    with pytest.raises(ValueError):
        tsne_png(x[:2], labels[:2], tmp_path / "x.png")


def _write_log(path, extra=""):
    lines = []
    for step in range(0, 50, 5):
        lines.append(json.dumps({"step": step, "loss/rec": 1.0 / (step + 1), "loss/spk": 0.5, "loss/adv": -0.1 * step,
                                 "lr": 1e-3, "phase": "ae", "done": False}))
        if step % 20 == 0:
            lines.append(json.dumps({"step": step, "split": "valid", "loss/rec": 1.2 / (step + 1)}))
    path.write_text("\n".join(lines) + "\n" + extra)


def test_loss_curves_png(tmp_path):
    log = tmp_path / "train.jsonl"
    _write_log(log, extra='{"step": 55, "loss/re')  # killed mid-write
    train, valid = read_jsonl_log(log)
    assert len(train) == 10 and len(valid) == 3
    p = loss_curves_png(log, tmp_path / "loss.png")
    assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000


def test_loss_curves_one_panel_per_scale(tmp_path):
    """segments/s is not drawn at all (it would flatten the losses; speed belongs to bench/), losses and
    accuracies get their own panels."""
    from speechdis.eval.plots import loss_curve_panels

    log = tmp_path / "train_log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"step": 1, "split": "train", "loss/rec": 1.0, "segments_per_s": 900.0},
        {"step": 2, "split": "train", "loss/rec": 0.8, "segments_per_s": 950.0},
        {"step": 2, "split": "valid", "rec": 0.9, "spk_auc_speaker": 0.7, "spk_probe_content": 0.4}]) + "\n")
    panels = {title: sorted(series) for title, series in loss_curve_panels(log)}
    assert panels == {"train: loss": ["loss/rec"],
                      "valid: loss": ["rec"], "valid: accuracy / AUC": ["spk_auc_speaker", "spk_probe_content"]}
    assert loss_curves_png(log, tmp_path / "loss.png").read_bytes()[:8] == PNG


def test_loss_log_errors(tmp_path):
    log = tmp_path / "bad.jsonl"
    log.write_text('{"step": 1, "loss/rec": 1}\nnot json\n{"step": 2, "loss/rec": 0.5}\n')
    with pytest.raises(SpeechdisError, match=":2:"):
        read_jsonl_log(log)
    with pytest.raises(SpeechdisError):
        loss_curves_png(tmp_path / "missing.jsonl", tmp_path / "x.png")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(SpeechdisError):
        loss_curves_png(empty, tmp_path / "x.png")


def test_det_curves_of_several_systems_in_one_png(tmp_path):
    from speechdis.eval.plots import det_curves_png

    curves = {"DTW": ([0.0, 0.001, 0.01, 0.2], [0.9, 0.6, 0.3, 0.05]), "model": ([0.0, 1e-4, 0.05], [0.8, 0.4, 0.0])}
    p = det_curves_png(curves, tmp_path / "det.png", title="two systems")
    assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
