"""Preloaded word-segment storage: packed frames + offsets, vectorised batches, fp16 storage."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdis.data.dataset import PairBatchSampler, WordSegmentDataset, _concat_ranges, collate_segments
from speechdis.data.segments import FrameSegment


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    utts = {f"u{k}": rng.standard_normal((int(rng.integers(60, 200)), 5)).astype(np.float32) for k in range(6)}
    segs = []
    for k, (utt, mat) in enumerate(utts.items()):
        for j in range(8):
            b = int(rng.integers(0, mat.shape[0] - 10))
            e = int(min(mat.shape[0], b + rng.integers(3, 90)))
            segs.append(FrameSegment(f"{utt}_{j}", utt, f"spk{k % 3}", f"w{j % 4}", b, e))
    rng.shuffle(segs)  # segments of one utterance need not be adjacent
    return segs, utts


def test_concat_ranges():
    assert _concat_ranges(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist() == [5, 6, 9, 10, 11]
    assert _concat_ranges(np.zeros(0, int), np.zeros(0, int)).size == 0


@pytest.mark.parametrize("crop", [None, 40])
def test_packed_items_and_batches_equal_the_lazy_ones(crop):
    segs, utts = _data()
    lazy = WordSegmentDataset(segs, utts, crop_frames=crop)
    packed = WordSegmentDataset(segs, utts, crop_frames=crop, preload=True)
    assert packed.preloaded and not lazy.preloaded
    assert packed.feature_bytes == sum(lazy[i]["length"] for i in range(len(lazy))) * 5 * 4
    for i in range(len(segs)):
        a, b = lazy[i], packed[i]
        assert a.keys() == b.keys() and a["length"] == b["length"] and a["speaker"] == b["speaker"]
        assert torch.equal(a["feats"], b["feats"])
    idx = [3, 17, 3, 40, 0, 25]
    want = collate_segments([lazy[i] for i in idx])
    got = collate_segments(packed.__getitems__(idx))
    assert lazy.__getitems__(idx)[1]["index"] == 17  # lazy: a list of items, collated as before
    for key in want:
        assert torch.equal(want[key], got[key]), key
    np.testing.assert_array_equal(packed.feature_stats(), lazy.feature_stats())


def test_data_loader_uses_the_vectorised_batches():
    segs, utts = _data(1)
    ds = WordSegmentDataset(segs, utts, crop_frames=30, preload=True)
    lazy = WordSegmentDataset(segs, utts, crop_frames=30)
    sampler = PairBatchSampler(ds.speaker_ids, 3, 4, seed=2)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_segments)
    it = iter(loader)
    for k in range(3):
        got = next(it)
        want = collate_segments([lazy[i] for i in sampler.batch(k)])
        for key in want:
            assert torch.equal(want[key], got[key])


def test_fp16_storage_halves_memory_within_fp16_rounding():
    segs, utts = _data(2)
    f32 = WordSegmentDataset(segs, utts, preload=True)
    f16 = WordSegmentDataset(segs, utts, preload=True, storage_dtype="float16")
    assert f16.feature_bytes * 2 == f32.feature_bytes
    item = f16[4]
    assert item["feats"].dtype == torch.float32
    np.testing.assert_allclose(item["feats"], f32[4]["feats"], rtol=1e-3, atol=1e-3)
    b = f16.__getitems__([1, 2])
    assert b["feats"].dtype == torch.float32
    with pytest.raises(ValueError, match="storage_dtype"):
        WordSegmentDataset(segs, utts, storage_dtype="int8")


def test_read_only_features_give_items_without_a_torch_warning():
    """Issue 23: torch's "NumPy array is not writable" warning on read-only (memory-mapped) features."""
    import warnings

    segs, utts = _data()
    frozen = {}
    for u, m in utts.items():
        m = np.array(m)
        m.setflags(write=False)
        frozen[u] = m
    ds = WordSegmentDataset(segs, frozen, crop_frames=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        item = ds[0]
    s = segs[0]
    assert np.array_equal(item["feats"].numpy(), frozen[s.utt][s.start_frame:s.end_frame])


def test_speaker_context_windows_hold_the_word_and_equal_lazy_reads():
    """data.speaker_context: each item also carries a window of its utterance centred on the word (clamped
    to the utterance), the same packed or read lazily."""
    segs, utts = _data(2)
    lazy = WordSegmentDataset(segs, utts, crop_frames=None, context_frames=80)
    packed = WordSegmentDataset(segs, utts, crop_frames=None, context_frames=80, preload=True)
    for i, seg in enumerate(segs):
        mat = utts[seg.utt]
        a, b = lazy[i], packed[i]
        assert torch.equal(a["spk_feats"], b["spk_feats"])
        ctx = a["spk_feats"].numpy()
        assert len(ctx) == min(80, len(mat))
        start = next(s for s in range(len(mat) - len(ctx) + 1) if np.array_equal(mat[s:s + len(ctx)], ctx))
        centre = (seg.start_frame + seg.end_frame) // 2
        assert start <= centre < start + len(ctx)  # the window is where the word is
        if seg.end_frame - seg.start_frame <= len(ctx):
            assert start <= seg.start_frame and seg.end_frame <= start + len(ctx)
    idx = [5, 1, 30, 5]
    want, got = collate_segments([lazy[i] for i in idx]), collate_segments(packed.__getitems__(idx))
    assert want.keys() == got.keys() and "spk_lengths" in got
    for key in want:
        assert torch.equal(want[key], got[key]), key
    assert "spk_feats" not in WordSegmentDataset(segs, utts, preload=True)[0]
