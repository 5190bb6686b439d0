"""lhotse interop: manifests made here → data dir with word segments → manifests, round trip; the CLI."""
from __future__ import annotations

import pytest

from tests.helpers import write_wave

lhotse = pytest.importorskip("lhotse")

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet  # noqa: E402
from lhotse.supervision import AlignmentItem  # noqa: E402

from speechdis.cli import main  # noqa: E402
from speechdis.data.datadir import DataDir  # noqa: E402
from speechdis.data.lhotse_io import export_lhotse, import_lhotse  # noqa: E402
from speechdis.data.tables import WordSegment  # noqa: E402
from speechdis.data.validate import validate_data_dir  # noqa: E402
from speechdis.errors import DataDirError  # noqa: E402


def _manifests(tmp_path, segmented: bool):
    """Two speakers; either one supervision per whole recording, or two supervisions in one recording each."""
    recs, sups = [], []
    for spk, freq in (("11", 220.0), ("22", 330.0)):
        rid = f"{spk}-100-0000"
        path = write_wave(tmp_path / "audio" / f"{rid}.wav", seconds=2.0, freq=freq)
        recs.append(Recording.from_file(path, recording_id=rid))
        spans = [(0.0, 1.0), (1.0, 1.0)] if segmented else [(0.0, 2.0)]
        for k, (start, dur) in enumerate(spans):
            words = [AlignmentItem("", start, 0.1), AlignmentItem("HELLO", start + 0.1, 0.3),
                     AlignmentItem("sil", start + 0.4, 0.1), AlignmentItem("WORLD", start + 0.5, 0.35)]
            sups.append(SupervisionSegment(id=f"{rid}-{k}" if segmented else rid, recording_id=rid, start=start,
                                           duration=dur, text="HELLO WORLD", speaker=spk, gender="F",
                                           alignment={"word": words}))
    out = tmp_path / "manifests"
    out.mkdir()
    RecordingSet.from_recordings(recs).to_file(out / "recordings.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(out / "supervisions.jsonl.gz")
    return out


@pytest.mark.parametrize("segmented", [False, True])
def test_import_export_round_trip(tmp_path, segmented):
    manifests = _manifests(tmp_path, segmented)
    rep = import_lhotse([manifests / "recordings.jsonl.gz", manifests / "supervisions.jsonl.gz"], tmp_path / "d")
    d = DataDir.load(tmp_path / "d")
    assert rep.segmented == segmented and rep.word_segments == len(d.word_segments) == 2 * len(d.utt2spk)
    validate_data_dir(tmp_path / "d")  # a valid Kaldi data dir (errors raise)
    utt = sorted(d.utt2spk)[-1]
    offset = 1.0 if segmented else 0.0
    ws = d.word_segments_by_utt()[utt]
    # Times relative to the utterance, silences dropped.
    assert [(w.word, w.start, w.end) for w in ws] == [("HELLO", 0.1, 0.4), ("WORLD", 0.5, 0.85)]
    assert ws[0] == WordSegment(f"{utt}_0000", utt, 0.1, 0.4, "HELLO")
    assert d.spk2gender == {"11": "f", "22": "f"} and set(d.text.values()) == {"HELLO WORLD"}
    assert bool(d.segments) == segmented
    if segmented:
        assert d.segments[utt].start == offset

    rpath, spath = export_lhotse(tmp_path / "d", tmp_path / "back")
    sups = {s.id: s for s in lhotse.load_manifest(spath)}
    src = {s.id: s for s in lhotse.load_manifest(manifests / "supervisions.jsonl.gz")}
    assert set(sups) == set(src)
    for k, s in sups.items():
        assert (s.recording_id, s.start, s.duration, s.speaker, s.text) == \
               (src[k].recording_id, src[k].start, src[k].duration, src[k].speaker, src[k].text)
        assert [(a.symbol, a.start, a.duration) for a in s.alignment["word"]] == \
               [(a.symbol, a.start, a.duration) for a in src[k].alignment["word"] if a.symbol not in ("", "sil")]
    assert {r.id: r.duration for r in lhotse.load_manifest(rpath)} == \
           {r.id: r.duration for r in lhotse.load_manifest(manifests / "recordings.jsonl.gz")}
    # ... and importing the export gives the same data dir.
    import_lhotse([tmp_path / "back"], tmp_path / "d2")
    d2 = DataDir.load(tmp_path / "d2")
    assert (d2.utt2spk, d2.wav_scp, d2.segments, d2.word_segments, d2.text) == \
           (d.utt2spk, d.wav_scp, d.segments, d.word_segments, d.text)


def test_cli_and_cuts(tmp_path, capsys):
    manifests = _manifests(tmp_path, segmented=True)
    cuts = lhotse.CutSet.from_manifests(recordings=lhotse.load_manifest(manifests / "recordings.jsonl.gz"),
                                        supervisions=lhotse.load_manifest(manifests / "supervisions.jsonl.gz"))
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    assert main(["prepare", "lhotse", str(tmp_path / "cuts.jsonl.gz"), str(tmp_path / "d")]) == 0
    assert "4 utterances of 2 speakers" in capsys.readouterr().out
    assert len(DataDir.load(tmp_path / "d").word_segments) == 8
    assert main(["prepare", "export-lhotse", str(tmp_path / "d"), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "supervisions.jsonl.gz").is_file()
    with pytest.raises(DataDirError, match="no supervisions"):
        import_lhotse([manifests / "recordings.jsonl.gz"], tmp_path / "x")
    assert main(["prepare", "lhotse", str(tmp_path / "missing.jsonl"), str(tmp_path / "y")]) == 1
