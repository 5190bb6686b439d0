import numpy as np
import pytest
import torch

from speechdis.data.segments import FrameSegment, PairBatchSampler, WordSegmentDataset, collate_segments
from speechdis.speech.losses import (
    masked_mse,
    same_speaker_partner,
    sample_group_pairs,
    sample_pairs,
    speaker_distance_loss,
)
from speechdis.speech.models import DisentangledAutoencoder, ModelConfig, Seq2SeqAutoencoder, SpeakerPairClassifier

SMALL = dict(feat_dim=5, hidden=16, layers=1, phonetic_dim=6, speaker_dim=4, embed_dim=8, decoder_hidden=16,
             decoder_layers=1, critic_hidden=(16,))


def _dataset(n_spk=4, per_spk=6, crop=None):
    rng = np.random.default_rng(0)
    utts = {f"u{s}_{k}": rng.normal(size=(30, 5)).astype(np.float32) for s in range(n_spk) for k in range(per_spk)}
    segs = [FrameSegment(f"{u}_w", u, u.split("_")[0], "w%d" % (k % 3), 2, 10 + k) for k, u in enumerate(sorted(utts))]
    return WordSegmentDataset(segs, utts, crop_frames=crop), utts


def test_dataset_slices_frames_and_crops():
    ds, utts = _dataset()
    item = ds[3]
    seg = ds.segments[3]
    assert item["length"] == seg.end_frame - seg.start_frame
    assert np.array_equal(item["feats"].numpy(), utts[seg.utt][seg.start_frame:seg.end_frame])
    cropped, _ = _dataset(crop=5)
    assert cropped[20]["length"] == 5


def test_collate_pads_and_keeps_lengths():
    ds, _ = _dataset()
    batch = collate_segments([ds[0], ds[10]])
    assert batch["feats"].shape == (2, max(ds[0]["length"], ds[10]["length"]), 5)
    assert batch["lengths"].tolist() == [ds[0]["length"], ds[10]["length"]]
    assert batch["feats"][0, ds[0]["length"]:].abs().sum() == 0


def test_pair_sampler_guarantees_balanced_speakers_and_is_resumable():
    spk = np.repeat(np.arange(6), 5)
    sampler = PairBatchSampler(spk, speakers_per_batch=3, segments_per_speaker=4, seed=1)
    it = iter(sampler)
    batches = [next(it) for _ in range(20)]
    for b in batches:
        counts = np.bincount(spk[b], minlength=6)
        assert sorted(counts[counts > 0].tolist()) == [4, 4, 4]  # 3 speakers × 4 segments
    # resuming at batch 7 yields exactly batches 7, 8, ...
    resumed = iter(PairBatchSampler(spk, 3, 4, seed=1, start=7))
    assert [next(resumed) for _ in range(3)] == batches[7:10]
    # over many batches every speaker is drawn
    assert set(np.concatenate([spk[b] for b in batches]).tolist()) == set(range(6))


def _many_word_corpus(n_spk=10, per_spk=40, n_words=60, seed=0):
    """Segments of a sentence corpus: each speaker says a random subset of many word types."""
    rng = np.random.default_rng(seed)
    spk = np.repeat(np.arange(n_spk), per_spk)
    words = rng.integers(0, n_words, size=spk.size)
    return spk, words


def _partner_rate(batches, spk, words):
    """Fraction of batch items with a token of their word by another speaker in the same batch."""
    hits = []
    for b in batches:
        w, s = words[b], spk[b]
        hits.append(((w[:, None] == w[None, :]) & (s[:, None] != s[None, :])).any(axis=1).mean())
    return float(np.mean(hits))


def test_word_pairs_give_correspondence_partners_and_keep_the_batch_shape():
    """data.word_pairs: the sampler fills each speaker's slots with same-word pairs across two speakers of the
    batch; batches keep k speakers × m segments, stay a pure function of (seed, k) and, at 0, equal the
    plain sampler's batches."""
    spk, words = _many_word_corpus()
    plain = PairBatchSampler(spk, 4, 4, seed=3)
    off = PairBatchSampler(spk, 4, 4, seed=3, word_ids=words, word_pairs=0.0)
    paired = PairBatchSampler(spk, 4, 4, seed=3, word_ids=words, word_pairs=1.0)
    batches = [paired.batch(k) for k in range(200)]
    assert [off.batch(k) for k in range(20)] == [plain.batch(k) for k in range(20)]
    for b in batches:
        counts = np.bincount(spk[b], minlength=10)
        assert sorted(counts[counts > 0].tolist()) == [4, 4, 4, 4]
        assert all(spk[b[i]] == spk[b[i - i % 4]] for i in range(len(b)))  # speaker blocks stay contiguous
    assert PairBatchSampler(spk, 4, 4, seed=3, word_ids=words, word_pairs=1.0, start=50).batch(50) == batches[50]
    base = _partner_rate([plain.batch(k) for k in range(200)], spk, words)
    half = _partner_rate([PairBatchSampler(spk, 4, 4, seed=3, word_ids=words, word_pairs=0.5).batch(k)
                          for k in range(200)], spk, words)
    full = _partner_rate(batches, spk, words)
    assert base < 0.5 and full > 0.95 and base < half < full  # every speaker here shares words with the others


def test_word_pairs_fall_back_to_random_segments_when_speakers_share_no_word():
    spk = np.repeat(np.arange(4), 5)
    words = spk * 10 + np.arange(20) % 5  # disjoint vocabularies
    sampler = PairBatchSampler(spk, 4, 4, seed=0, word_ids=words, word_pairs=1.0)
    for k in range(20):
        counts = np.bincount(spk[sampler.batch(k)], minlength=4)
        assert counts.tolist() == [4, 4, 4, 4]
    with pytest.raises(ValueError, match="word_pairs"):
        PairBatchSampler(spk, 4, 4, word_ids=words, word_pairs=1.5)
    with pytest.raises(ValueError, match="one word id per segment"):
        PairBatchSampler(spk, 4, 4, word_ids=words[:3], word_pairs=1.0)


def test_sample_pairs_balance_and_validity():
    spk = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    i, j, same = sample_pairs(spk, 40, same_fraction=0.25, generator=torch.Generator().manual_seed(0))
    assert len(i) == 40 and same.sum() == 10
    assert torch.all(i != j)
    assert torch.equal((spk[i] == spk[j]).float(), same)
    with pytest.raises(ValueError):
        sample_pairs(torch.tensor([0, 1, 2]), 4)


def test_sample_group_pairs_disjoint_single_speaker_groups():
    spk = torch.tensor([0] * 8 + [1] * 8 + [2] * 3)
    i, j, same = sample_group_pairs(spk, 30, 4, same_fraction=0.5, generator=torch.Generator().manual_seed(0))
    assert i.shape == j.shape == (30, 4) and same.sum() == 15
    for a, b, s in zip(i, j, same):
        assert len(set(spk[a].tolist())) == 1 and len(set(spk[b].tolist())) == 1  # one speaker per group
        assert (spk[a[0]] == spk[b[0]]) == bool(s)
        assert not set(a.tolist()) & set(b.tolist())  # disjoint
        assert 2 not in spk[a].tolist() + spk[b].tolist()  # speaker 2 has too few items for a group of 4
    with pytest.raises(ValueError, match="segments_per_speaker"):
        sample_group_pairs(torch.tensor([0] * 7 + [1] * 7), 4, 4)  # nobody splits into two groups of 4


def test_same_speaker_partner():
    spk = torch.tensor([0, 0, 1, 1, 1, 2])
    p = same_speaker_partner(spk, torch.Generator().manual_seed(0))
    for k in range(5):
        assert p[k] != k and spk[p[k]] == spk[k]
    assert p[5] == 5  # alone: itself


def test_masked_mse_ignores_padding():
    target = torch.zeros(2, 4, 3)
    pred = torch.zeros(2, 4, 3)
    pred[0, 3] = 100.0  # padding of item 0 (length 3)
    pred[1, 0] = 1.0
    loss = masked_mse(pred, target, torch.tensor([3, 4]))
    assert loss.item() == pytest.approx(3 * 1.0 / (7 * 3))


def test_speaker_distance_loss_hinge():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    # same pair: d²=1; different pair: d²=9 ≥ margin 4 → 0
    assert speaker_distance_loss(a, b, torch.tensor([1.0, 0.0]), margin=4.0).item() == pytest.approx(0.5)
    # different pair too close: max(0, 4 - 1) = 3
    assert speaker_distance_loss(a[:1], b[:1], torch.tensor([0.0]), margin=4.0).item() == pytest.approx(3.0)


def test_model_shapes_and_padding_invariance():
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL)
    dis, base = DisentangledAutoencoder(cfg), Seq2SeqAutoencoder(ModelConfig(kind="baseline", **SMALL))
    x = torch.randn(3, 9, 5)
    lengths = torch.tensor([9, 5, 7])
    out = dis(x, lengths, torch.tensor([1, 0, 2]))
    assert out["phonetic"].shape == (3, 6) and out["speaker"].shape == (3, 4)
    assert out["reconstruction"].shape == x.shape
    assert base(x, lengths)["embedding"].shape == (3, 8)
    # padding content must not change an embedding
    x2 = x.clone()
    x2[1, 5:] = 1e3
    dis.eval()
    assert torch.allclose(dis.embed(x, lengths)["phonetic"], dis.embed(x2, lengths)["phonetic"], atol=1e-6)


def test_decoder_uses_partner_speaker_vector():
    torch.manual_seed(0)
    dis = DisentangledAutoencoder(ModelConfig(**SMALL))
    x, lengths = torch.randn(2, 6, 5), torch.tensor([6, 6])
    same = dis(x, lengths, torch.tensor([0, 1]))["reconstruction"]
    swapped = dis(x, lengths, torch.tensor([1, 0]))["reconstruction"]
    assert not torch.allclose(same, swapped)


def test_speaker_pair_classifier_order_invariant():
    d = SpeakerPairClassifier(6, (16,))
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    assert torch.allclose(d(a, b), d(b, a))


@pytest.mark.parametrize("pooling", ["stats", "stats_input"])
def test_real_speech_options_keep_shapes_and_padding_invariance(pooling):
    """Frame stacking, stats pooling, per-segment CMVN and global input normalisation: same output shapes,
    reconstruction of every frame, and padding never changes an embedding."""
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL, frame_stack=3, speaker_pooling=pooling, phonetic_cmvn=True, input_norm="global")
    m = DisentangledAutoencoder(cfg).eval()
    m.set_input_stats(torch.full((5,), 2.0), torch.full((5,), 3.0))
    x = torch.randn(2, 11, 5) * 3 + 2
    lengths = torch.tensor([11, 7])
    out = m(x, lengths)
    assert out["reconstruction"].shape == (2, 11, 5)
    assert torch.allclose(out["target"][0], (x[0] - 2) / 3, atol=1e-6)
    assert torch.all(out["target"][1, 7:] == 0)  # padding stays zero after normalisation
    alone = m.embed(x[1:, :7], lengths[1:])
    for k in ("phonetic", "speaker"):
        assert torch.allclose(out[k][1], alone[k][0], atol=1e-5)
    # per-segment CMVN: the phonetic vector ignores a constant offset and scale of the input
    shifted = m.embed(x[1:, :7] * 2 + 5, lengths[1:])
    assert torch.allclose(shifted["phonetic"], m.embed((x[1:, :7] - 2) * 2 + 2, lengths[1:])["phonetic"], atol=1e-4)


def test_correspondence_targets_pick_same_word_other_speaker():
    from speechdis.speech.losses import correspondence_targets

    words = torch.tensor([0, 0, 1, 1, 2, 0, -1])
    spk = torch.tensor([0, 1, 0, 0, 1, 0, 1])
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        t = correspondence_targets(words, spk, 1.0, generator=g)
        assert t[0] == 1 and t[5] == 1 and t[1] in (0, 5)  # word 0 by the other speaker
        assert t[2] == 2 and t[3] == 3 and t[4] == 4 and t[6] == 6  # no token by another speaker: itself
    assert torch.equal(correspondence_targets(words, spk, 0.0, generator=g), torch.arange(7))


def test_critic_prepared_batch_gives_the_same_critic_loss():
    """Shared critic batches: the phonetic vectors computed once (E_p only) are what each update recomputes."""
    from speechdis.speech.objective import LossConfig, SpeechObjective

    torch.manual_seed(0)
    cfg = ModelConfig(kind="disentangled", **SMALL)
    model = DisentangledAutoencoder(cfg)
    x, lengths = torch.randn(8, 12, 5), torch.tensor([12, 9, 7, 12, 5, 11, 8, 6])
    assert torch.allclose(model.phonetic(x, lengths), model.embed(x, lengths)["phonetic"])
    batch = {"feats": x, "lengths": lengths, "speaker": torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])}
    for mode in ("wgan", "bce"):
        obj = SpeechObjective(model, SpeakerPairClassifier(cfg.phonetic_dim, (8,)),
                              LossConfig(adv_mode=mode, pairs_per_batch=8), True, 10)
        prepared = obj.critic_prepare(batch)
        assert not prepared["phonetic"].requires_grad and set(batch) < set(prepared)
        torch.manual_seed(1)
        fresh, _ = obj.critic_loss(batch)
        torch.manual_seed(1)
        shared, _ = obj.critic_loss(prepared)
        assert shared.item() == pytest.approx(fresh.item(), rel=1e-5), mode
    with pytest.raises(ValueError, match="critic_batches"):
        LossConfig(critic_batches="once")


@pytest.mark.parametrize("phonetic_cmvn", [True, False])
def test_speaker_context_input_gives_the_speaker_vector_embed_gives_it(phonetic_cmvn):
    """forward(..., speaker_x=) reads v_s from the context window exactly as embed() reads it from that window
    (the speaker path alone is computed for it), and v_p still from the word."""
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL, frame_stack=2, phonetic_cmvn=phonetic_cmvn, input_norm="global")
    m = DisentangledAutoencoder(cfg).eval()
    m.set_input_stats(torch.full((5,), 1.0), torch.full((5,), 2.0))
    word, context = torch.randn(2, 6, 5), torch.randn(2, 13, 5)
    wl, cl = torch.tensor([6, 4]), torch.tensor([13, 9])
    out = m(word, wl, speaker_x=context, speaker_lengths=cl)
    assert torch.allclose(out["speaker"], m.embed(context, cl)["speaker"], atol=1e-6)
    assert torch.allclose(out["phonetic"], m.embed(word, wl)["phonetic"], atol=1e-6)
    assert out["reconstruction"].shape == word.shape
