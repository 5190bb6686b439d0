"""Issue 22 item 10: an archive given to search never runs the shell commands it names unless asked."""
from __future__ import annotations

import numpy as np

from speechdis.cli import main


def _scp_with_a_command(tmp_path):
    import kaldiio

    marker = tmp_path / "ran"
    rows = []
    for k, utt in enumerate(["a", "b", "c"]):
        vec = tmp_path / f"{utt}.mat"
        kaldiio.save_mat(str(vec), np.eye(3, dtype=np.float32)[k])
        rows.append(f"{utt} {vec}" if utt != "b" else f"{utt} touch {marker} && cat {vec} |")
    scp = tmp_path / "arch.phonetic.scp"
    scp.write_text("\n".join(rows) + "\n")
    return scp, marker


def test_search_refuses_command_entries_of_an_scp_archive(tmp_path, capsys):
    scp, marker = _scp_with_a_command(tmp_path)
    rc = main(["search", "a", "--archive", str(scp)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and not marker.exists()
    assert f"{scp}:2: 'b' is a shell command" in err and "--allow-commands" in err


def test_search_runs_them_with_allow_commands(tmp_path, capsys):
    scp, marker = _scp_with_a_command(tmp_path)
    assert main(["search", "a", "--archive", str(scp), "--allow-commands", "--k", "2"]) == 0
    assert marker.exists()
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    assert [r[2] for r in rows] == ["b", "c"] or [r[2] for r in rows] == ["c", "b"]


def test_validate_warns_of_command_entries(tmp_path, capsys):
    from speechdis.data.datadir import DataDir

    d = tmp_path / "d"
    DataDir(utt2spk={"s-a": "s", "s-b": "s"}, wav_scp={"s-a": "/x/a.wav", "s-b": "sox /x/b.flac -t wav - |"}).save(d)
    assert main(["prepare", "validate", str(d)]) == 0
    out = capsys.readouterr().out
    assert f"WARNING: {d / 'wav.scp'}:2: 's-b': shell command (1 such entries in the file)" in out
