"""Resemblyzer as an outside speaker system (optional extra: skipped where it is not installed)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import concatenated_clips_data_dir, make_wave, untrained_speech_model

pytest.importorskip("resemblyzer")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # webrtcvad's pkg_resources notice


@pytest.mark.slow  # importing resemblyzer (librosa, webrtcvad) and its weights: seconds
def test_vectors_are_unit_256_dim_and_deterministic():
    from speechdis.eval.resemblyzer_system import resemblyzer_vectors

    waves = [make_wave(0.5, freq=150.0, seed=0), make_wave(2.5, freq=150.0, seed=1), make_wave(0.3, freq=400.0)]
    v = resemblyzer_vectors(waves)
    assert v.shape == (3, 256) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(resemblyzer_vectors(waves[:1]), v[:1], atol=1e-5)  # batching does not change a vector
    assert not np.allclose(v[0], v[2])


def test_evaluate_speaker_and_all_put_resemblyzer_beside_mfcc_stats(tmp_path):
    from speechdis.cli import main

    d, _ = concatenated_clips_data_dir(tmp_path / "clips")
    out = tmp_path / "spk"
    assert main(["evaluate", "speaker", "--data", str(d), "--system", "resemblyzer", "--trials", "50",
                 "--out", str(out)]) == 0
    ver = json.loads((out / "speaker.json").read_text())["verification"]
    assert set(ver) == {"mfcc-stats/embedding", "resemblyzer/embedding"}
    assert 0 <= ver["resemblyzer/embedding"]["EER"] <= 1
    model = untrained_speech_model(tmp_path / "m.pt")
    out = tmp_path / "all"
    assert main(["evaluate", "all", "--data", str(d), "--model", f"rand={model}", "--no-dtw", "--no-plots",
                 "--trials", "50", "--out", str(out)]) == 0  # installed: in by default
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["system"]: r for r in summary["final"]}
    assert list(rows)[:3] == ["mfcc-stats", "resemblyzer", "rand"]
    # A speaker encoder: verified, probed, never searched for words.
    assert rows["resemblyzer"]["EER"] is not None and rows["resemblyzer"]["MAP"] is None
    assert "resemblyzer" not in json.loads((out / "std.json").read_text())["segment_qbe"]
