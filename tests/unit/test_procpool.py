"""Worker pools report a dead worker (never hang): speechdis.procpool, used by features and extract."""
from __future__ import annotations

import os

import pytest

from speechdis.errors import WorkerError
from speechdis.procpool import ordered_map

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork start method")


def _square_or_die(i: int) -> int:
    if i == 3:
        os._exit(9)  # what the OOM killer does to a worker, as far as the parent can tell
    return i * i


def _square_or_raise(i: int) -> int:
    if i == 2:
        raise ValueError(f"bad item {i}")
    return i * i


def test_results_come_in_order():
    assert list(ordered_map(_square_or_die, 3, 2, ahead=2)) == [0, 1, 4]


def test_a_killed_worker_is_an_error_naming_the_item_not_a_hang():
    got = []
    with pytest.raises(WorkerError, match=r"died .* while handling item-3"):
        for r in ordered_map(_square_or_die, 8, 1, name=lambda i: f"item-{i}"):
            got.append(r)
    assert got == [0, 1, 4]  # everything before the dead item was delivered


def test_an_exception_in_a_worker_propagates():
    with pytest.raises(ValueError, match="bad item 2"):
        list(ordered_map(_square_or_raise, 5, 2))
