"""The shared argparse converters: one ArgumentTypeError line for every bad value."""

from __future__ import annotations

import argparse

import pytest

from edgeinfer.core.argtypes import float_in, int_in, positive_float


@pytest.mark.parametrize("text", ["", "abc", "nan", "inf", "-inf", "-0.1", "0.91", "1e999", "9" * 5000])
def test_float_in_refuses_with_one_line(text):
    with pytest.raises(argparse.ArgumentTypeError) as e:
        float_in(0.0, 0.9)(text)
    assert "\n" not in str(e.value) and len(str(e.value)) < 120


def test_float_in_accepts_the_closed_range():
    conv = float_in(0.0, 0.9)
    assert conv("0") == 0.0 and conv("0.9") == 0.9 and conv(" 0.25 ") == 0.25


@pytest.mark.parametrize("text", ["", "1.5", "-1", "11", "9" * 41, "nan"])
def test_int_in_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        int_in(0, 10)(text)


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "x"])
def test_positive_float_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        positive_float(text)
