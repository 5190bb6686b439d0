"""Range-checked argparse types: every numeric option of every command uses one of these.

A value out of range is refused while parsing, in one line naming the option (``argument --batch-size:
must be an integer >= 1, got '-5'``), before any work starts; ``nan``/``inf`` are never accepted.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low`` (and ``<= high`` when given)."""
    what = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = f"int>={low}"
    return parse


def float_between(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                  high_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite float within the bounds (open or closed at each end)."""
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    what = "a finite number" + (" " + " and ".join(parts) if parts else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_at_least(1)
nonneg_int = int_at_least(0)
# Seeds: numpy's generators refuse negative seeds and torch's take at most 64 bits.
seed_int = int_at_least(0, 2**32 - 1)
positive_float = float_between(0.0, low_open=True)
nonneg_float = float_between(0.0)
finite_float = float_between()
fraction = float_between(0.0, 1.0, low_open=True, high_open=True)  # strictly between 0 and 1
percent = float_between(0.0, 100.0, high_open=True)
