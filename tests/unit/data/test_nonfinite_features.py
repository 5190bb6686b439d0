"""Issue 22 items 5 and 10: features read from a data dir with NaN frames are refused naming the utterance
(train and evaluate stop in one line, extract skips and counts it), never turned into NaN vectors or a
FloatingPointError; evaluate reads feats.scp as plain files unless --allow-commands."""
from __future__ import annotations

import numpy as np
import pytest

from speechdis.cli import main
from speechdis.errors import DataDirError
from tests.helpers import untrained_speech_model

BAD = "11-100-0001"


@pytest.fixture
def nan_data_dir(tiny_data_dir):
    import kaldiio

    from speechdis.audio.features import FeatureConfig
    from speechdis.data.featjobs import FeatsReader, make_features
    from speechdis.data.tables import read_feats_scp, write_feats_scp

    make_features(tiny_data_dir, FeatureConfig())
    mat = FeatsReader(tiny_data_dir).raw(BAD).copy()
    mat[4, 2] = np.nan
    ark = tiny_data_dir / "data" / "nan.ark"
    kaldiio.save_ark(str(ark), {BAD: mat}, scp=str(tiny_data_dir / "data" / "nan.scp"))
    scp = read_feats_scp(tiny_data_dir / "feats.scp")
    scp[BAD] = read_feats_scp(tiny_data_dir / "data" / "nan.scp")[BAD]
    write_feats_scp(tiny_data_dir / "feats.scp", scp)
    return tiny_data_dir


def test_reading_nan_features_names_the_utterance(nan_data_dir):
    from speechdis.data.featjobs import FeatsReader
    from speechdis.eval.runner import load_eval_data

    reader = FeatsReader(nan_data_dir)
    with pytest.raises(DataDirError, match=rf"features of '{BAD}' have NaN or infinite values \(frame 4 of"):
        reader[BAD]
    with pytest.raises(DataDirError, match=f"'{BAD}'"):
        load_eval_data(nan_data_dir, min_frames=1)


def test_training_on_nan_features_is_one_line_naming_the_utterance(nan_data_dir, tmp_path, capsys):
    rc = main(["train", "--data", str(nan_data_dir), "--out", str(tmp_path / "exp"), "--set", "data.preload=true",
               "--set", "data.valid_speakers=0", "--set", "data.speakers_per_batch=2", "--set", "train.steps=1",
               "--set", "model.hidden=8", "--set", "model.decoder_hidden=8", "--set", "data.min_frames=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and f"features of '{BAD}' have NaN" in err


def test_extract_skips_the_utterance_and_counts_it(nan_data_dir, tmp_path, capsys):
    model = untrained_speech_model(tmp_path / "model.pt")
    out = tmp_path / "v.npz"
    assert main(["extract", "--model", str(model), str(nan_data_dir), "--out", str(out), "--no-progress"]) == 0
    assert f"features of '{BAD}' have NaN" in capsys.readouterr().err
    z = np.load(out)
    assert BAD not in set(z["utts"].tolist()) and np.isfinite(z["phonetic"]).all()


def test_embedding_nan_features_is_refused():
    import speechdis
    from speechdis.errors import AudioError

    feats = np.zeros((10, 39), dtype=np.float32)
    feats[3, 0] = np.inf
    model = speechdis.load_model("speechcommands", device="cpu")
    with pytest.raises(AudioError, match="segment 0: features have NaN or infinite values"):
        model.embed_features([feats])


def test_evaluate_runs_no_feats_scp_command_unless_allowed(tiny_data_dir, tmp_path):
    from speechdis.audio.features import FeatureConfig
    from speechdis.data.featjobs import make_features
    from speechdis.data.tables import read_feats_scp, write_feats_scp
    from speechdis.eval.runner import load_eval_data

    make_features(tiny_data_dir, FeatureConfig())
    marker = tmp_path / "ran"
    scp = read_feats_scp(tiny_data_dir / "feats.scp")
    scp[BAD] = f"touch {marker} && copy-feats {scp[BAD]} - |"
    write_feats_scp(tiny_data_dir / "feats.scp", scp)
    with pytest.raises(DataDirError, match=rf"feats.scp:2: '{BAD}' is a shell command.*--allow-commands"):
        load_eval_data(tiny_data_dir, min_frames=1)
    assert not marker.exists()
