"""Issue 22 item 2: extract --nj N --combine merges only parts made from these inputs by this model with
these options, as the jobs wrote them; leftovers are removed after a successful combine."""
from __future__ import annotations

import pytest

from speechdis.cli import main
from tests.helpers import untrained_speech_model, write_wave


@pytest.fixture
def setup(tmp_path):
    audio = tmp_path / "audio"
    for k in range(4):
        write_wave(audio / f"u{k}.wav", 0.4, freq=200 + 60 * k, seed=k)
    models = {"a": untrained_speech_model(tmp_path / "a" / "model.pt", seed=0),
              "b": untrained_speech_model(tmp_path / "b" / "model.pt", seed=1),
              "baseline": untrained_speech_model(tmp_path / "c" / "model.pt", kind="baseline")}
    return tmp_path, audio, models


def _extract(models, audio, out, model="a", *extra):
    return main(["extract", "--model", str(models[model]), str(audio), "--out", str(out), "--nj", "2",
                 "--no-progress", *extra])


def _combine_error(models, audio, out, capsys) -> str:
    capsys.readouterr()
    assert _extract(models, audio, out, "a", "--combine") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("model", ["b", "baseline"])
def test_a_part_made_by_another_model_is_refused_naming_it(setup, capsys, model):
    tmp, audio, models = setup
    out = tmp / "v.npz"
    assert _extract(models, audio, out, "a", "--job", "1") == 0
    assert _extract(models, audio, out, model, "--job", "2") == 0
    err = _combine_error(models, audio, out, capsys)
    assert "job(s) 2 of 2" in err and "job 2 (v.split2.2.npz): made by another model" in err
    assert not out.exists()


def test_a_part_made_with_other_options_is_refused(setup, capsys):
    tmp, audio, models = setup
    out = tmp / "v.npz"
    assert _extract(models, audio, out, "a", "--job", "1") == 0
    assert _extract(models, audio, out, "a", "--job", "2", "--min-frames", "7") == 0
    assert "job 2 (v.split2.2.npz): made with other options" in _combine_error(models, audio, out, capsys)


@pytest.mark.parametrize("damage", ["foreign", "truncated"])
def test_a_replaced_or_truncated_part_is_refused(setup, capsys, damage):
    tmp, audio, models = setup
    out = tmp / "v.npz"
    for k in (1, 2):
        assert _extract(models, audio, out, "a", "--job", str(k)) == 0
    part = tmp / "v.split2.2.npz"
    if damage == "foreign":  # another file's vectors copied over the part
        assert main(["extract", "--model", str(models["a"]), str(audio / "u0.wav"), "--out", str(tmp / "x.npz"),
                     "--no-progress"]) == 0
        part.write_bytes((tmp / "x.npz").read_bytes())
    else:
        part.write_bytes(part.read_bytes()[:100])
    err = _combine_error(models, audio, out, capsys)
    assert "job 2 (v.split2.2.npz): v.split2.2.npz is not the file the job wrote" in err


def test_a_good_combine_removes_the_parts_and_markers(setup, capsys):
    tmp, audio, models = setup
    out = tmp / "v.npz"
    for k in (1, 2):
        assert _extract(models, audio, out, "a", "--job", str(k)) == 0
    assert sorted(p.name for p in tmp.glob("v.split2.*")) == ["v.split2.1.done", "v.split2.1.npz",
                                                               "v.split2.2.done", "v.split2.2.npz"]
    assert _extract(models, audio, out, "a", "--combine") == 0
    assert out.exists() and not list(tmp.glob("v.split2.*")) and not list(tmp.glob("*.lock"))
