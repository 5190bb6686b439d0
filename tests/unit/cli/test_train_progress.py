"""Training progress lines name the run and give step x/N and an ETA (issue 23: interleaved nameless lines)."""
from __future__ import annotations

from speechdis.cli.train import progress_line


def test_progress_line_names_the_run_with_step_and_eta():
    assert progress_line("disentangled", 200, 800, elapsed=60.0, steps_done=200) == \
        "[disentangled] step 200/800 (25%), ETA 0:03:00"
    # A resumed run: the pace is that of the steps this run made.
    assert progress_line("b", 700, 800, elapsed=10.0, steps_done=100) == "[b] step 700/800 (88%), ETA 0:00:10"
    assert progress_line("b", 0, 800, elapsed=0.0, steps_done=0).endswith("ETA ?")
