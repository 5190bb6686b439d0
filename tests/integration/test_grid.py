"""Beyond one machine (issue 14): Kaldi job arrays for features and extraction through the recipe's launchers
(local, Slurm, Grid Engine; no cluster needed), and DDP training with 2 CPU processes (gloo)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import MINI_CORPUS, REPO, mini_corpus_ready

UTILS = REPO / "recipes" / "librispeech" / "utils"  # the link to recipes/utils, as the recipe calls them
MFCC = REPO / "recipes" / "librispeech" / "conf" / "mfcc.yaml"


def _env(tmp_path: Path | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    if tmp_path is not None:
        env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    return env


def _launch(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *map(str, args)], cwd=cwd, env=env or _env(), capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def three_speakers(tmp_path) -> Path:
    """Two utterances of each of three speakers of the synthetic corpus (a data dir named 'd')."""
    from speechdis.data.corpora.librispeech import prepare_librispeech
    from speechdis.data.datadir import DataDir

    if not mini_corpus_ready("test-clean-mini"):
        pytest.skip("synthetic corpus not present")
    prepare_librispeech(MINI_CORPUS, "test-clean-mini", tmp_path / "full")
    full = DataDir.load(tmp_path / "full")
    keep = [u for s in full.speakers[:3] for u in full.spk2utt[s][:2]]
    out = tmp_path / "a" / "d"
    full.subset(utts=keep).save(out)
    return out


def test_job_splits_keep_speakers_whole_and_fall_back_to_utterances():
    from speechdis.data.datadir import job_splits

    keys = ["a-1", "a-2", "a-3", "b-1", "c-1", "c-2"]
    spk = [k[0] for k in keys]
    assert job_splits(keys, spk, 2) == [["a-1", "a-2", "a-3"], ["b-1", "c-1", "c-2"]]
    assert job_splits(keys, spk, 3) == [["a-1", "a-2", "a-3"], ["b-1"], ["c-1", "c-2"]]
    assert job_splits(keys, spk, 4) == [["a-1", "a-2"], ["a-3"], ["b-1"], ["c-1", "c-2"]]  # per utterance
    assert job_splits(keys, spk, 9) == [[k] for k in keys]  # capped at the number of keys
    assert job_splits(keys, spk, 3) == job_splits(keys, spk, 3)


def test_features_job_array_through_the_local_launcher_equals_one_command(three_speakers, tmp_path):
    from speechdis.audio.features import load_feature_config
    from speechdis.cli import main as cli_main
    from speechdis.data.featjobs import IncompleteJobsError, make_features

    a = three_speakers
    b = tmp_path / "b" / "d"
    shutil.copytree(a, b)
    cfg = load_feature_config(MFCC, ["cmvn=speaker"])
    one = make_features(b, cfg, nj=3)  # one command, 3 worker processes
    assert one.nj == 3 and one.jobs_run == [1, 2, 3]

    feats = [sys.executable, "-m", "speechdis", "features", str(a), "--nj", "3", "--config", str(MFCC),
             "--set", "cmvn=speaker", "--no-progress"]
    log = tmp_path / "log" / "features.JOB.log"
    proc = _launch(UTILS / "run_local.sh", "--mem", "4G", "JOB=1:3", log, *feats, "--job", "JOB", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for k in (1, 2, 3):
        text = (tmp_path / "log" / f"features.{k}.log").read_text()
        assert f"job {k} of 3: computed" in text and text.rstrip().endswith("s") and "with status 0" in text
    assert not (a / "feats.scp").exists()  # the jobs leave the data dir alone

    # A missing job is detected (and named) by the combine, which then writes nothing.
    (a / "data" / "raw_mfcc_d.2.done").unlink()
    with pytest.raises(IncompleteJobsError, match=r"job\(s\) 2 of 3") as e:
        make_features(a, cfg, nj=3, combine=True)
    assert e.value.missing == [2] and not (a / "feats.scp").exists()
    assert cli_main(["features", str(a), "--nj", "3", "--config", str(MFCC), "--set", "cmvn=speaker",
                     "--combine", "--no-progress"]) == 1
    proc = _launch(UTILS / "run_local.sh", "JOB=2:2", log, *feats, "--job", "JOB", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert cli_main(["features", str(a), "--nj", "3", "--config", str(MFCC), "--set", "cmvn=speaker",
                     "--combine", "--no-progress"]) == 0

    # Byte-identical to the one-command run (the scp files differ only in the data dir's path).
    for rel in ["utt2num_frames", "cmvn.ark", "conf/feats.yaml"] + [
            f"data/raw_mfcc_d.{k}.{ext}" for k in (1, 2, 3) for ext in ("ark", "stats.ark")]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    for rel in ("feats.scp", "cmvn.scp"):
        assert (a / rel).read_text() == (b / rel).read_text().replace(str(b.parent.resolve()), str(a.parent.resolve()))


def test_job_beyond_the_splits_does_nothing_and_bad_job_numbers_are_refused(tiny_data_dir):
    from speechdis.data.featjobs import make_features
    from speechdis.errors import ConfigError

    rep = make_features(tiny_data_dir, nj=8, job=6)  # 4 utterances: 4 splits
    assert rep.nj == 4 and rep.jobs_run == [] and "nothing to do" in rep.summary()
    with pytest.raises(ConfigError, match="1..2"):
        make_features(tiny_data_dir, nj=2, job=3)
    with pytest.raises(ConfigError):
        make_features(tiny_data_dir, nj=2, job=1, combine=True)


_FAKE_SBATCH = r"""#!/usr/bin/env bash
# Runs an sbatch array script's tasks here, one after the other (what the cluster would do).
echo "$*" >> "$(dirname "$0")/sbatch.calls"
script="${@: -1}"
range=$(sed -n 's/^#SBATCH --array=\([0-9]*\)-\([0-9]*\).*/\1 \2/p' "$script")
read -r a b <<< "${range:-1 1}"
rc=0
for ((k = a; k <= b; k++)); do SLURM_ARRAY_TASK_ID=$k bash "$script" || rc=1; done
exit $rc
"""


def test_slurm_wrapper_script_text_and_a_run_with_a_stand_in_sbatch(tmp_path):
    log = tmp_path / "exp" / "log" / "feats.JOB.log"
    proc = _launch(UTILS / "slurm.sh", "--dry-run", "--gpu", "2", "--mem", "8G", "--time", "1:00:00",
                   "--max-jobs-run", "2", "JOB=1:4", log, "speechdis", "features", "data/my dir", "--nj", "4",
                   "--job", "JOB", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "exp" / "log" / "q" / "feats.JOB.sh"
    assert proc.stdout.split() == ["sbatch", "--export=ALL", "--ntasks=1", "--kill-on-invalid-dep=yes", "--wait",
                                   str(script)]
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    sb = [ln for ln in lines if ln.startswith("#SBATCH")]
    assert sb == ["#SBATCH --job-name=log_feats.JOB", f"#SBATCH --output={script.parent}/feats.JOB.%a.out",
                  "#SBATCH --array=1-4%2", "#SBATCH -p gpu", "#SBATCH --gres=gpu:2", "#SBATCH --mem=8G",
                  "#SBATCH --cpus-per-task=1", "#SBATCH --time=1:00:00"]
    assert f"cd {tmp_path}" in lines and "JOB=${SLURM_ARRAY_TASK_ID:-1}" in lines
    assert f"log={tmp_path}/exp/log/feats.${{JOB}}.log" in lines
    assert r"( speechdis features data/my\ dir --nj 4 --job ${JOB} ) >>\"$log\" 2>&1".replace('\\"', '"') in lines
    # Defaults from conf/slurm.conf; an option the config does not define is refused.
    proc = _launch(UTILS / "slurm.sh", "--dry-run", "x.log", "true", cwd=tmp_path)
    assert proc.returncode == 0 and "--mem=4G" in (tmp_path / "q" / "x.sh").read_text()
    conf = tmp_path / "slurm.conf"
    conf.write_text("command sbatch\noption mem=* --mem=$0\n")
    proc = _launch(UTILS / "slurm.sh", "--config", conf, "--dry-run", "--gpu", "1", "x.log", "true", cwd=tmp_path)
    assert proc.returncode == 2 and "--gpu 1: no 'option gpu=...' line" in proc.stderr

    # Submitted through a stand-in sbatch: every task's log, and the failed task named.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sbatch").write_text(_FAKE_SBATCH)
    (tmp_path / "bin" / "sbatch").chmod(0o755)
    proc = _launch(UTILS / "slurm.sh", "JOB=1:3", tmp_path / "log" / "t.JOB.log", "sh", "-c",
                   "echo task JOB; [ JOB != 3 ]", cwd=tmp_path, env=_env(tmp_path))
    assert proc.returncode == 1 and "1 / 3 failed (task(s) 3)" in proc.stderr
    assert "task 2" in (tmp_path / "log" / "t.2.log").read_text()
    assert "--wait" in (tmp_path / "bin" / "sbatch.calls").read_text()


def test_sge_wrapper_script_text(tmp_path):
    log = tmp_path / "log" / "extract.JOB.log"
    proc = _launch(UTILS / "sge.sh", "--dry-run", "--num-threads", "4", "--max-jobs-run", "3", "JOB=1:5", log,
                   "speechdis", "extract", "--job", "JOB", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "log" / "q" / "extract.JOB.sh"
    assert proc.stdout.split()[0] == "qsub" and proc.stdout.split()[-3:] == ["-sync", "y", str(script)]
    text = script.read_text()
    for line in ("#$ -t 1:5", "#$ -tc 3", "#$ -pe smp 4", "#$ -l mem_free=4G,ram_free=4G", "#$ -l h_rt=24:00:00",
                 "JOB=${SGE_TASK_ID:-1}", "( speechdis extract --job ${JOB} ) >>\"$log\" 2>&1"):
        assert line in text.splitlines(), line


def test_cmd_sh_selects_the_launcher_also_through_the_speechcommands_link(tmp_path):
    for recipe in ("librispeech", "speechcommands"):
        cmd = REPO / "recipes" / recipe / "cmd.sh"
        if not cmd.exists():
            continue
        for name, script in (("local", "run_local.sh"), ("slurm", "slurm.sh"), ("sge", "sge.sh")):
            out = subprocess.run(["bash", "-c", f'. "{cmd}" && echo "$train_cmd" && echo "$cuda_cmd"'],
                                 env=dict(os.environ, SPEECHDIS_CMD=name), capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            first = out.stdout.split()[0]
            assert first == str(UTILS / script) and Path(first).is_file()
    bad = subprocess.run(["bash", "-c", f'. "{REPO}/recipes/librispeech/cmd.sh"'],
                         env=dict(os.environ, SPEECHDIS_CMD="pbs"), capture_output=True, text=True)
    assert bad.returncode != 0 and "local, slurm or sge" in bad.stderr


def test_extract_job_array_combines_to_the_one_command_result(tmp_path_factory, tmp_path):
    from speechdis.cli import main as cli_main
    from speechdis.data.featjobs import IncompleteJobsError
    from speechdis.inference.archive import load_archive
    from speechdis.inference.extract import combine_job_parts
    from speechdis.inference.model import load_model
    from tests.helpers import tiny_setup

    s = tiny_setup(tmp_path_factory)
    base = ["extract", "--model", str(s.disentangled), str(s.data), "--no-progress", "--device", "cpu"]
    assert cli_main(base + ["--out", str(tmp_path / "one.npz")]) == 0
    out = tmp_path / "parts" / "emb"
    for k in (1, 3):
        assert cli_main(base + ["--out", str(out), "--nj", "3", "--job", str(k)]) == 0
    model = load_model(s.disentangled, device="cpu")
    with pytest.raises(IncompleteJobsError, match=r"job\(s\) 2 of 3") as e:
        combine_job_parts(model, [s.data], out, 3)
    assert e.value.missing == [2]
    assert cli_main(base + ["--out", str(out), "--nj", "3", "--job", "2"]) == 0
    parts = [load_archive(tmp_path / "parts" / f"emb.split3.{k}.npz") for k in (1, 2, 3)]
    spk_sets = [set(p.speakers) for p in parts]  # 4 speakers, 3 jobs: whole speakers per job
    assert sum(map(len, spk_sets)) == len(set().union(*spk_sets)) == 4
    assert cli_main(base + ["--out", str(out), "--nj", "3", "--combine", "--format", "both"]) == 0
    one, comb = load_archive(tmp_path / "one.npz"), load_archive(tmp_path / "parts" / "emb.npz")
    assert comb.ids == one.ids and comb.speakers == one.speakers and comb.words == one.words
    for k in one.vectors:
        np.testing.assert_allclose(comb.vectors[k], one.vectors[k], rtol=1e-5, atol=1e-6)
    assert (tmp_path / "parts" / "emb.speaker.scp").exists()


def test_ddp_training_with_two_cpu_processes_is_repeatable(tmp_path_factory, tmp_path):
    import yaml

    from tests.helpers import tiny_config_dict, tiny_setup

    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun not installed")
    s = tiny_setup(tmp_path_factory)
    cfg = tiny_config_dict("disentangled")
    cfg["train"]["steps"] = 3
    conf = tmp_path / "ddp.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    curves = []
    for run in ("a", "b"):
        out = tmp_path / run
        proc = subprocess.run(
            [str(torchrun), "--standalone", "--nnodes", "1", "--nproc-per-node", "2", "-m", "speechdis", "train",
             "--config", str(conf), "--data", str(s.data), "--out", str(out)],
            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        recs = [json.loads(ln) for ln in (out / "train_log.jsonl").read_text().splitlines()]
        curves.append([{k: v for k, v in r.items() if k.startswith(("loss/", "critic/"))} for r in recs
                       if r["split"] == "train"])
        assert (out / "model.pt").exists()
    assert len(curves[0]) == 3 and curves[0] == curves[1]


def test_recipe_features_stage_as_a_slurm_job_array(tmp_path, tiny_corpus):
    """run.sh stage 1 with SPEECHDIS_CMD=slurm: one array of --nj tasks (through a stand-in sbatch), then the
    combine; the data dir ends up with features for every utterance."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sbatch").write_text(_FAKE_SBATCH)
    (tmp_path / "bin" / "sbatch").chmod(0o755)
    env = dict(_env(tmp_path), SPEECHDIS_CMD="slurm")
    exp = tmp_path / "exp"
    proc = subprocess.run(
        ["bash", str(REPO / "recipes" / "librispeech" / "run.sh"), "--corpus", str(tiny_corpus.root),
         "--train-subset", tiny_corpus.subset, "--test-subset", tiny_corpus.subset, "--exp", str(exp),
         "--nj", "2", "--stage", "0", "--stop-stage", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    logs = exp / "log"
    name = f"features_{tiny_corpus.subset}"
    for k in (1, 2):
        assert "with status 0" in (logs / f"{name}.{k}.log").read_text()
    assert "2 combined" in (logs / f"{name}.log").read_text()
    assert "#SBATCH --array=1-2" in (logs / "q" / f"{name}.JOB.sh").read_text()
    assert len((tmp_path / "data" / tiny_corpus.subset / "feats.scp").read_text().splitlines()) == 4
