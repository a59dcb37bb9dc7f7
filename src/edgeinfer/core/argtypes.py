"""argparse converters shared by the command line and the framework sub-commands (one line
each on a bad value, never a traceback; long input is cut before it is echoed)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["float_in", "int_in", "positive_float"]


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """A converter accepting an integer in ``[lo, hi]`` (at most 40 characters of text)."""

    def conv(text: str) -> int:
        try:
            v = int(text) if len(text) <= 40 else None
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {text[:40]!r}")
        return v

    return conv


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    """A converter accepting a finite number in ``[lo, hi]`` (NaN and infinities refused)."""

    def conv(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not (math.isfinite(v) and lo <= v <= hi):
            raise argparse.ArgumentTypeError(f"must be in [{lo:g}, {hi:g}], got {text[:40]}")
        return v

    return conv


def positive_float(text: str) -> float:
    """A positive finite number."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text[:40]}")
    return v
