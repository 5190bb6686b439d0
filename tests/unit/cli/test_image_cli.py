import json
import subprocess

import pytest
import torch

from speechdis.cli import main
from tests.helpers import REPO


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_image_train_evaluate_table(tmp_path, capsys):
    out = tmp_path / "exp" / "dann"
    assert main(["image", "train", "dann", "--out", str(out), "--steps", "2", "--seed", "1",
                 "--set", "width=8", "--set", "target=inverted"]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown["model"] == "dann" and "dann_target_accuracy" in shown
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 1 and metrics["target"] == "inverted" and (out / "model.pt").is_file()
    assert main(["image", "evaluate", str(out), "--out", str(tmp_path / "re")]) == 0
    assert json.loads((tmp_path / "re" / "metrics.json").read_text())["dann_target_accuracy"] == \
        metrics["dann_target_accuracy"]  # same weights, same data: same numbers
    capsys.readouterr()
    md = tmp_path / "metrics.md"
    assert main(["image", "table", str(tmp_path / "exp"), "--out", str(md)]) == 0
    table = capsys.readouterr().out
    assert table == md.read_text() and "| dann | dann_target_accuracy |" in table and "domains.png" in table


def test_image_list(capsys):
    assert main(["image", "list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["infogan", "vaegan", "bigan", "triplegan", "dann", "edit", "crossdomain", "twostage"]


@pytest.mark.parametrize("argv, message", [
    (["image", "train", "gan9000", "--out", "{tmp}"], "unknown image model"),
    (["image", "train", "dann", "--out", "{tmp}", "--set", "width"], "KEY=VALUE"),
    (["image", "train", "dann", "--out", "{tmp}", "--set", "lr=fast"], "expected a number"),
    (["image", "evaluate", "{tmp}"], "no checkpoint"),
    (["image", "table", "{tmp}"], "no */metrics.json"),
])
def test_image_errors_are_one_line_messages(argv, message, tmp_path, capsys):
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_recipe_smoke(tmp_path):
    script = REPO / "recipes" / "images" / "run.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    marker = REPO / ".venv" / ".speechdis-installed"
    if not marker.is_file() or (REPO / "pyproject.toml").stat().st_mtime > marker.stat().st_mtime:
        pytest.skip("the recipe would (re)install the environment first")
    exp = tmp_path / "exp"
    res = subprocess.run(["bash", str(script), "--steps", "2", "--models", "crossdomain", "--exp", str(exp)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (exp / "crossdomain" / "metrics.json").is_file() and (exp / "crossdomain" / "swap_grid.png").is_file()
    table = (exp / "metrics.md").read_text()
    assert "| crossdomain | probe_digit_from_shared |" in table and "Recipe wall time" in table
    assert table in res.stdout  # the recipe prints the combined table at the end
    # A rerun keeps the finished model and trains only the extra seed; the table then has mean ± std.
    again = subprocess.run(["bash", str(script), "--steps", "2", "--models", "crossdomain", "--exp", str(exp),
                            "--seeds", "1"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "crossdomain (seed 0) already trained" in again.stdout
    assert (exp / "crossdomain" / "seed1" / "metrics.json").is_file()
    assert "| crossdomain | seeds | 0, 1 |" in (exp / "metrics.md").read_text()
    bad = subprocess.run(["bash", str(script), "--nj", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--nj" in bad.stderr
    no_mnist = subprocess.run(["bash", str(script), "--dataset", "mnist", "--mnist-dir", str(tmp_path / "none")],
                              capture_output=True, text=True)
    assert no_mnist.returncode == 2 and "train-images-idx3-ubyte.gz" in no_mnist.stderr
