"""Phone sequences of word labels for the phone-sequence (CTC) objective of the phonetic encoder.

Pronunciations come from CMUdict (the copy the ``pocketsphinx`` wheel ships, ``speechdis[align]``) merged
with an optional user lexicon (``WORD PH1 PH2 ...``, user entries win); the first pronunciation of each word
is used. CTC needs no timings, so one-word corpora without alignments (Speech Commands, FSDD) get phone
targets too. Words without a pronunciation get no CTC term (counted, see :class:`PhoneTable`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Mapping

import torch

from speechdis.data.align import normalize_word, read_lexicon
from speechdis.errors import ConfigError

__all__ = ["ARPABET", "PhoneTable", "load_pronunciations", "phone_table"]

log = logging.getLogger(__name__)

# The 39 CMUdict phones (stress dropped); index 0 of the CTC head is the blank, phone k is class k + 1.
ARPABET = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
           "ZH").split()
_DIGITS = {str(i): w for i, w in enumerate("zero one two three four five six seven eight nine".split())}


def load_pronunciations(lexicon: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """{normalised word: phones}: CMUdict (when pocketsphinx is installed) updated by ``lexicon``."""
    prons: dict[str, list[list[str]]] = {}
    try:
        from pocketsphinx import get_model_path
    except ImportError:
        get_model_path = None
    if get_model_path is not None:
        prons.update(read_lexicon(os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")))
    if lexicon:
        prons.update(read_lexicon(lexicon))
    if not prons:
        raise ConfigError("loss.ctc_weight > 0 needs pronunciations: install speechdis[align] (CMUdict) "
                          "or set loss.ctc_lexicon to a 'WORD PH1 PH2 ...' file")
    return {w: p[0] for w, p in prons.items()}


@dataclass
class PhoneTable:
    """Padded phone targets per word index: ``targets`` (n_words, max_len) of classes 1..39 (0 = padding),
    ``lengths`` (n_words,), 0 for words without a pronunciation; ``missing`` lists those words."""

    targets: torch.Tensor
    lengths: torch.Tensor
    missing: list[str]


def _lookup(word: str, prons: Mapping[str, list[str]]) -> list[str] | None:
    w = normalize_word(word)
    w = _DIGITS.get(w, w)  # FSDD labels are digits
    return prons.get(w) if w else None


def phone_table(word_index: Mapping[str, int], prons: Mapping[str, list[str]]) -> PhoneTable:
    """Phone targets of every word of ``word_index`` (its index order)."""
    classes = {p: k + 1 for k, p in enumerate(ARPABET)}
    seqs: list[list[int]] = [[] for _ in range(len(word_index))]
    missing = []
    for word, i in word_index.items():
        phones = _lookup(word, prons)
        known = [classes[p] for p in phones or [] if p in classes]
        if not phones or len(known) != len(phones):
            missing.append(word)
            continue
        seqs[i] = known
    width = max([len(s) for s in seqs] + [1])
    targets = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        targets[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    if missing:
        log.warning("CTC: %d of %d words have no pronunciation and get no phone loss (e.g. %s)",
                    len(missing), len(seqs), ", ".join(sorted(missing)[:5]))
    return PhoneTable(targets, torch.tensor([len(s) for s in seqs], dtype=torch.long), missing)


