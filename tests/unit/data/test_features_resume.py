"""Issue 22 item 6: a features rerun recomputes a job whose audio changed (the marker fingerprints every
input, not only skipped ones); item 5: features with NaN values are skipped naming the utterance;
item 7: --allow-upsample is part of what a rerun compares."""
from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from speechdis.audio.features import FeatureConfig
from speechdis.data.datadir import DataDir
from speechdis.data.featjobs import FeatsReader, make_features
from tests.helpers import write_wave


def _data_dir(tmp_path, entries):
    d = tmp_path / "d"
    DataDir(utt2spk={u: u.split("-")[0] for u in entries}, wav_scp=entries).save(d)
    return d


def test_a_changed_audio_file_is_recomputed(tmp_path):
    a = write_wave(tmp_path / "s-a.wav", 0.4, freq=200, seed=0)
    b = write_wave(tmp_path / "s-b.wav", 0.4, freq=300, seed=1)
    d = _data_dir(tmp_path, {"s-a": str(a), "s-b": str(b)})
    make_features(d, FeatureConfig())
    before = FeatsReader(d)["s-b"].copy()
    assert make_features(d, FeatureConfig()).jobs_resumed == [1]  # nothing changed: resumed
    write_wave(b, 0.4, freq=900, seed=5)  # same length, other audio
    st = os.stat(b)
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    rep = make_features(d, FeatureConfig())
    assert rep.jobs_run == [1] and rep.jobs_resumed == []
    assert not np.allclose(FeatsReader(d)["s-b"], before)
    write_wave(b, 0.6, freq=900, seed=5)  # another length
    assert make_features(d, FeatureConfig()).jobs_run == [1]


def test_the_files_a_pipe_command_names_are_fingerprinted_too(tmp_path):
    a = write_wave(tmp_path / "s-a.wav", 0.4, freq=200)
    d = _data_dir(tmp_path, {"s-a": f"cat {a} |"})
    make_features(d, FeatureConfig())
    assert make_features(d, FeatureConfig()).jobs_resumed == [1]
    write_wave(a, 0.5, freq=500)
    assert make_features(d, FeatureConfig()).jobs_run == [1]


def test_allow_upsample_changes_what_a_rerun_compares(tmp_path):
    low = tmp_path / "s-low.wav"
    sf.write(str(low), np.full(20, 0.1, dtype=np.float32), 1)
    ok = write_wave(tmp_path / "s-ok.wav", 0.4)
    d = _data_dir(tmp_path, {"s-low": str(low), "s-ok": str(ok)})
    rep = make_features(d, FeatureConfig())
    assert "implausible" in rep.skipped["s-low"]
    rep = make_features(d, FeatureConfig(), allow_upsample=True)
    assert rep.jobs_run == [1] and not rep.skipped and "s-low" in FeatsReader(d)


def test_non_finite_features_skip_the_utterance_naming_it(tmp_path, monkeypatch):
    from speechdis.data import featjobs

    a = write_wave(tmp_path / "s-a.wav", 0.4, freq=200)
    b = write_wave(tmp_path / "s-b.wav", 0.6, freq=300)
    d = _data_dir(tmp_path, {"s-a": str(a), "s-b": str(b)})
    real = featjobs.compute_features

    def nan_for_long(wave, cfg, rng=None):  # a front end that overflows on one input
        mat = real(wave, cfg, rng=rng)
        if len(wave) > 8000:
            mat[2, 0] = np.nan
        return mat

    monkeypatch.setattr(featjobs, "compute_features", nan_for_long)
    rep = make_features(d, FeatureConfig())
    assert list(rep.skipped) == ["s-b"] and "NaN or infinite values (frame 2" in rep.skipped["s-b"]
    assert list(FeatsReader(d)) == ["s-a"]
