"""`prepare augment`: noisy / telephone / speed copies of a data dir's audio, tables mapped, resume, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechdis.audio.perturb import snr_db
from speechdis.cli import main
from speechdis.data.alignments import read_ctm
from speechdis.data.augment_dir import augment_data_dir
from speechdis.data.datadir import DataDir
from speechdis.data.tables import Segment, WordSegment
from speechdis.data.validate import validate_data_dir
from speechdis.errors import AudioError, ConfigError, DataDirError
from tests.helpers import make_wave, write_wave

SR = 16000


def _wideband(seconds: float, freq: float, seed: int) -> np.ndarray:
    """A tone plus white noise: energy up to 8 kHz."""
    rng = np.random.default_rng(seed)
    return (make_wave(seconds, SR, freq, seed=seed) + 0.05 * rng.standard_normal(int(seconds * SR))).astype(
        np.float32)


def _data(tmp: Path, segments: bool = False) -> Path:
    """Two speakers x two utterances (with word_segments, utt2dur, spk2gender, phones.ctm); with ``segments``
    the two utterances of a speaker are halves of one recording."""
    d = DataDir()
    ctm = []
    for spk, freq in (("s1", 220.0), ("s2", 330.0)):
        if segments:
            rec = f"{spk}-rec"
            path = tmp / "audio" / f"{rec}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, _wideband(1.0, freq, len(spk)), SR, subtype="PCM_16")
            d.wav_scp[rec] = str(path)
        for k in range(2):
            utt = f"{spk}-u{k}"
            d.utt2spk[utt] = spk
            d.text[utt] = "HELLO WORLD"
            d.utt2dur[utt] = 0.5
            if segments:
                d.segments[utt] = Segment(f"{spk}-rec", 0.5 * k, 0.5 * k + 0.5)
            else:
                path = tmp / "audio" / f"{utt}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, _wideband(0.5, freq, k), SR, subtype="PCM_16")
                d.wav_scp[utt] = str(path)
            d.word_segments += [WordSegment(f"{utt}_0000", utt, 0.05, 0.2, "HELLO"),
                                WordSegment(f"{utt}_0001", utt, 0.25, 0.45, "WORLD")]
            ctm += [f"{utt} 1 0.05 0.1 HH", f"{utt} 1 0.15 0.05 AH"]
        d.spk2gender[spk] = "f"
    out = d.save(tmp / "data")
    (out / "phones.ctm").write_text("\n".join(ctm) + "\n")
    return out


def _noise_dir(tmp: Path) -> Path:
    rng = np.random.default_rng(5)
    for i, seconds in enumerate((0.3, 2.0)):  # the first is shorter than the recordings: looped
        path = tmp / "noise" / f"n{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32), SR, subtype="FLOAT")
    return tmp / "noise"


def _read(path) -> np.ndarray:
    return sf.read(str(path), dtype="float64")[0]


def test_noise_copy_has_the_asked_snr_and_telephone_copy_no_high_band(tmp_path):
    data = _data(tmp_path)
    out = tmp_path / "aug"
    snrs = [20.0, 10.0, 5.0, 0.0]
    report = augment_data_dir(data, out, ["noise", "telephone"], noise=_noise_dir(tmp_path), snrs=snrs, seed=3)
    assert report.written == 8 and report.done_before == 0 and report.noise_files == 2
    d = DataDir.load(out)
    seen = set()
    for utt in ("s1-u0", "s1-u1", "s2-u0", "s2-u1"):
        clean = _read(d.wav_scp[utt])
        assert d.wav_scp[utt] == DataDir.load(data).wav_scp[utt]  # originals point at the original files
        noisy = _read(d.wav_scp[f"{utt}-noise"])
        assert noisy.shape == clean.shape
        snr = snr_db(clean, noisy)
        nearest = min(snrs, key=lambda s: abs(s - snr))
        assert abs(snr - nearest) < 0.1
        seen.add(nearest)
        tel = _read(d.wav_scp[f"{utt}-tel"])
        spec = [np.abs(np.fft.rfft(w)) ** 2 for w in (clean, tel)]
        freqs = np.fft.rfftfreq(clean.size, 1 / SR)
        high = [s[freqs > 4000].sum() / s.sum() for s in spec]
        assert high[0] > 0.02 and high[1] < 1e-4
    assert len(seen) >= 2  # SNRs are drawn per recording


def test_tables_are_mapped_and_the_result_validates(tmp_path, capsys):
    data = _data(tmp_path)
    out = tmp_path / "aug"
    augment_data_dir(data, out, ["noise", "telephone", "speed"], noise=_noise_dir(tmp_path), speeds=[0.9, 1.1])
    d = DataDir.load(out)
    assert len(d.utt2spk) == 4 * 5
    assert d.utt2spk["s1-u0-noise"] == d.utt2spk["s1-u0-tel"] == "s1"
    assert d.utt2spk["sp0.9-s1-u0"] == "sp0.9-s1" and d.spk2gender["sp1.1-s2"] == "f"
    assert d.spk2utt["s1"] == ["s1-u0", "s1-u0-noise", "s1-u0-tel", "s1-u1", "s1-u1-noise", "s1-u1-tel"]
    assert (out / "spk2utt").read_text().splitlines()[0].split()[1:] == d.spk2utt["s1"]
    ws = {w.seg_id: w for w in d.word_segments}
    assert ws["s2-u1_0001-noise"] == WordSegment("s2-u1_0001-noise", "s2-u1-noise", 0.25, 0.45, "WORLD")
    sp = ws["sp1.1-s2-u1_0001"]
    assert sp.utt == "sp1.1-s2-u1" and sp.start == pytest.approx(0.25 / 1.1, abs=1e-4)
    assert d.utt2dur["sp0.9-s1-u0"] == pytest.approx(0.5 / 0.9, abs=1e-4)
    assert len(_read(d.wav_scp["sp0.9-s1-u0"])) == pytest.approx(0.5 / 0.9 * SR, abs=1)
    assert d.text["s1-u1-tel"] == "HELLO WORLD"
    ctm = read_ctm(out / "phones.ctm")
    assert ctm["s1-u0-tel"][0].start == 0.05 and ctm["sp0.9-s1-u0"][1].start == pytest.approx(0.15 / 0.9, abs=1e-4)
    assert not (out / "feats.scp").exists()
    assert validate_data_dir(out) == []
    assert main(["prepare", "validate", str(out)]) == 0
    assert "OK" in capsys.readouterr().out


def test_segments_are_augmented_per_recording(tmp_path):
    data = _data(tmp_path, segments=True)
    out = tmp_path / "aug"
    report = augment_data_dir(data, out, ["telephone", "speed"], speeds=[0.9], keep_original=False)
    assert report.recordings == 2 and report.written == 4
    d = DataDir.load(out)
    assert set(d.wav_scp) == {"s1-rec-tel", "s2-rec-tel", "sp0.9-s1-rec", "sp0.9-s2-rec"}
    assert d.segments["s1-u1-tel"] == Segment("s1-rec-tel", 0.5, 1.0)
    seg = d.segments["sp0.9-s2-u1"]
    assert seg.recording == "sp0.9-s2-rec" and seg.end == pytest.approx(1.0 / 0.9, abs=1e-4)
    assert "s1-u0" not in d.utt2spk and len(d.utt2spk) == 8
    assert validate_data_dir(out) == []


def test_reruns_are_identical_and_resume_skips_done_files(tmp_path):
    data = _data(tmp_path)
    noise = _noise_dir(tmp_path)
    a = augment_data_dir(data, tmp_path / "a", ["noise"], noise=noise, seed=7)
    b = augment_data_dir(data, tmp_path / "b", ["noise"], noise=noise, seed=7, nj=2)
    files = sorted(p.name for p in (tmp_path / "a" / "wav" / "noise").iterdir())
    assert a.written == b.written == 4 and len(files) == 4
    for name in files:
        assert (tmp_path / "a" / "wav" / "noise" / name).read_bytes() == \
            (tmp_path / "b" / "wav" / "noise" / name).read_bytes()
    other = augment_data_dir(data, tmp_path / "c", ["noise"], noise=noise, seed=8)
    assert other.written == 4
    assert any((tmp_path / "a" / "wav" / "noise" / n).read_bytes() != (tmp_path / "c" / "wav" / "noise" / n)
               .read_bytes() for n in files)
    # An interrupted run: one file missing, a temporary file left behind.
    victim = tmp_path / "a" / "wav" / "noise" / files[0]
    before = victim.read_bytes()
    victim.unlink()
    (victim.parent / f".{victim.name}.abc.tmp").write_bytes(b"partial")
    again = augment_data_dir(data, tmp_path / "a", ["noise"], noise=noise, seed=7)
    assert (again.written, again.done_before) == (1, 3)
    assert victim.read_bytes() == before
    assert not list(victim.parent.glob(".*.tmp"))
    with pytest.raises(DataDirError, match="other noise settings .seed: 7, now 9"):
        augment_data_dir(data, tmp_path / "a", ["noise"], noise=noise, seed=9)


def test_grid_jobs_then_merge(tmp_path):
    data = _data(tmp_path)
    out = tmp_path / "aug"
    j2 = augment_data_dir(data, out, ["telephone"], nj=2, job=2)
    assert j2.written == 2 and not (out / "utt2spk").exists()
    rest = augment_data_dir(data, out, ["telephone"], nj=2)
    assert (rest.written, rest.done_before) == (2, 2)
    assert len(DataDir.load(out).utt2spk) == 8


def test_clipping_is_scaled_down_and_counted(tmp_path):
    data = _data(tmp_path)
    quiet = DataDir.load(data)  # the same recordings at a tenth of the level: their noisy copies do not clip
    for rec, path in quiet.wav_scp.items():
        quiet.wav_scp[rec] = str(tmp_path / "quiet" / f"{rec}.wav")
        (tmp_path / "quiet").mkdir(exist_ok=True)
        sf.write(quiet.wav_scp[rec], 0.1 * _read(path), SR, subtype="FLOAT")
    quiet.save(tmp_path / "quiet_data")
    loud = tmp_path / "loud" / "n.wav"
    loud.parent.mkdir()
    sf.write(loud, np.sign(np.random.default_rng(0).standard_normal(SR)).astype(np.float32), SR)
    report = augment_data_dir(data, tmp_path / "aug", ["noise"], noise=loud.parent, snrs=[-10.0])
    assert report.clipped == 4
    assert augment_data_dir(tmp_path / "quiet_data", tmp_path / "aug_q", ["noise"], noise=loud.parent,
                            snrs=[-10.0]).clipped == 0
    d, q = DataDir.load(tmp_path / "aug"), DataDir.load(tmp_path / "aug_q")
    for utt in ("s1-u0", "s2-u1"):
        noisy, reference = _read(d.wav_scp[f"{utt}-noise"]), _read(q.wav_scp[f"{utt}-noise"])
        assert np.max(np.abs(noisy)) <= 0.99 + 1e-4
        assert abs(snr_db(_read(q.wav_scp[utt]), reference) + 10.0) < 0.1
        # the clipped copy is the unclipped mix scaled as a whole: its SNR is the same -10 dB
        assert np.corrcoef(noisy, reference)[0, 1] > 0.99999


def test_noise_source_errors(tmp_path):
    data = _data(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataDirError, match="holds no .wav or .flac"):
        augment_data_dir(data, tmp_path / "o1", ["noise"], noise=empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.wav").write_bytes(b"RIFF not audio")
    with pytest.raises(AudioError, match=r"noise file .*x\.wav"):
        augment_data_dir(data, tmp_path / "o2", ["noise"], noise=bad)
    quiet = tmp_path / "quiet"
    write_wave(quiet / "q.wav", 0.2)
    sf.write(quiet / "z.wav", np.zeros(1000, dtype=np.float32), SR)
    report = augment_data_dir(data, tmp_path / "o3", ["noise"], noise=quiet)
    assert report.quiet_noise == ["z.wav"] and report.noise_files == 1
    scp = tmp_path / "noise.scp"
    scp.write_text(f"z {quiet / 'z.wav'}\n")
    with pytest.raises(DataDirError, match="every noise file is quieter"):
        augment_data_dir(data, tmp_path / "o4", ["noise"], noise=scp)
    with pytest.raises(ConfigError, match="needs a noise source"):
        augment_data_dir(data, tmp_path / "o5", ["noise"])
    with pytest.raises(ConfigError, match="'echo' is not one of"):
        augment_data_dir(data, tmp_path / "o6", ["echo"])


def test_cli_usage_and_one_line_errors(tmp_path, capsys):
    data = _data(tmp_path)
    noise = _noise_dir(tmp_path)
    out = tmp_path / "aug"
    assert main(["prepare", "augment", str(data), str(out), "--kinds", "noise,telephone", "--noise", str(noise),
                 "--snrs", "10,0", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "8 written, 0 already done" in text and "12 utterances, 2 speakers" in text
    assert main(["prepare", "augment", str(data), str(out), "--kinds", "noise,telephone", "--noise", str(noise),
                 "--snrs", "10,0", "--no-progress"]) == 0
    assert "0 written, 8 already done" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["prepare", "augment", str(data), str(out), "--noise", str(noise), "--snrs", "10,loud"])
    assert "argument --snrs: must be a finite number, got 'loud'" in capsys.readouterr().err
    assert main(["prepare", "augment", str(data), str(tmp_path / "x"), "--noise", str(tmp_path / "nowhere"),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nowhere: noise source is neither a folder nor a wav.scp" in err


def test_partial_utt2dur_is_completed_from_the_audio(tmp_path, capsys):
    data = _data(tmp_path)
    (data / "utt2dur").write_text("s1-u0 0.5\n")  # as a combine of corpora with and without utt2dur leaves it
    out = tmp_path / "aug"
    assert main(["prepare", "augment", str(data), str(out), "--kinds", "telephone", "--no-progress"]) == 0
    assert "utt2dur of the input's utterances from: utt2dur 1, audio headers 3" in capsys.readouterr().out
    d = DataDir.load(out)
    assert len(d.utt2dur) == 8 and d.utt2dur["s2-u1-tel"] == pytest.approx(0.5)
    assert validate_data_dir(out) == []


def test_rerun_keeps_features_unless_the_utterances_changed(tmp_path, capsys):
    data = _data(tmp_path)
    out = tmp_path / "aug"
    augment_data_dir(data, out, ["telephone"])
    assert main(["features", str(out), "--no-progress"]) == 0
    feats = (out / "feats.scp").read_text()
    again = augment_data_dir(data, out, ["telephone"])
    assert not again.features_dropped and (out / "feats.scp").read_text() == feats
    assert (out / "cmvn.scp").exists() and (out / "utt2num_frames").exists()
    more = augment_data_dir(data, out, ["telephone", "speed"], speeds=[1.1])
    assert more.features_dropped and "run speechdis features" in more.summary()
    assert not (out / "feats.scp").exists() and not (out / "cmvn.scp").exists()
