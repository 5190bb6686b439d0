"""Models that ship inside the package, loadable by name: ``speechdis.load_model("speechcommands")``.

Each is a self-describing ``model.pt`` (weights, architecture, feature front end) trained by
``recipes/speechcommands/run.sh`` or ``recipes/english/run.sh`` on real speech; the model cards are the README's
"Real speech" section and ``recipes/english/README.md``.
"""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

# name -> file in this folder, and a one-line description for listings and errors.
PRETRAINED: dict[str, tuple[str, str]] = {
    "speechcommands": ("speechcommands_disentangled.pt",
                       "phonetic + speaker vectors, trained on Speech Commands (118 speakers, real speech)"),
    "speechcommands-baseline": ("speechcommands_baseline.pt",
                                "plain seq2seq autoencoder on the same data (reference)"),
    "english": ("english.pt",
                "phonetic + speaker vectors for English words and sentences, trained on Speech Commands + FSDD "
                "+ aligned speechocean762 words (recipes/english)"),
}


def pretrained_path(name: str) -> Path | None:
    """The file of a packaged model, or None when ``name`` is not one (or its file is not installed)."""
    entry = PRETRAINED.get(name)
    if entry is None:
        return None
    path = _HERE / entry[0]
    return path if path.is_file() else None
