"""Recipe option checks that fail before any work (issue 23: `--stage 9` printed "done: stages 9-6 in 0s")."""
from __future__ import annotations

import subprocess

import pytest

from tests.helpers import REPO


@pytest.mark.parametrize("recipe", ["librispeech", "speechcommands", "english"])
@pytest.mark.parametrize("argv,says", [(["--stage", "12"], "after --stop-stage"),
                                       (["--stage", "3", "--stop-stage", "1"], "after --stop-stage"),
                                       (["--stage", "x"], "stage numbers")])
def test_stage_after_stop_stage_is_an_error(recipe, argv, says, tmp_path):
    r = subprocess.run(["bash", str(REPO / "recipes" / recipe / "run.sh"), *argv, "--exp", str(tmp_path / "exp")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and says in r.stderr, r.stderr
    assert "done: stages" not in r.stdout and not (tmp_path / "exp").exists()
