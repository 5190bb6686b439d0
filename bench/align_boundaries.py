"""Boundary error of `speechdis align` against exact word timings (the synthetic corpus's own alignments).

    python bench/align_boundaries.py ALIGNED_DATA_DIR data/synthetic_librispeech/test-clean-mini

Prints the median / 90th / 95th percentile of |aligned - true| (ms) of word starts and ends, and the share
within 20 / 50 ms, over the aligned words (not run in CI).
"""
import sys

import numpy as np

from speechdis.data.alignments import alignments_to_word_segments, load_alignments
from speechdis.data.datadir import DataDir

d = DataDir.load(sys.argv[1])
truth, _ = alignments_to_word_segments(load_alignments(sys.argv[2]).words)
ref = {s.seg_id: s for s in truth}
err = {"start": [], "end": []}
for s in d.word_segments:
    t = ref[s.seg_id]
    err["start"].append(abs(s.start - t.start) * 1000)
    err["end"].append(abs(s.end - t.end) * 1000)
print(f"{len(d.word_segments)} aligned words of {len({s.utt for s in d.word_segments})} utterances")
for k, v in err.items():
    v = np.array(v)
    print(f"word {k}s: median {np.median(v):.0f} ms, p90 {np.percentile(v, 90):.0f} ms, "
          f"p95 {np.percentile(v, 95):.0f} ms, within 20 ms {np.mean(v <= 20):.0%}, "
          f"within 50 ms {np.mean(v <= 50):.0%}")
