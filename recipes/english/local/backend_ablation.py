"""Speaker back ends on dev speakers (model selection only): EER of raw, centred, WCCN and LDA-projected vectors.

    python recipes/english/local/backend_ablation.py MODEL --fit DIR [--fit DIR ...] --eval DIR [--eval DIR ...]
        [--extra-fit DIR ...] [--lda-dims 32,48,64]

Every --fit dir (training speakers: e.g. so762 train_whole and train_chunks3s of `speechdis prepare chunks`) is
embedded once (raw speaker vectors, `backend=False`); each back end is fitted on them (and, as a second set of
rows, on them plus the --extra-fit dirs) and every --eval dir is scored over all pairs of segments from different
utterances (cosine, EER in %). Prints one markdown table.
"""
from __future__ import annotations

import argparse

import numpy as np

import speechdis
from speechdis.eval.retrieval import cosine_normalise
from speechdis.eval.speaker import eer
from speechdis.inference.backend import fit_speaker_backend
from speechdis.inference.extract import extract


def _vectors(emb, dirs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = emb.roles["speaker"]
    vecs, spk, utts = [], [], []
    for d in dirs:
        res = extract(emb, [d])
        vecs.append(res.vectors[key].astype(np.float64))
        spk += res.speakers
        utts += res.utts
    return np.concatenate(vecs), np.asarray(spk), np.asarray(utts)


def _eer(x: np.ndarray, spk: np.ndarray, utts: np.ndarray) -> float:
    x = cosine_normalise(x)
    iu = np.triu_indices(len(x), 1)
    ok = utts[iu[0]] != utts[iu[1]]
    return 100 * eer((x @ x.T)[iu][ok], (spk[iu[0]] == spk[iu[1]])[ok])[0]


def _wccn(x: np.ndarray, spk: np.ndarray):
    """Within-class covariance normalisation after centring and length norm (Hatch 2006)."""
    mean = x.mean(0)
    y = x - mean
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    w = sum(np.cov(y[spk == s].T, bias=True) * (spk == s).sum() for s in np.unique(spk)) / len(spk)
    chol = np.linalg.cholesky(np.linalg.inv(w + 1e-3 * np.eye(w.shape[0])))

    def apply(v: np.ndarray) -> np.ndarray:
        z = v - mean
        return (z / np.linalg.norm(z, axis=1, keepdims=True)) @ chol
    return apply


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--fit", action="append", required=True)
    ap.add_argument("--extra-fit", action="append", default=[])
    ap.add_argument("--eval", action="append", required=True)
    ap.add_argument("--lda-dims", default="32,48,64")
    a = ap.parse_args()
    emb = speechdis.load_model(a.model, device="cpu", backend=False)
    fit = _vectors(emb, a.fit)
    evals = {d: _vectors(emb, [d]) for d in a.eval}
    systems = {"none (raw cosine)": lambda v: v, "global mean": lambda v: v - fit[0].mean(0),
               "mean + WCCN": _wccn(fit[0], fit[1])}
    fits = [("", fit)]
    if a.extra_fit:
        extra = _vectors(emb, a.extra_fit)
        fits.append((" (+ extra fit dirs)", tuple(np.concatenate([p, q]) for p, q in zip(fit, extra))))
    for tag, (x, spk, _) in fits:
        for k in (int(v) for v in a.lda_dims.split(",")):
            systems[f"mean + LDA {k}{tag}"] = fit_speaker_backend(x, spk, lda_dim=k).apply
    print("| back end | " + " | ".join(evals) + " |")
    print("|---|" + "---:|" * len(evals))
    for name, f in systems.items():
        print(f"| {name} | " + " | ".join(f"{_eer(f(v), s, u):.2f}" for v, s, u in evals.values()) + " |")


if __name__ == "__main__":
    main()
