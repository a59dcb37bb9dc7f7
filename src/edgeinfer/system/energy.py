"""Energy and queueing models."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["dynamic_energy_j", "transmit_energy_j", "md1_sojourn_time_s", "md1_is_stable", "VirtualQueue"]


def dynamic_energy_j(kappa: ArrayLike, freq_hz: ArrayLike, cycles: ArrayLike) -> np.ndarray:
    """CMOS dynamic energy ``kappa f^2 C`` for C cycles at frequency f (LyMDO eq. 5, ECC eq. 14).

    The same form serves FLOP-based models: ``kappa`` in J/(FLOP/s)^2/FLOP, f in FLOP/s,
    C in FLOPs.
    """
    return np.asarray(kappa, dtype=float) * np.asarray(freq_hz, dtype=float) ** 2 * np.asarray(cycles, dtype=float)


def transmit_energy_j(power_w: ArrayLike, duration_s: ArrayLike) -> np.ndarray:
    """Radio energy ``p t``."""
    return np.asarray(power_w, dtype=float) * np.asarray(duration_s, dtype=float)


def md1_is_stable(arrival_rate: ArrayLike, service_rate: ArrayLike) -> np.ndarray:
    """M/D/1 stability: lambda < mu (LyMDO constraint C7)."""
    return np.asarray(arrival_rate, dtype=float) < np.asarray(service_rate, dtype=float)


def md1_sojourn_time_s(arrival_rate: ArrayLike, service_rate: ArrayLike) -> np.ndarray:
    """Mean M/D/1 sojourn time ``1/mu + lambda / (2 mu^2 (1 - lambda/mu))`` (LyMDO eq. 2).

    Service plus Pollaczek-Khinchine waiting time for deterministic service 1/mu.
    Returns ``inf`` where the queue is unstable (lambda >= mu).
    """
    lam = np.asarray(arrival_rate, dtype=float)
    mu = np.asarray(service_rate, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = 1.0 / mu + lam / (2.0 * mu**2 * (1.0 - lam / mu))
    return np.where(lam < mu, t, np.inf)[()]


class VirtualQueue:
    """Lyapunov virtual queue ``Q(t+1) = max(Q(t) + x(t) - budget, 0)`` (LyMDO eqs. 8-9)."""

    def __init__(self, budget: float, initial: float = 0.0) -> None:
        if budget < 0 or initial < 0:
            raise ValueError("budget and initial backlog must be non-negative")
        self.budget = float(budget)
        self.backlog = float(initial)

    def update(self, usage: float) -> float:
        self.backlog = max(self.backlog + float(usage) - self.budget, 0.0)
        return self.backlog
