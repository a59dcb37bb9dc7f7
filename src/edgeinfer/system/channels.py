"""Large-scale path loss, user drops and small-scale fading.

All gains are linear POWER gains (|h|^2), distances in metres, frequencies in Hz.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from edgeinfer.core.units import SPEED_OF_LIGHT_M_PER_S, db_to_linear

__all__ = [
    "log_distance_gain",
    "free_space_gain",
    "drop_uniform_disk",
    "drop_around_aps",
    "nearest_ap",
    "pairwise_distances",
    "rayleigh_power",
    "rician_power",
]


def log_distance_gain(
    distance_m: ArrayLike, exponent: float, *, ref_gain: float = 1.0, ref_distance_m: float = 1.0
) -> np.ndarray:
    """Log-distance path gain ``ref_gain * (d / d0)^-alpha``.

    With the defaults this is the papers' ``d^-alpha`` (PartialLoading §VII, ECC §VI).
    """
    d = np.asarray(distance_m, dtype=float)
    if np.any(d <= 0):
        raise ValueError("distance_m must be positive")
    return ref_gain * np.power(d / ref_distance_m, -float(exponent))


def free_space_gain(
    distance_m: ArrayLike,
    carrier_hz: float,
    *,
    tx_antenna_gain_dbi: float = 0.0,
    rx_antenna_gain_dbi: float = 0.0,
    exponent: float = 2.0,
) -> np.ndarray:
    """Free-space (Friis) gain ``G_t G_r (c / (4 pi f d))^alpha``, alpha = 2 in free space.

    LyMDO §V-A writes the path loss as ``A_d (3e8 / (4 pi f_c d_n))^{d_e}``; ``A_d`` is
    the product of the antenna gains and ``d_e`` the exponent (2.8 there).
    """
    d = np.asarray(distance_m, dtype=float)
    if np.any(d <= 0):
        raise ValueError("distance_m must be positive")
    g = db_to_linear(tx_antenna_gain_dbi + rx_antenna_gain_dbi)
    return g * np.power(SPEED_OF_LIGHT_M_PER_S / (4.0 * np.pi * carrier_hz * d), exponent)


def drop_uniform_disk(
    rng: np.random.Generator, n: int, radius_m: float, *, min_distance_m: float = 1.0,
    center: ArrayLike = (0.0, 0.0),
) -> np.ndarray:
    """``n`` points uniform in the annulus ``min_distance_m <= r <= radius_m``; shape (n, 2)."""
    if not 0 <= min_distance_m < radius_m:
        raise ValueError("need 0 <= min_distance_m < radius_m")
    u = rng.random(n)
    r = np.sqrt(min_distance_m**2 + u * (radius_m**2 - min_distance_m**2))
    theta = rng.uniform(0.0, 2.0 * np.pi, n)
    return np.asarray(center, dtype=float) + np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def drop_around_aps(
    rng: np.random.Generator, ap_positions: ArrayLike, n_per_ap: int | ArrayLike, radius_m: float,
    *, min_distance_m: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Drop users uniformly in a disk around each AP. Returns (positions (U,2), home AP index (U,))."""
    aps = np.atleast_2d(np.asarray(ap_positions, dtype=float))
    counts = np.broadcast_to(np.asarray(n_per_ap, dtype=int), (len(aps),))
    pos, home = [], []
    for a, (c, k) in enumerate(zip(aps, counts, strict=True)):
        pos.append(drop_uniform_disk(rng, int(k), radius_m, min_distance_m=min_distance_m, center=c))
        home.append(np.full(int(k), a))
    return np.concatenate(pos) if pos else np.zeros((0, 2)), np.concatenate(home) if home else np.zeros(0, int)


def pairwise_distances(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Euclidean distances between rows of ``a`` (n,2) and ``b`` (m,2); shape (n, m)."""
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    return np.sqrt(((a2[:, None, :] - b2[None, :, :]) ** 2).sum(-1))


def nearest_ap(user_positions: ArrayLike, ap_positions: ArrayLike) -> np.ndarray:
    """Index of the nearest AP of each user (ECC: each device associates with its nearest AP)."""
    return np.argmin(pairwise_distances(user_positions, ap_positions), axis=1)


def rayleigh_power(rng: np.random.Generator, size: int | tuple[int, ...] | None = None, *, mean: float = 1.0) -> np.ndarray:
    """Rayleigh fading power gain |h|^2 ~ Exp(mean)."""
    return rng.exponential(mean, size)


def rician_power(
    rng: np.random.Generator, k_factor: float, size: int | tuple[int, ...] | None = None, *, mean: float = 1.0
) -> np.ndarray:
    """Rician fading power gain with K-factor ``k_factor`` (linear) and E|h|^2 = ``mean``."""
    if k_factor < 0:
        raise ValueError("k_factor must be non-negative")
    los = np.sqrt(k_factor / (k_factor + 1.0))
    sigma = np.sqrt(1.0 / (2.0 * (k_factor + 1.0)))
    re = los + sigma * rng.standard_normal(size)
    im = sigma * rng.standard_normal(size)
    return mean * (re**2 + im**2)
