"""Unit helpers. SI units everywhere inside edgeinfer; decibels only at the edges."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "SPEED_OF_LIGHT_M_PER_S",
    "db_to_linear",
    "linear_to_db",
    "dbm_to_w",
    "w_to_dbm",
    "dbm_per_hz_to_w_per_hz",
    "MHZ",
    "GHZ",
    "MBIT",
]

SPEED_OF_LIGHT_M_PER_S = 299_792_458.0
MHZ = 1e6
GHZ = 1e9
MBIT = 1e6


def db_to_linear(db: ArrayLike) -> np.ndarray | float:
    """10^(dB/10)."""
    return np.power(10.0, np.asarray(db, dtype=float) / 10.0)[()]


def linear_to_db(x: ArrayLike) -> np.ndarray | float:
    """10 log10(x)."""
    return (10.0 * np.log10(np.asarray(x, dtype=float)))[()]


def dbm_to_w(dbm: ArrayLike) -> np.ndarray | float:
    """Power in dBm to watts: 10^((dBm-30)/10)."""
    return np.power(10.0, (np.asarray(dbm, dtype=float) - 30.0) / 10.0)[()]


def w_to_dbm(w: ArrayLike) -> np.ndarray | float:
    """Watts to dBm."""
    return (10.0 * np.log10(np.asarray(w, dtype=float)) + 30.0)[()]


def dbm_per_hz_to_w_per_hz(dbm_hz: ArrayLike) -> np.ndarray | float:
    """Noise spectral density in dBm/Hz to W/Hz (-174 dBm/Hz -> 3.98e-21 W/Hz)."""
    return dbm_to_w(dbm_hz)
