"""The CLI logs INFO from speechdis's own loggers only (faiss's loader lines and the like are gone)."""
from __future__ import annotations

import logging

from speechdis.cli import configure_logging


def test_info_only_from_speechdis_loggers():
    root, ours = logging.getLogger(), logging.getLogger("speechdis")
    saved = root.level, ours.level
    try:
        configure_logging(verbose=False)
        assert logging.getLogger("speechdis.eval.search").isEnabledFor(logging.INFO)
        assert not logging.getLogger("faiss.loader").isEnabledFor(logging.INFO)
        assert logging.getLogger("faiss.loader").isEnabledFor(logging.WARNING)
        configure_logging(verbose=True)
        assert logging.getLogger("faiss.loader").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
