"""Random-number helpers. Nothing in edgeinfer touches NumPy's global RNG.

Every random component takes an explicit :class:`numpy.random.Generator`;
Monte Carlo streams come from :meth:`numpy.random.SeedSequence.spawn`, so the
results of a sweep do not depend on how its tasks are scheduled.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SeedLike", "make_rng", "spawn", "spawn_seeds"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def make_rng(seed: SeedLike = None) -> np.random.Generator:
    """Return a Generator from an int, a SeedSequence, a Generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or (seed is not None and not isinstance(seed, int | np.integer | np.random.SeedSequence)):
        raise TypeError(f"seed must be an int, SeedSequence, Generator or None, not {type(seed).__name__}")
    if isinstance(seed, int | np.integer) and seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng(seed)


def spawn_seeds(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child SeedSequences of ``seed``."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.spawn(n)


def spawn(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.Generator]:
    """``n`` independent Generators derived from ``seed``."""
    return [np.random.default_rng(s) for s in spawn_seeds(seed, n)]
