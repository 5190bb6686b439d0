"""Issue 22 item 3: one writer per output. A second extract/train/features/image train into an output that
another process is writing fails at once, naming the holder's pid; a killed holder leaves no stale lock."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from speechdis.cli import main
from speechdis.errors import OutputLockedError
from speechdis.fileio import output_lock
from tests.helpers import write_wave

_HOLD = """
import sys
from speechdis.fileio import output_lock
target, directory, shared = sys.argv[1], sys.argv[2] == "dir", sys.argv[3] == "shared"
with output_lock(target, "speechdis holder", directory=directory, shared=shared):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes it
"""


class Holder:
    """Another process holding the lock on an output until closed."""

    def __init__(self, target, directory: bool, shared: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        self.proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(target), "dir" if directory else "file",
                                      "shared" if shared else "excl"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout.readline().strip() == "locked"

    def close(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_second_train_into_one_out_fails_naming_the_holder(tmp_path, capsys):
    exp = tmp_path / "exp"
    holder = Holder(exp, directory=True)
    try:
        rc = main(["train", "--data", str(tmp_path / "data"), "--out", str(exp)])
        err = _one_line(capsys)
        assert rc == 1 and f"{exp} is being written by another process (pid {holder.proc.pid}: speechdis holder)" in err
    finally:
        holder.close()
    assert not exp.exists()  # released, and the directory it made for the lock is gone again


def test_second_image_train_fails_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "img"
    holder = Holder(out, directory=True)
    try:
        rc = main(["image", "train", "dann", "--out", str(out), "--steps", "1"])
        assert rc == 1 and f"pid {holder.proc.pid}" in _one_line(capsys)
        assert not (out / "model.pt").exists()
    finally:
        holder.close()


def test_second_extract_into_one_out_fails_before_loading_anything(tmp_path, capsys):
    wav = write_wave(tmp_path / "a.wav", 0.5)
    holder = Holder(tmp_path / "vectors", directory=False)  # the stem: x.npz and the x.<kind>.ark files
    try:
        for fmt in ("npz", "ark"):
            rc = main(["extract", "--model", str(tmp_path / "no-model"), str(wav), "--out",
                       str(tmp_path / "vectors.npz"), "--format", fmt, "--no-progress"])
            assert rc == 1 and f"pid {holder.proc.pid}" in _one_line(capsys)
    finally:
        holder.close()


def test_grid_jobs_share_the_output_but_combine_waits_for_them(tmp_path, capsys):
    wav = write_wave(tmp_path / "a.wav", 0.5)
    out = tmp_path / "vectors.npz"
    job = Holder(tmp_path / "vectors", directory=False, shared=True)
    try:
        # another job of the same array is not refused by the shared lock (it fails later: no model)
        rc = main(["extract", "--model", str(tmp_path / "no-model"), str(wav), "--out", str(out), "--nj", "2",
                   "--job", "2", "--no-progress"])
        assert rc == 1 and "being written" not in _one_line(capsys)
        rc = main(["extract", "--model", str(tmp_path / "no-model"), str(wav), "--out", str(out), "--nj", "2",
                   "--combine", "--no-progress"])
        assert rc == 1 and "held shared by grid jobs" in _one_line(capsys)
    finally:
        job.close()


def test_features_lock_the_data_dir(tmp_path, capsys):
    from speechdis.data.datadir import DataDir

    d = tmp_path / "d"
    wav = write_wave(tmp_path / "s-a.wav", 0.5)
    DataDir(utt2spk={"s-a": "s"}, wav_scp={"s-a": str(wav)}).save(d)
    holder = Holder(d, directory=True)
    try:
        rc = main(["features", str(d), "--no-progress"])
        assert rc == 1 and f"pid {holder.proc.pid}" in _one_line(capsys)
        assert not (d / "feats.scp").exists()
    finally:
        holder.close()
    assert main(["features", str(d), "--no-progress"]) == 0 and (d / "feats.scp").exists()
    assert not (d / ".lock").exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = Holder(tmp_path / "out", directory=True)
    with pytest.raises(OutputLockedError):
        with output_lock(tmp_path / "out", directory=True):
            pass
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(timeout=30)
    with output_lock(tmp_path / "out", "me", directory=True) as path:
        assert path.read_text() == f"{os.getpid()} me\n"
