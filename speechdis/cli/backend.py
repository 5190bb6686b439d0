"""`speechdis backend MODEL --data DIR... --out FILE`: fit the Kaldi-style speaker back end (centring, LDA, length
norm) on training speakers' data dirs and write a copy of the model that applies it to its speaker vectors.

Every word segment of each --data dir is embedded (raw speaker vectors); speakers come from its utt2spk, taken as
they are (dirs of one corpus pool their speakers; `prepare combine` keeps corpora apart). For speaker vectors of
sentences, give the training speakers' whole sentences and their 3 s chunks (`speechdis prepare chunks`). Only
training speakers: a back end fitted on the speakers you evaluate flatters their EER. `load_model(...,
backend=False)` still gives the raw vectors of the new file.
"""
from __future__ import annotations

import argparse

from speechdis.cli.argtypes import nonneg_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``backend`` command."""
    p = subparsers.add_parser("backend", help="fit a speaker back end (centring + LDA + length norm) on training "
                                              "speakers and store it in a copy of the model",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="experiment dir or model file (speech model with a speaker vector)")
    p.add_argument("--data", action="append", required=True, metavar="DIR",
                   help="data dir of training speakers (wav.scp or feats, utt2spk, word_segments); repeatable")
    p.add_argument("--out", required=True, help="the new model file (may be the input file itself)")
    p.add_argument("--lda-dim", type=nonneg_int, default=None,
                   help="LDA dimensions (default: min(vector dim, speakers - 1); 0: centring + length norm only)")
    p.add_argument("--workers", type=nonneg_int, default=0,
                   help="processes that read audio and compute features while this one embeds")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from speechdis.inference.backend import attach_speaker_backend, fit_backend_on_data
    from speechdis.inference.model import load_speech_model

    emb = load_speech_model(args.model, device="cpu", backend=False)
    report = fit_backend_on_data(emb, args.data, lda_dim=args.lda_dim, workers=args.workers)
    fitted_on = {"data": [d for d, _, _ in report.per_dir], "vectors": report.backend.n_vectors,
                 "speakers": report.backend.n_speakers}
    out = attach_speaker_backend(emb.path, report.backend, args.out, fitted_on=fitted_on)
    print(report.summary())
    print(f"-> {out}")
    return 0
