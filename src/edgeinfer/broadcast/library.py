"""Synthetic AI libraries for sweeps (issue 5 (a)).

Structure (documented in docs/broadcast.md):

* ``K`` tasks, one task-specific model each (``M = K``; device ``k`` runs task ``k``,
  as in the paper's setup where requested tasks are distinct), each a chain of ``N`` blocks.
* Tasks belong to ``F`` families (e.g. natural images vs digits), drawn uniformly.
* A model's own blocks score ``I[k, n, k] ~ U(own_low, 1)`` for its task.
* Block ``n`` of model ``i`` scores for task ``k != i``:
  ``I[i, n, k] = I[k, n, k] * clip(r(n) + sigma * z, 0, 1)`` with a reuse profile
  ``r(n)`` decreasing linearly from bottom (generic features, ``n = 0``) to top
  (task-specific), ``r_same`` for tasks of the same family and ``r_cross`` across
  families: generic bottom blocks are the most reusable, as in muNet/ViT stitching.
* QoS ``c_k = qos_fraction * sum_n I[k, n, k]`` (a fraction of the dedicated model's score).
* Gains: Rayleigh fading with path loss: ``H_k = path_loss * Exp(1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.broadcast.problem import MBAInstance, make_instance
from edgeinfer.core.rng import SeedLike, make_rng

__all__ = ["synthetic_scores", "rayleigh_gains", "synthetic_instance"]


def synthetic_scores(
    rng: np.random.Generator, num_tasks: int, num_positions: int, *, num_families: int = 2,
    own_low: float = 0.9, r_same: tuple[float, float] = (0.95, 0.45), r_cross: tuple[float, float] = (0.7, 0.05),
    sigma: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``I[i, n, k]`` of shape ``(K, N, K)`` and the task families ``(K,)``."""
    K, N = num_tasks, num_positions
    fam = rng.integers(0, num_families, size=K)
    own = rng.uniform(own_low, 1.0, size=(K, N))  # own[k, n] = I[k, n, k]
    t = np.arange(N) / max(1, N - 1)
    same = r_same[0] + (r_same[1] - r_same[0]) * t
    cross = r_cross[0] + (r_cross[1] - r_cross[0]) * t
    I = np.empty((K, N, K))  # noqa: E741
    for i in range(K):
        for k in range(K):
            if i == k:
                I[i, :, k] = own[k]
                continue
            prof = same if fam[i] == fam[k] else cross
            f = np.clip(prof + sigma * rng.standard_normal(N), 0.0, 1.0)
            I[i, :, k] = own[k] * f
    return np.round(I, 6), fam


def rayleigh_gains(rng: np.random.Generator, num_devices: int, path_loss: float = 1e-3) -> np.ndarray:
    """``|h|^2`` of Rayleigh fading times the path loss: ``path_loss * Exp(1)``."""
    return path_loss * rng.exponential(1.0, size=num_devices)


def synthetic_instance(
    seed: SeedLike = None, *, num_devices: int = 21, num_positions: int = 24, num_families: int = 2,
    qos_fraction: float = 0.9, bandwidth_hz: float = 100e6, noise_w: float = 0.5e-9, energy_j: float = 250.0,
    block_bits: float = 5e6, path_loss: float = 1e-3, **score_kw: Any,
) -> MBAInstance:
    """The study's generator: paper defaults (B = 100 MHz, N0 = 0.5e-9 W, Q = 5 Mbit, E = 250 J)."""
    rng = make_rng(seed)
    I, _ = synthetic_scores(rng, num_devices, num_positions, num_families=num_families, **score_kw)  # noqa: E741
    own = np.arange(num_devices)
    qos = qos_fraction * I[own, :, own].sum(axis=1)
    gains = rayleigh_gains(rng, num_devices, path_loss)
    return make_instance(scores=I, gains=gains, qos=np.round(qos, 6), own_model=own, bandwidth_hz=bandwidth_hz,
                         noise_w=noise_w, energy_j=energy_j, block_bits=block_bits)
