"""The torch side of word segments: :class:`WordSegmentDataset` (crops of located segments, read lazily or
preloaded packed), :func:`collate_segments`, and :class:`PairBatchSampler` (speakers x segments batches for
same/different-speaker pairs). Segments are located by :mod:`speechdis.data.segments`.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from speechdis.errors import DataDirError

if TYPE_CHECKING:  # a type only: segments.py imports this module
    from speechdis.data.segments import FrameSegment

__all__ = ["WordSegmentDataset", "collate_segments", "PairBatchSampler", "STORAGE_DTYPES"]


def _concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])`` without a Python loop."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    first = np.cumsum(lengths) - lengths  # where each range begins in the output
    return np.repeat(np.asarray(starts, dtype=np.int64) - first, lengths) + np.arange(total, dtype=np.int64)


def _block_offsets(order: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """First packed row of each item when items are packed in ``order`` with ``lengths`` rows each."""
    lens = lengths[order]
    offsets = np.empty(len(order), dtype=np.int64)
    offsets[order] = np.cumsum(lens) - lens
    return offsets


def _gather_padded(packed: np.ndarray, offsets: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """(B, max len, D) float32 zero-padded batch of the packed rows ``offsets[b] : offsets[b] + lens[b]``."""
    rows = np.repeat(np.arange(len(lens)), lens)
    cols = _concat_ranges(np.zeros(len(lens), dtype=np.int64), lens)
    out = np.zeros((len(lens), int(lens.max()), packed.shape[1]), dtype=np.float32)
    out[rows, cols] = packed[_concat_ranges(offsets, lens)]
    return out


STORAGE_DTYPES = {"float32": np.float32, "float16": np.float16}


class WordSegmentDataset(torch.utils.data.Dataset):
    """Items are dicts: ``feats`` (T, D) float tensor, ``length``, ``speaker`` and ``word`` indices, ``index``.

    ``crop_frames`` cuts longer segments to their first frames (reference setting: 70). A small LRU cache of
    utterances makes consecutive segments of one utterance cheap; ``preload`` keeps every segment in memory,
    packed into one contiguous (total frames, D) array with per-segment offsets (each utterance read once;
    no per-segment arrays), in ``storage_dtype`` (``float16`` halves the memory; items are float32 either way,
    rounded to fp16 precision, a relative error below 5e-4).

    ``context_frames`` > 0 adds ``spk_feats``/``spk_length``: a window of up to that many frames of the
    segment's utterance, centred on the segment (clamped to the utterance), the input of the speaker encoder
    while training (``data.speaker_context``), so speaker vectors learn from utterance-length input as they
    are used on files, while the phonetic side keeps the word.

    Batches: ``dataset.__getitems__(indices)`` (which torch's DataLoader calls with a batch sampler) assembles
    a preloaded dataset's padded batch in a few vectorised numpy operations, no Python loop per segment;
    :func:`collate_segments` passes such a batch through, and gives the same tensors for a list of items.
    """

    def __init__(
        self,
        segments: Sequence[FrameSegment],
        reader: Mapping[str, np.ndarray] | Callable[[str], np.ndarray],
        crop_frames: int | None = 70,
        speaker_index: Mapping[str, int] | None = None,
        word_index: Mapping[str, int] | None = None,
        preload: bool = False,
        utt_cache_size: int = 8,
        storage_dtype: str = "float32",
        context_frames: int = 0,
    ) -> None:
        if not segments:
            raise DataDirError("no word segments to train on (all filtered out or word_segments empty)")
        if storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"storage_dtype must be one of {', '.join(STORAGE_DTYPES)}, not {storage_dtype!r}")
        self.segments = list(segments)
        self._read = getattr(reader, "__getitem__", reader)  # a mapping or a plain function
        self.crop_frames = crop_frames
        self.storage_dtype = storage_dtype
        self.speaker_index = dict(speaker_index) if speaker_index is not None else \
            {s: i for i, s in enumerate(sorted({x.speaker for x in self.segments}))}
        self.word_index = dict(word_index) if word_index is not None else \
            {w: i for i, w in enumerate(sorted({x.word for x in self.segments}))}
        self.speaker_ids = np.array([self.speaker_index.get(x.speaker, -1) for x in self.segments])
        self.word_ids = np.array([self.word_index.get(x.word, -1) for x in self.segments])
        starts = np.fromiter((x.start_frame for x in self.segments), dtype=np.int64, count=len(self.segments))
        ends = np.fromiter((x.end_frame for x in self.segments), dtype=np.int64, count=len(self.segments))
        self.lengths = ends - starts if crop_frames is None else np.minimum(ends - starts, crop_frames)
        if context_frames < 0:
            raise ValueError(f"context_frames must be ≥ 0, not {context_frames}")
        self.context_frames = context_frames
        self._starts, self._ends = starts, ends
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = utt_cache_size
        self._packed: np.ndarray | None = None  # (total frames, D) when preloaded
        self._offsets: np.ndarray | None = None  # first packed frame of each segment
        self._ctx_packed: np.ndarray | None = None  # the same for the speaker-context windows
        self._ctx_offsets: np.ndarray | None = None
        self.context_lengths: np.ndarray | None = None  # set when context_frames > 0 and preloaded
        if preload:
            self._pack()

    def _context_starts(self, idx: np.ndarray, n_frames: int) -> tuple[np.ndarray, int]:
        """First frames of the speaker-context windows of segments ``idx`` (one utterance of n_frames), and
        the windows' width: centred on each segment, clamped to the utterance."""
        width = min(self.context_frames, n_frames)
        centre = (self._starts[idx] + self._ends[idx]) // 2
        return np.clip(centre - width // 2, 0, n_frames - width), width

    def _pack(self) -> None:
        """Read each utterance once and copy its segments' (cropped) frames, and their context windows,
        into packed arrays (utterance by utterance)."""
        by_utt: dict[str, list[int]] = {}
        for i, seg in enumerate(self.segments):
            by_utt.setdefault(seg.utt, []).append(i)
        order = np.fromiter((i for idx in by_utt.values() for i in idx), dtype=np.int64, count=len(self.segments))
        dtype = STORAGE_DTYPES[self.storage_dtype]
        packed = None  # filled in place: no second copy of the features at any time
        pos = 0
        ctx_parts: list[np.ndarray] = []  # context windows: their lengths are known only once read
        ctx_starts = np.zeros(len(self.segments), dtype=np.int64)
        ctx_lens = np.zeros(len(self.segments), dtype=np.int64)
        for utt, idx in by_utt.items():
            mat = np.asarray(self._read(utt))
            if packed is None:
                packed = np.empty((int(self.lengths.sum()), mat.shape[1]), dtype=dtype)
            idx = np.asarray(idx)
            src = _concat_ranges(self._starts[idx], self.lengths[idx])
            packed[pos:pos + src.size] = mat[src]
            pos += src.size
            if self.context_frames > 0:
                ctx_starts[idx], ctx_lens[idx] = self._context_starts(idx, len(mat))
                ctx_parts.append(mat[_concat_ranges(ctx_starts[idx], ctx_lens[idx])].astype(dtype, copy=False))
        self._packed, self._offsets = packed, _block_offsets(order, self.lengths)
        if self.context_frames > 0:
            self._ctx_packed, self._ctx_offsets = np.concatenate(ctx_parts), _block_offsets(order, ctx_lens)
            self.context_lengths = ctx_lens

    @property
    def preloaded(self) -> bool:
        """Whether all segment features are held in memory (packed) rather than read per item."""
        return self._packed is not None

    @property
    def feature_bytes(self) -> int:
        """Bytes of the preloaded features (0 when read lazily)."""
        return 0 if self._packed is None else int(self._packed.nbytes)

    def __len__(self) -> int:
        return len(self.segments)

    def _utterance(self, utt: str) -> np.ndarray:
        if utt in self._cache:
            self._cache.move_to_end(utt)
            return self._cache[utt]
        mat = np.asarray(self._read(utt), dtype=np.float32)
        self._cache[utt] = mat
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return mat

    def _segment_array(self, i: int) -> np.ndarray:
        if self._packed is not None:
            o = self._offsets[i]
            return self._packed[o:o + self.lengths[i]].astype(np.float32)  # a copy: items never alias storage
        seg = self.segments[i]
        end = seg.end_frame if self.crop_frames is None else min(seg.end_frame, seg.start_frame + self.crop_frames)
        arr = np.ascontiguousarray(self._utterance(seg.utt)[seg.start_frame:end])
        # Readers may hand out read-only arrays (memory-mapped arks); torch warns on wrapping those.
        return arr if arr.flags.writeable else arr.copy()

    def feature_stats(self, max_segments: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the frames of (a seeded sample of at most ``max_segments``)
        segments: the statistics of global input normalisation."""
        n = len(self.segments)
        pick = np.random.default_rng(seed).choice(n, size=min(n, max_segments), replace=False)
        arrays = (self._segment_array(int(i)) for i in np.sort(pick))
        s1 = s2 = 0.0
        count = 0
        for arr in arrays:
            arr = arr.astype(np.float64)
            s1, s2, count = s1 + arr.sum(0), s2 + (arr ** 2).sum(0), count + len(arr)
        mean = s1 / count
        return mean.astype(np.float32), np.sqrt(np.maximum(s2 / count - mean ** 2, 1e-10)).astype(np.float32)

    def _context_array(self, i: int) -> np.ndarray:
        if self._ctx_packed is not None:
            o = self._ctx_offsets[i]
            return self._ctx_packed[o:o + self.context_lengths[i]].astype(np.float32)
        mat = self._utterance(self.segments[i].utt)
        starts, width = self._context_starts(np.array([i]), len(mat))
        return np.array(mat[int(starts[0]):int(starts[0]) + width], dtype=np.float32)

    def __getitem__(self, i: int) -> dict:
        arr = self._segment_array(i)
        seg = self.segments[i]
        item = {
            "feats": torch.from_numpy(arr),
            "length": arr.shape[0],
            "speaker": self.speaker_index.get(seg.speaker, -1),
            "word": self.word_index.get(seg.word, -1),
            "index": i,
        }
        if self.context_frames > 0:
            ctx = self._context_array(i)
            item["spk_feats"], item["spk_length"] = torch.from_numpy(ctx), ctx.shape[0]
        return item

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor] | list[dict]:
        """The batch of ``indices``: collated tensors when preloaded (vectorised), else a list of items."""
        if self._packed is None:
            return [self[int(i)] for i in indices]
        idx = np.asarray(indices, dtype=np.int64)
        lens = self.lengths[idx]
        batch = {
            "feats": torch.from_numpy(_gather_padded(self._packed, self._offsets[idx], lens)),
            "lengths": torch.from_numpy(lens.copy()),
            "speaker": torch.from_numpy(self.speaker_ids[idx].astype(np.int64)),
            "word": torch.from_numpy(self.word_ids[idx].astype(np.int64)),
            "index": torch.from_numpy(idx.copy()),
        }
        if self._ctx_packed is not None:
            ctx_lens = self.context_lengths[idx]
            batch["spk_feats"] = torch.from_numpy(_gather_padded(self._ctx_packed, self._ctx_offsets[idx], ctx_lens))
            batch["spk_lengths"] = torch.from_numpy(ctx_lens.copy())
        return batch


def collate_segments(items: Sequence[dict] | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Pads a list of items to the longest; ``lengths`` lets the RNNs pack and the loss mask.

    A batch already collated (by :meth:`WordSegmentDataset.__getitems__`) is returned as it is.
    """
    if isinstance(items, dict):
        return items
    batch = {
        "speaker": torch.tensor([it["speaker"] for it in items], dtype=torch.long),
        "word": torch.tensor([it["word"] for it in items], dtype=torch.long),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
    }
    batch["feats"], batch["lengths"] = _pad([it["feats"] for it in items])
    if "spk_feats" in items[0]:
        batch["spk_feats"], batch["spk_lengths"] = _pad([it["spk_feats"] for it in items])
    return batch


def _pad(arrays: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(a) for a in arrays], dtype=torch.long)
    out = torch.zeros(len(arrays), int(lengths.max()), arrays[0].shape[1])
    for k, a in enumerate(arrays):
        out[k, : len(a)] = a
    return out, lengths


class PairBatchSampler(torch.utils.data.Sampler):
    """Infinite batches of ``speakers_per_batch`` speakers × ``segments_per_speaker`` segments.

    Every batch therefore holds same-speaker pairs (within a speaker) and different-speaker pairs (across),
    and the loss draws them in the configured balance. ``word_pairs`` (``data.word_pairs``, with ``word_ids``)
    fills that fraction of each speaker's segments with same-word pairs across two speakers of the batch, the
    correspondence autoencoder's training pairs: with random segments, a corpus of many word types
    (sentences) rarely has two speakers' tokens of one word in a batch (~9% of speechocean762 tokens).

    Batch k is a pure function of (seed, k, rank), so a resumed run continues with exactly the batches an
    uninterrupted one would see (``start`` = batches already consumed), whatever the DataLoader prefetches.
    """

    def __init__(self, speaker_ids: Sequence[int], speakers_per_batch: int, segments_per_speaker: int,
                 seed: int = 0, start: int = 0, rank: int = 0, word_ids: Sequence[int] | None = None,
                 word_pairs: float = 0.0) -> None:
        if speakers_per_batch < 2:
            raise ValueError("speakers_per_batch must be ≥ 2 to form different-speaker pairs")
        if segments_per_speaker < 2:
            raise ValueError("segments_per_speaker must be ≥ 2 to form same-speaker pairs")
        # Each speaker's segment indices in ascending order, grouped by one stable sort (no loop per segment).
        ids = np.asarray(speaker_ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        spks, first, counts = np.unique(ids[order], return_index=True, return_counts=True)
        self.by_speaker = {int(s): order[f:f + c] for s, f, c in zip(spks.tolist(), first.tolist(), counts.tolist())
                           if c >= 2}
        if len(self.by_speaker) < 2:
            raise DataDirError(f"need ≥ 2 speakers with ≥ 2 segments each, found {len(self.by_speaker)}")
        self.speakers = np.array(sorted(self.by_speaker))
        self.k = min(speakers_per_batch, len(self.speakers))
        self.m = segments_per_speaker
        self.seed, self.start, self.rank = seed, start, rank
        if not 0.0 <= word_pairs <= 1.0:
            raise ValueError(f"word_pairs must be in [0, 1], not {word_pairs}")
        # Pair rounds: each gives every chosen speaker two slots (one pair with the speaker `offset` places on).
        self.rounds = int(self.m * word_pairs) // 2 if self.k > 1 else 0
        self._words: dict[int, np.ndarray] = {}  # speaker -> sorted word ids it has (≥ 0)
        self._tokens: dict[tuple[int, int], np.ndarray] = {}  # (speaker, word) -> its segments of that word
        if self.rounds:
            if word_ids is None or len(word_ids) != len(ids):
                raise ValueError("word_pairs needs one word id per segment")
            self._index_words(ids, np.asarray(word_ids, dtype=np.int64))

    def _index_words(self, ids: np.ndarray, words: np.ndarray) -> None:
        """Group segment indices by (speaker, word) with one sort (no loop per segment)."""
        keep = np.flatnonzero((words >= 0) & np.isin(ids, self.speakers))
        order = keep[np.lexsort((words[keep], ids[keep]))]
        pairs = np.stack([ids[order], words[order]], axis=1)
        (firsts,) = np.nonzero(np.r_[True, np.any(pairs[1:] != pairs[:-1], axis=1)])
        bounds = np.r_[firsts, len(order)]
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            self._tokens[(int(pairs[a, 0]), int(pairs[a, 1]))] = order[a:b]
        spk, word = pairs[firsts, 0], pairs[firsts, 1]  # sorted by speaker, then word
        self._words = {int(s): word[spk == s] for s in np.unique(spk)}

    def batch(self, k: int) -> list[int]:
        """Indices of batch `k`: a pure function of (seed, k, rank), which makes resume exact."""
        rng = np.random.default_rng([self.seed, k, self.rank])
        chosen = rng.choice(self.speakers, size=self.k, replace=False)
        paired = self._word_pairs(chosen, rng) if self.rounds else [[] for _ in chosen]
        out: list[int] = []
        for s, picked in zip(chosen, paired):
            pool = self.by_speaker[int(s)]
            n = self.m - len(picked)
            out.extend(picked + rng.choice(pool, size=n, replace=len(pool) < n).tolist())
        return out

    def _word_pairs(self, chosen: np.ndarray, rng: np.random.Generator) -> list[list[int]]:
        """For each chosen speaker, 2 × rounds segments that form same-word pairs with other chosen speakers:
        round d pairs speaker i with speaker i + d (mod k) on a word type both have, drawn uniformly over the
        shared types (so rare content words count as much as "the"); a pair without a shared word gets one
        random segment of each speaker instead."""
        k = len(chosen)
        picked: list[list[int]] = [[] for _ in range(k)]
        empty = np.empty(0, dtype=np.int64)
        for d in range(self.rounds):
            offset = 1 + d % (k - 1)
            for i in range(k):
                a, b = int(chosen[i]), int(chosen[(i + offset) % k])
                shared = np.intersect1d(self._words.get(a, empty), self._words.get(b, empty), assume_unique=True)
                if len(shared):
                    w = int(shared[rng.integers(len(shared))])
                    pa, pb = self._tokens[(a, w)], self._tokens[(b, w)]
                else:
                    pa, pb = self.by_speaker[a], self.by_speaker[b]
                picked[i].append(int(pa[rng.integers(len(pa))]))
                picked[(i + offset) % k].append(int(pb[rng.integers(len(pb))]))
        return picked

    def __iter__(self) -> Iterator[list[int]]:
        k = self.start
        while True:
            yield self.batch(k)
            k += 1

    def __len__(self) -> int:  # infinite; DataLoader only needs it for len(loader)
        return 2**62
