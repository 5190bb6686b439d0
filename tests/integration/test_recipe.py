"""The Kaldi-style recipe end to end on a tiny corpus (3 speakers of the synthetic corpus, tiny models, 3 steps)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from speechdis.training.checkpoint import load_checkpoint
from tests.helpers import MINI_CORPUS, REPO, tiny_config_dict

RUN = REPO / "recipes" / "librispeech" / "run.sh"


def _tiny_corpus(root: Path) -> Path:
    """3 speakers x 1 chapter of test-clean-mini as subset 'tiny' (file symlinks: no copying; directory
    symlinks would not be searched for alignments)."""
    sub = root / "corpus" / "tiny"
    for spk in ("1017", "1018", "1019"):
        chapter = sorted((MINI_CORPUS / "test-clean-mini" / spk).iterdir())[0]
        (sub / spk / chapter.name).mkdir(parents=True)
        for f in chapter.iterdir():
            (sub / spk / chapter.name / f.name).symlink_to(f)
    return root / "corpus"


def _recipe_env() -> dict:
    # The test already runs inside the project's venv: put it first on PATH so path.sh finds it set up.
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_recipe_runs_every_stage_and_writes_every_report(tmp_path):
    corpus = _tiny_corpus(tmp_path)
    confs = {}
    for kind in ("baseline", "disentangled"):
        cfg = tiny_config_dict(kind)
        cfg["train"]["steps"] = 50  # overridden by --steps below
        confs[kind] = tmp_path / f"{kind}.yaml"
        confs[kind].write_text(yaml.safe_dump(cfg))
    exp = tmp_path / "exp"
    base = ["bash", str(RUN), "--corpus", str(corpus), "--train-subset", "tiny", "--test-subset", "tiny",
            "--exp", str(exp), "--train-config-baseline", str(confs["baseline"]),
            "--train-config-disentangled", str(confs["disentangled"]), "--nj", "1", "--device", "cpu"]
    cmd = base + ["--steps", "3", "--dtw-budget", "2", "--eval-opts", "--trials 300 --tsne-points 60",
                  "--feat-config", str(REPO / "recipes" / "librispeech" / "conf" / "mfcc.yaml")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_recipe_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for s in range(7):
        assert f"=== stage {s}:" in out
    # The final table is printed by stage 6.
    table = out.split("=== stage 6")[1]
    for row in ("| DTW", "| baseline", "| disentangled", "| chance"):
        assert row in table

    data = tmp_path / "data" / "tiny"
    assert (data / "feats.scp").exists() and (data / "word_segments").exists()
    for m in ("baseline", "disentangled"):
        assert json.loads((exp / m / "train_log.jsonl").read_text().splitlines()[-1])["step"] == 3
        assert (exp / m / "model.pt").exists() and (exp / m / "feats.yaml").exists()
        assert (exp / "embeddings" / f"{m}_tiny.npz").exists()
        assert (exp / "log" / f"train_{m}.log").exists()
    assert (exp / "embeddings" / "disentangled_tiny.speaker.scp").exists()
    ev = exp / "eval_tiny"
    for name in ("std", "speaker", "probes", "summary"):
        assert json.loads((ev / f"{name}.json").read_text())
        assert (ev / f"{name}.md").read_text().startswith(f"# {name}")
    rows = {r["system"]: r for r in json.loads((ev / "summary.json").read_text())["final"]}
    assert set(rows) >= {"DTW", "mfcc-stats", "baseline", "disentangled", "chance"}
    assert 0 <= rows["disentangled"]["MAP"] <= 1 and rows["DTW"]["EER"] is None
    assert rows["baseline"]["spk probe (spk)"] == rows["baseline"]["spk probe (phon/emb)"]  # one vector, both roles
    assert rows["chance"]["spk probe (spk)"] == pytest.approx(1 / 3, abs=0.1)
    spk = json.loads((ev / "speaker.json").read_text())["verification"]
    # (Resemblyzer's row is there where it is installed.)
    assert set(spk) - {"resemblyzer/embedding"} == {"mfcc-stats/embedding", "baseline/embedding",
                                                    "disentangled/speaker", "disentangled/phonetic"}
    assert rows["mfcc-stats"]["EER"] is not None and 0 <= rows["mfcc-stats"]["x-spk MAP"] <= 1  # both baselines
    pngs = {p.name for p in ev.glob("*.png")}
    assert {"det_speaker.png", "loss_baseline.png",
            "loss_disentangled.png", "tsne_disentangled_phonetic_by_word.png",
            "tsne_disentangled_speaker_by_speaker.png", "tsne_baseline_embedding_by_speaker.png"} <= pngs

    # Rerunning a training stage alone resumes from its checkpoint; --steps extends the run.
    again = subprocess.run(base + ["--steps", "4", "--stage", "2", "--stop-stage", "2"],
                           cwd=tmp_path, env=_recipe_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming baseline" in again.stdout
    assert json.loads((exp / "baseline" / "train_log.jsonl").read_text().splitlines()[-1])["step"] == 4

    # Stage 7 (asked for explicitly): both models per seed, evaluated like stage 5, one table over seeds.
    seeds = subprocess.run(base + ["--steps", "3", "--stage", "7", "--stop-stage", "7", "--seeds", "0 1",
                                   "--dtw-budget", "2"],
                           cwd=tmp_path, env=_recipe_env(), capture_output=True, text=True, timeout=300)
    assert seeds.returncode == 0, seeds.stdout[-3000:] + seeds.stderr[-3000:]
    seed_eval = exp / "seeds" / "eval_tiny"
    probes = json.loads((seed_eval / "probes.json").read_text())
    assert {r["model"] for r in probes["probes"]} - {"resemblyzer"} == {
        "mfcc-stats", "baseline_seed0", "baseline_seed1", "disentangled_seed0", "disentangled_seed1"}
    summary = {(r["model"], r["target"], r["from"]): r for r in probes["seed_summary"]}
    assert summary[("disentangled", "speaker", "phonetic")]["seeds"] == 2
    std = json.loads((seed_eval / "std.json").read_text())
    assert {"baseline_seed1", "disentangled_seed1"} <= set(std["segment_qbe"]) & set(std["segment_qbe_cross_speaker"])
    assert "disentangled_seed1/speaker" in json.loads((seed_eval / "speaker.json").read_text())["verification"]
    # the pooled table: MAP, cross-speaker MAP, EER and probes as mean ± std over the 2 seeds
    table = (seed_eval / "seed_table.md").read_text()
    assert table in seeds.stdout + "\n"
    header = next(line for line in table.splitlines() if line.startswith("| system"))
    for col in ("x-spk MAP", "| MAP |", "EER spk vec %", "spk probe content %", "word probe content %"):
        assert col in header
    row = next(line for line in table.splitlines() if line.startswith("| disentangled (2 seeds) |"))
    assert row.count(" ± ") >= 5
    # different seeds give different models
    w0, w1 = (load_checkpoint(exp / "seeds" / f"disentangled_seed{k}" / "model.pt")["model"] for k in (0, 1))
    assert any((w0[k] != w1[k]).any() for k in w0)


def test_recipe_options_are_checked(tmp_path):
    bad = subprocess.run(["bash", str(RUN), "--no-such-option", "1"], cwd=tmp_path, env=_recipe_env(),
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "unknown option --no-such-option" in bad.stderr
    helped = subprocess.run(["bash", str(RUN), "--help"], cwd=tmp_path, env=_recipe_env(),
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--train-subset" in helped.stderr
    missing = subprocess.run(["bash", str(RUN), "--corpus", str(tmp_path / "nothing"), "--stop-stage", "0",
                              "--exp", str(tmp_path / "exp")], cwd=tmp_path, env=_recipe_env(),
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "set --corpus" in missing.stderr


@pytest.mark.parametrize("script", ["recipes/mini/run.sh", "recipes/librispeech/run.sh",
                                    "recipes/fsdd/run.sh", "recipes/librispeech/path.sh",
                                    "recipes/librispeech/cmd.sh", "recipes/utils/run_local.sh",
                                    "recipes/utils/parse_options.sh", "recipes/utils/grid.sh",
                                    "recipes/utils/slurm.sh", "recipes/utils/sge.sh",
                                    "recipes/utils/common.sh", "recipes/speechcommands/run.sh",
                                    "bench/gpu_checks.sh"])
def test_recipe_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(REPO / script)]).returncode == 0


@pytest.mark.parametrize("script", ["recipes/speechcommands/run.sh", "recipes/english/run.sh",
                                    "recipes/librispeech/run.sh"])
def test_recipe_help_lists_its_stages_and_describes_options(tmp_path, script):
    helped = subprocess.run(["bash", str(REPO / script), "--help"], cwd=tmp_path, env=_recipe_env(),
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    lines = helped.stderr.splitlines()
    # the stage list from the script's header comment, then each option with its default and description
    assert any(line.lstrip().startswith("0 ") for line in lines), helped.stderr
    stage = next(line for line in lines if line.startswith("  --stage "))
    assert "(0)" in stage and "first stage to run" in stage
    nj = next(line for line in lines if line.startswith("  --nj "))
    assert nj.split(")", 1)[1].strip(), nj  # a description after the default
