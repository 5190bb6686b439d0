"""Reliability cases of issue 10 (feature jobs): no silent corruption, no unsafe loading, no orphans,
one-line errors."""
from __future__ import annotations

import pytest


# ------------------------------------------------------------------------------------------ feature jobs
def _wav_dir(tmp_path, n=4, missing=()):
    from speechdis.data.datadir import DataDir
    from tests.helpers import write_wave

    audio, data = tmp_path / "audio", tmp_path / "data" / "d"
    entries = {}
    for k in range(n):
        utt = f"s{k % 2}-u{k}"
        p = audio / f"{utt}.wav"
        if utt not in missing:
            write_wave(p, 0.4, freq=200.0 + 50 * k, seed=k)
        entries[utt] = str(p)
    DataDir(utt2spk={u: u.split("-")[0] for u in entries}, wav_scp=entries).save(data)
    return data, entries


def test_interrupted_rerun_with_new_config_leaves_no_mixed_index(tmp_path, monkeypatch):
    """1: a rerun with another config, killed after job 1, must not leave the old feats.scp/config."""
    from speechdis.audio.features import FeatureConfig
    from speechdis.data import featjobs
    from speechdis.errors import DataDirError

    data, _ = _wav_dir(tmp_path)
    featjobs.make_features(data, FeatureConfig(), nj=2)
    assert (data / "feats.scp").exists()

    def killed_after_job_1(pending, results, progress):
        results[pending[0].index] = featjobs._run_job(pending[0], progress)
        raise KeyboardInterrupt  # the kill, after job 1 rewrote its ark

    monkeypatch.setattr(featjobs, "_run_parallel", killed_after_job_1)
    with pytest.raises(KeyboardInterrupt):
        featjobs.make_features(data, FeatureConfig(window="hamming"), nj=2)
    assert not (data / "feats.scp").exists() and not (data / "conf" / "feats.yaml").exists()
    with pytest.raises(DataDirError, match="run 'speechdis features"):
        featjobs.FeatsReader(data)
    monkeypatch.undo()
    rep = featjobs.make_features(data, FeatureConfig(window="hamming"), nj=2)
    assert rep.jobs_resumed == [1] and rep.jobs_run == [2] and rep.done == 4
    assert featjobs.FeatsReader(data).config.window == "hamming"


def test_skips_do_not_outlive_their_cause(tmp_path):
    """5: a file missing at the first run is used once restored, without --force."""
    from speechdis.data.featjobs import make_features
    from tests.helpers import write_wave

    data, entries = _wav_dir(tmp_path, missing=("s1-u3",))
    rep = make_features(data, nj=2)
    assert list(rep.skipped) == ["s1-u3"] and rep.done == 3
    rep = make_features(data, nj=2)  # nothing changed: the skip stands, nothing redone
    assert list(rep.skipped) == ["s1-u3"] and rep.jobs_run == []
    write_wave(tmp_path / "audio" / "s1-u3.wav", 0.4)
    rep = make_features(data, nj=2)
    assert rep.skipped == {} and rep.done == 4 and rep.jobs_run == [2] and rep.jobs_resumed == [1]
    assert not (data / "feats_skipped.txt").exists()


def test_wav_entries_missing_from_utt2spk_are_reported(tmp_path):
    """8: wav.scp ids that utt2spk lacks are listed as skipped, not silently dropped."""
    from speechdis.data.featjobs import make_features

    data, _ = _wav_dir(tmp_path)
    lines = (data / "utt2spk").read_text().splitlines()
    (data / "utt2spk").write_text("\n".join(lines[:3]) + "\n")
    rep = make_features(data, nj=1)
    assert rep.utts == 4 and rep.done == 3
    assert "not in utt2spk" in rep.skipped["s1-u3"]
    assert "3/4 utterances" in rep.summary()
    assert "s1-u3" in (data / "feats_skipped.txt").read_text()


def test_stale_tmp_files_of_killed_writes_are_removed(tmp_path):
    """10 (features): temp files of killed writes are cleaned by the next run; others' files are kept."""
    from speechdis.data.featjobs import make_features

    data, _ = _wav_dir(tmp_path)
    feat_dir = data / "data"
    feat_dir.mkdir(parents=True)
    stale = [feat_dir / ".raw_mfcc_d.1.ark.k2j3h4.tmp", feat_dir / ".raw_fbank_d.2.stats.ark.abc.tmp",
             data / ".feats.scp.x1y2.tmp", data / ".cmvn.ark.zz.tmp"]
    other = feat_dir / ".raw_mfcc_other_d.1.ark.q.tmp"  # another data dir's write in progress
    for p in stale + [other]:
        p.write_bytes(b"x" * 100)
    make_features(data, nj=2)
    assert not any(p.exists() for p in stale) and other.exists()


_ORPHAN_SCRIPT = r"""
import os, sys, time
from speechdis.data import featjobs
real = featjobs._run_job
def slow(job, tick=None):
    with open(os.path.join(sys.argv[2], f"pid.{job.index}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    return real(job, tick)
featjobs._run_job = slow
featjobs.make_features(sys.argv[1], nj=2)
"""


def test_workers_die_with_a_killed_parent(tmp_path):
    """9: killing the parent of `features --nj 2` must not leave its workers running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    data, _ = _wav_dir(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(data), str(marks)])
    try:
        deadline = time.time() + 60
        while len(list(marks.glob("pid.*"))) < 2 and time.time() < deadline:
            time.sleep(0.1)
        pids = [int(p.read_text()) for p in marks.glob("pid.*")]
        assert len(pids) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)

        def alive(pid):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            # a zombie (exited, not yet reaped by init) counts as dead
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().split(")")[-1].split()[0] != "Z"
            except FileNotFoundError:
                return False

        deadline = time.time() + 10
        while any(alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in pids)
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in marks.glob("pid.*"):
            try:
                os.kill(int(p.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
